"""The HTTP contract BentoML does not state by itself: JSON-only bodies and every error response.

BentoML generates the service's OpenAPI document (`/docs.json`) from the API signatures, but
its error responses are fixed: it declares a 400 whose `detail` is a string while it sends
pydantic's list of errors, and it knows nothing of the statuses added around it (413 from
`BodySizeLimit`, 415 from `JsonOnly`) or of its own traffic control (429 when the concurrency
limit is reached, 503 when adaptive batching sheds load, 504 on timeout, 503 from `/readyz`).
It also leaves request bodies optional, though an API whose input has required fields refuses
a request without a body. `OpenAPIErrors` amends the document as it is served so clients and
contract tests see what the service really answers.

`JsonOnly` refuses request bodies declared as anything but JSON with 415. BentoML would parse
`multipart/form-data` and form-encoded bodies as forms, which a JSON API has no use for, and a
form body it cannot parse became a 500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DOCS_PATH = "/docs.json"
_REF = "#/components/schemas/{}"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

SCHEMAS: dict[str, dict[str, Any]] = {
    "ValidationErrorItem": {
        "type": "object",
        "title": "ValidationErrorItem",
        "description": "One validation problem: where (`loc`), what (`type`) and why (`msg`).",
        "required": ["type", "loc", "msg"],
        "properties": {
            "type": {"type": "string", "title": "Error Type"},
            "loc": {
                "type": "array",
                "title": "Location",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"type": "string", "title": "Message"},
            "url": {"type": "string", "title": "Documentation"},
        },
    },
    "RequestRefused": {
        "type": "object",
        "title": "RequestRefused",
        "description": "The request was refused before validation; `field` names what was wrong.",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "title": "Message"},
            "field": {"type": "string", "title": "Field"},
        },
    },
    "ServiceBusy": {
        "type": "object",
        "title": "ServiceBusy",
        "description": "The server is overloaded or too slow; retry later.",
        "required": ["error"],
        "properties": {"error": {"type": "string", "title": "Message"}},
    },
}

# The `detail` of BentoML's 400 (`InvalidArgument`): pydantic's errors, as it sends them.
VALIDATION_DETAIL: dict[str, Any] = {
    "type": "array",
    "title": "Error Detail",
    "items": {"$ref": _REF.format("ValidationErrorItem")},
}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(schema)}}},
    }


API_RESPONSES: dict[str, dict[str, Any]] = {
    "413": _json_response("Request body too large", "RequestRefused"),
    "415": _json_response("Request body is not JSON", "RequestRefused"),
    "429": _json_response("Too many concurrent requests", "ServiceBusy"),
    "503": _json_response("Overloaded: adaptive batching shed the request", "ServiceBusy"),
    "504": _json_response("Not answered within the request timeout", "ServiceBusy"),
}
PROBE_RESPONSES: dict[str, dict[str, dict[str, Any]]] = {
    "/livez": {"503": {"description": "Not alive", "content": {"text/plain": {}}}},
    "/readyz": {
        "503": {
            "description": "Not ready: the model is loading or the online store is unreachable",
            "content": {"text/plain": {}},
        }
    },
}


def amend_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the error responses the service really sends (changes `document` in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(SCHEMAS)
    invalid = schemas.get("InvalidArgument")
    if isinstance(invalid, dict):
        invalid.setdefault("properties", {})["detail"] = VALIDATION_DETAIL
    for path, item in document.get("paths", {}).items():
        post = item.get("post")
        if isinstance(post, dict) and "x-bentoml-name" in post:
            responses = post.setdefault("responses", {})
            for status, response in API_RESPONSES.items():
                responses.setdefault(status, response)
            _require_body_with_required_fields(post)
        probe = item.get("get")
        if isinstance(probe, dict):
            for status, response in PROBE_RESPONSES.get(path, {}).items():
                probe.setdefault("responses", {}).setdefault(status, response)
    return document


def _require_body_with_required_fields(operation: dict[str, Any]) -> None:
    """BentoML reads a missing body as `{}`, so a body with required fields is itself required
    (OpenAPI's default is an optional body)."""
    body = operation.get("requestBody")
    if not isinstance(body, dict):
        return
    schemas = [media.get("schema", {}) for media in body.get("content", {}).values()]
    if any(isinstance(schema, dict) and schema.get("required") for schema in schemas):
        body["required"] = True


class OpenAPIErrors:
    """Serves BentoML's OpenAPI document with `amend_openapi` applied."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != DOCS_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send_amended(start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, capture)

    async def _send_amended(self, start: Message | None, body: bytes, send: Send) -> None:
        assert start is not None, "the response body came before its start"
        if start["status"] == 200:
            body = json.dumps(amend_openapi(json.loads(body))).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonOnly:
    """Refuses request bodies whose declared `Content-Type` is not JSON with 415.

    A request without `Content-Type` is read as JSON, as BentoML does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            declared = dict(scope.get("headers", [])).get(b"content-type")
            if declared is not None and not is_json(declared.decode("latin-1")):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send) -> None:
    body = json.dumps(
        {"error": "request bodies must be JSON (Content-Type: application/json)",
         "field": "content-type"}
    ).encode()  # fmt: skip
    await send(
        {
            "type": "http.response.start",
            "status": 415,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
