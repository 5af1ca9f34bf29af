"""The part of kubectl's JSONPath templates the cluster scripts use: fields, [N], [*],
[?(@.a=="b")] filters, {range ...}{end} and quoted literals such as {"\\n"}. Missing keys print
nothing, as with `kubectl get -o jsonpath` (which allows missing keys); maps and lists print as
JSON."""

from __future__ import annotations

import json
import re
from typing import Any

STEP = re.compile(
    r"\.([A-Za-z0-9_-]+)|\[(\*|-?\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)


def _path(node: Any, path: str) -> list[Any]:
    path = path.strip()
    if path in ("", ".", "@"):
        return [node]
    values = [node]
    for name, index, filter_key, filter_value in STEP.findall(path.lstrip("@")):
        found: list[Any] = []
        for value in values:
            if name:
                if isinstance(value, dict) and name in value:
                    found.append(value[name])
            elif index == "*":
                found.extend(
                    value
                    if isinstance(value, list)
                    else (value.values() if isinstance(value, dict) else [])
                )
            elif index:
                if isinstance(value, list) and -len(value) <= int(index) < len(value):
                    found.append(value[int(index)])
            elif isinstance(value, list):
                found.extend(
                    v
                    for v in value
                    if [str(x) for x in _path(v, "." + filter_key)] == [filter_value]
                )
        values = found
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _tokens(template: str) -> list[str]:
    """Literal text and {expressions}, in order."""
    return [t for t in re.split(r"(\{[^{}]*\})", template) if t]


def _render(tokens: list[str], node: Any) -> tuple[str, int]:
    out, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        if not (token.startswith("{") and token.endswith("}")):
            out.append(token)
            i += 1
            continue
        expr = token[1:-1].strip()
        if expr == "end":
            return "".join(out), i
        if expr.startswith("range "):
            items = _path(node, expr[6:])
            if len(items) == 1 and isinstance(items[0], list) and not expr.endswith("[*]"):
                items = items[0]
            body_end = i + 1
            for item in items:
                text, used = _render(tokens[i + 1 :], item)
                out.append(text)
                body_end = i + 1 + used
            if not items:  # find the matching {end} without rendering
                _, used = _render(tokens[i + 1 :], None)
                body_end = i + 1 + used
            i = body_end + 1
            continue
        if expr.startswith('"') and expr.endswith('"'):
            out.append(json.loads(expr))
        else:
            out.append(" ".join(_text(v) for v in _path(node, expr)))
        i += 1
    return "".join(out), i


def evaluate(obj: Any, template: str) -> str:
    return _render(_tokens(template), obj)[0]
