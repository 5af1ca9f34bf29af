"""The scoring API over HTTP, against a real BentoML server on a free port.

Every bad input must get a 4xx naming the field, and the server must keep serving afterwards.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import GOOD, GOOD_DAY

from fraud_detection.config import Settings
from fraud_detection.registry import ModelRegistry
from fraud_detection.serving import local_server
from fraud_detection.serving.model_store import save_to_bentoml
from fraud_detection.serving.schemas import MAX_BATCH

pytestmark = pytest.mark.integration


def post(url: str, body: bytes | str, path: str = "/score") -> tuple[int, Any]:
    data = body.encode() if isinstance(body, str) else body
    if len(data) > LARGE_BODY:
        return post_expecting_continue(url, data, path)
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# Bodies above this are sent as a careful client sends a large upload: headers first, with
# `Expect: 100-continue`, and the body only once the server asks for it. A server that refuses
# the size answers 413 before any of the body is sent; a client that streams the body anyway
# races the server's close, and on a busy machine loses the answer to the reset.
LARGE_BODY = 64 * 1024


def post_expecting_continue(url: str, data: bytes, path: str) -> tuple[int, Any]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in (
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Expect", "100-continue"),
        ):
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.sock is not None
        interim = connection.sock.recv(64, socket.MSG_PEEK)  # blocks until the server answers
        if interim.startswith(b"HTTP/1.1 100"):
            _skip_interim_response(connection.sock)
            connection.send(data)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _skip_interim_response(sock: socket.socket) -> None:
    received = b""
    while not received.endswith(b"\r\n\r\n"):
        received += sock.recv(1)


def get(url: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def score(url: str, *transactions: dict[str, Any]) -> tuple[int, Any]:
    return post(url, json.dumps({"transactions": list(transactions)}))


def production_tag(settings: Settings) -> str:
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    return save_to_bentoml(production, settings.paths.bentoml_home)


@pytest.fixture(scope="module")
def prediction_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prediction-log")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server") / "server.log"


@pytest.fixture(scope="module")
def server(
    trained_workspace: Settings, server_log: Path, prediction_log_dir: Path
) -> Iterator[str]:
    settings = trained_workspace
    with local_server.serve(
        extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(prediction_log_dir)},
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=production_tag(settings),
        feature_repo=settings.paths.feature_repo,
        log_file=server_log,
    ) as running:
        yield running.url


def test_scores_a_known_customer_with_stored_features(
    server: str, trained_workspace: Settings
) -> None:
    status, body = score(server, GOOD)
    assert status == 200
    (result,) = body
    assert 0.0 <= result["fraud_probability"] <= 1.0
    assert result["is_fraud"] == (result["fraud_probability"] >= result["threshold"])
    assert result["transaction_id"] == "t-1"
    assert result["missing_features"] == []
    assert result["degraded"] is False
    production = ModelRegistry(
        trained_workspace.paths.registry, trained_workspace.model_name
    ).production()
    assert production is not None
    assert result["model_version"] == production.version


def test_every_scored_transaction_is_logged_with_the_features_used(
    server: str, prediction_log_dir: Path
) -> None:
    rows = [{**GOOD, "transaction_id": f"logged-{i}"} for i in range(3)]
    _, body = score(server, *rows)
    deadline = time.monotonic() + 10
    logged: dict[str, Any] = {}
    while len(logged) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        for file in prediction_log_dir.rglob("*.jsonl"):
            for line in file.read_text().splitlines():
                record = json.loads(line)
                if str(record["transaction_id"]).startswith("logged-"):
                    logged[record["transaction_id"]] = record
    assert sorted(logged) == ["logged-0", "logged-1", "logged-2"]
    record = logged["logged-0"]
    assert record["fraud_probability"] == body[0]["fraud_probability"]
    assert record["model_version"] == body[0]["model_version"]
    assert record["features"]["amount"] == 42.5
    assert record["features"]["hour_of_day"] == 14
    assert "txn_count_24h" in record["features"] and record["request_id"]


def test_unknown_customer_is_served_with_missing_features_flagged(server: str) -> None:
    status, body = score(server, {**GOOD, "customer_id": 987_654_321})
    assert status == 200
    # No profile in Feast; no earlier transaction, so no 30-day mean (its counts are 0).
    assert set(body[0]["missing_features"]) == {"account_age_days", "credit_limit",
                                                 "amount_mean_30d"}  # fmt: skip
    assert body[0]["degraded"] is False


def test_scores_a_batch_in_request_order(server: str) -> None:
    rows = [{**GOOD, "transaction_id": f"t-{i}", "amount": 10.0 * i} for i in range(1, 51)]
    status, body = score(server, *rows)
    assert status == 200
    assert [r["transaction_id"] for r in body] == [r["transaction_id"] for r in rows]


def test_suspicious_transaction_scores_higher_than_a_habitual_one(server: str) -> None:
    habitual = {**GOOD, "amount": 30.0, "event_timestamp": f"{GOOD_DAY}T13:00:00+00:00"}
    suspicious = {
        **GOOD, "amount": 2_400.0, "merchant_category": "electronics",
        "distance_from_home_km": 900.0, "card_present": False,
        "event_timestamp": f"{GOOD_DAY}T03:00:00+00:00",
    }  # fmt: skip
    _, body = score(server, habitual, suspicious)
    assert body[1]["fraud_probability"] > body[0]["fraud_probability"]
    # A flagged answer names its three main reasons; one below the threshold names none.
    assert body[1]["is_fraud"] and len(body[1]["reasons"]) == 3
    assert all((r["reasons"] is None) == (not r["is_fraud"]) for r in body)


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != field}


BAD_INPUTS: dict[str, tuple[bytes | str, int, str]] = {
    # name: (raw body, expected status, text the error must contain: the field or problem)
    "malformed JSON": ('{"transactions": [', 400, "json_invalid"),
    "not an object": ("[1, 2]", 400, "model_type"),
    "missing field": (json.dumps({"transactions": [_without("amount")]}), 400, "amount"),
    "extra field": (json.dumps({"transactions": [{**GOOD, "pin": "1234"}]}), 400, "pin"),
    "wrong type": (json.dumps({"transactions": [{**GOOD, "amount": "lots"}]}), 400, "amount"),
    "bool as string": (
        json.dumps({"transactions": [{**GOOD, "card_present": "yes"}]}),
        400,
        "card_present",
    ),
    "NaN": ('{"transactions": [' + json.dumps(GOOD).replace("42.5", "NaN") + "]}", 400, "amount"),
    "infinity": (
        '{"transactions": [' + json.dumps(GOOD).replace("42.5", "Infinity") + "]}",
        400,
        "amount",
    ),
    "negative amount": (json.dumps({"transactions": [{**GOOD, "amount": -5}]}), 400, "amount"),
    "unknown category": (
        json.dumps({"transactions": [{**GOOD, "merchant_category": "casino"}]}),
        400,
        "merchant_category",
    ),
    "empty batch": (json.dumps({"transactions": []}), 400, "too_short"),
    "batch over the limit": (
        json.dumps({"transactions": [GOOD] * (MAX_BATCH + 1)}),
        400,
        "too_long",
    ),
    "oversized body": (b'{"transactions": "' + b"x" * (2 << 20) + b'"}', 413, "body"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_4xx_naming_the_problem(server: str, case: str) -> None:
    body, expected_status, mentions = BAD_INPUTS[case]
    status, answer = post(server, body)
    assert status == expected_status
    assert mentions in json.dumps(answer)


def test_server_keeps_serving_after_bad_inputs(server: str, server_log: Path) -> None:
    for body, _, _ in BAD_INPUTS.values():
        post(server, body)
    assert get(server, "/livez")[0] == 200
    assert score(server, GOOD)[0] == 200
    # Each bad request is one warning line naming the problem, never a traceback: a client
    # sending bad requests cannot flood the log.
    log = server_log.read_text()
    assert "Traceback" not in log
    assert "400 ValidationError" in log and "transactions.0.amount" in log
    # Nor a third-party deprecation warning (bentoml's request handler and pydantic 2.11).
    assert "DeprecatedSince" not in log and "DeprecationWarning" not in log


def test_health_metrics_and_model_endpoints(server: str) -> None:
    assert get(server, "/livez")[0] == 200
    assert get(server, "/readyz")[0] == 200
    status, metrics = get(server, "/metrics")
    assert status == 200
    assert "bentoml_service_request_total" in metrics
    status, info = post(server, "{}", path="/model")
    assert status == 200
    assert info["features"][0] == "amount"
    assert math.isfinite(info["threshold"])


def test_unreachable_online_store_degrades_answers_and_readiness(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    settings = trained_workspace
    registry_db = settings.paths.root / "data" / "feast" / "registry.db"
    config = tmp_path / "feature_store.yaml"
    config.write_text(
        "project: fraud_features\n"
        "provider: local\n"
        f"registry: {registry_db}\n"
        "online_store:\n"
        "  type: redis\n"
        f"  connection_string: 127.0.0.1:{local_server.free_port()},socket_connect_timeout=1\n"
        "entity_key_serialization_version: 3\n"
    )
    with local_server.serve(
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=production_tag(settings),
        feature_repo=settings.paths.feature_repo,
        log_file=tmp_path / "server.log",
        extra_env={"FRAUD_SERVING_FEATURE_STORE_YAML": str(config)},
        wait_for="/livez",
    ) as running:
        assert get(running.url, "/readyz")[0] == 503
        status, body = score(running.url, GOOD)
        assert status == 200
        assert body[0]["degraded"] is True
        assert "txn_count_24h" in body[0]["missing_features"]
