"""Serving pieces without a server: the request schema, the scorer, the body-size limit."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fresh_interpreter import last_line_printed
from pydantic import ValidationError
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from fraud_detection.features.derived import model_columns
from fraud_detection.serving import log_filters
from fraud_detection.serving.body_limit import BodySizeLimit
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import Transaction
from fraud_detection.serving.scoring import Scorer
from fraud_detection.training.model import FraudModel

ROW = {"customer_id": 7, "amount": 12.5, "merchant_category": "fuel", "card_present": True}


def test_a_valid_transaction_gets_a_utc_timestamp() -> None:
    parsed = Transaction.model_validate({**ROW, "event_timestamp": "2026-01-01T10:00:00"})
    assert parsed.event_timestamp is not None and parsed.event_timestamp.utcoffset() is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"amount": float("nan")}, "amount"),
        ({"amount": float("inf")}, "amount"),
        ({"merchant_category": "casino"}, "merchant_category"),
        ({"card_present": "yes"}, "card_present"),
        ({"pin": "1234"}, "pin"),
    ],
)
def test_bad_fields_are_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as failure:
        Transaction.model_validate({**ROW, **change})
    assert field in str(failure.value)


def test_unknown_category_error_lists_the_allowed_ones() -> None:
    with pytest.raises(ValidationError, match="allowed: grocery"):
        Transaction.model_validate({**ROW, "merchant_category": "casino"})


class StaticFeatures:
    def __init__(self, values: dict[int, dict[str, float | None]], degraded: bool = False) -> None:
        self.values, self.degraded = values, degraded

    def lookup(self, customer_ids: Sequence[int]) -> Lookup:
        return Lookup([self.values.get(c, {}) for c in customer_ids], self.degraded)


def constant_model(probability: float) -> FraudModel:
    looked_up = ("txn_count_24h", "credit_limit")
    columns = model_columns(looked_up)
    frame = pd.DataFrame(np.zeros((10, len(columns))), columns=columns)
    frame["merchant_category"] = 0
    classifier = DummyClassifier(strategy="prior").fit(
        frame, [1] * int(10 * probability) + [0] * (10 - int(10 * probability))
    )
    return FraudModel(Pipeline([("classify", classifier)]), looked_up, threshold=0.25)


def test_scorer_reports_missing_features_per_row_and_applies_the_threshold() -> None:
    features = StaticFeatures({7: {"txn_count_24h": 3.0, "credit_limit": 1000.0}})
    scorer = Scorer(constant_model(0.3), features, "v1")
    known, unknown = scorer.score(
        [Transaction.model_validate(ROW), Transaction.model_validate({**ROW, "customer_id": 8})]
    )
    assert known.missing_features == [] and not known.degraded
    assert unknown.missing_features == ["txn_count_24h", "credit_limit"]
    assert known.fraud_probability == pytest.approx(0.3)
    assert known.is_fraud and known.model_version == "v1"


def test_scorer_passes_degradation_through() -> None:
    scorer = Scorer(constant_model(0.1), StaticFeatures({}, degraded=True), "v1")
    (result,) = scorer.score([Transaction.model_validate(ROW)])
    assert result.degraded and not result.is_fraud


def run_asgi(max_bytes: int, chunks: list[bytes], declared: int | None) -> tuple[list[Any], bytes]:
    """Drive BodySizeLimit around an echo app; return the sent messages and what the app read."""
    received = bytearray()
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope = {"type": "http", "headers": headers}
    asyncio.run(BodySizeLimit(app, max_bytes)(scope, receive, send))
    return sent, bytes(received)


def test_declared_oversized_body_is_refused_before_the_app_runs() -> None:
    sent, received = run_asgi(100, [b"x" * 10], declared=1000)
    assert sent[0]["status"] == 413 and received == b""


def test_chunked_oversized_body_is_refused() -> None:
    sent, received = run_asgi(100, [b"x" * 60, b"x" * 60], declared=None)
    assert sent[0]["status"] == 413 and received == b""


def test_small_body_reaches_the_app_intact() -> None:
    sent, received = run_asgi(100, [b"ab", b"cd"], declared=None)
    assert sent[0]["status"] == 200 and received == b"abcd"


def _failed_request_record(error: Exception) -> logging.LogRecord:
    try:
        raise error
    except Exception:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        log_filters.BENTOML_HTTP_LOGGER, logging.ERROR, __file__, 1,
        "Exception on %s [%s]", ("/score", "POST"), exc_info,
    )  # fmt: skip


def test_client_errors_are_logged_as_one_line_and_server_errors_keep_their_traceback() -> None:
    log_filter = log_filters.ClientErrorsWithoutTraceback()
    with pytest.raises(ValidationError) as invalid:
        Transaction.model_validate({**ROW, "amount": -1})
    client = _failed_request_record(invalid.value)
    assert log_filter.filter(client) and client.exc_info is None
    assert client.levelno == logging.WARNING
    assert client.getMessage().startswith("Exception on /score [POST]: 400 ValidationError")
    assert "amount" in client.getMessage()
    server = _failed_request_record(RuntimeError("model exploded"))
    assert log_filter.filter(server) and server.exc_info is not None
    assert server.levelno == logging.ERROR


def test_the_service_module_leaves_the_model_and_the_stores_to_the_worker(tmp_path: Path) -> None:
    """`bentoml serve` imports the service module in its supervisor as well as in the worker:
    what only `__init__` uses (scikit-learn and treelite for the model, Feast for the stores)
    must not be imported with the module, or every server start pays it twice."""
    program = (
        "import sys, serving.service; "
        "print(sorted(m for m in ('sklearn', 'scipy', 'treelite', 'feast') if m in sys.modules))"
    )
    assert last_line_printed(program, tmp_path) == "[]"
