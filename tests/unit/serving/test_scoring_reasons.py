"""Reason codes in the scoring path: flagged transactions carry their top three contributions in
the answer and the prediction log, unflagged ones carry none, monitoring reads the log as
before, and the API's OpenAPI document describes the field."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fresh_interpreter import last_line_printed
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from small_model import LOOKED_UP, small_model

from fraud_detection.monitoring.log_reader import read_window
from fraud_detection.serving.compiled import CompiledModel
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.reasons import ReasonCodes
from fraud_detection.serving.schemas import Score, Transaction
from fraud_detection.serving.scoring import Scorer
from fraud_detection.training.model import FraudModel

WHEN = datetime(2026, 1, 5, 3, 30, tzinfo=UTC)
HABITUAL = {"transaction_id": "habitual", "customer_id": 7, "amount": 20.0,
            "merchant_category": "grocery", "distance_from_home_km": 1.0, "card_present": True,
            "event_timestamp": WHEN}  # fmt: skip
SUSPICIOUS = {**HABITUAL, "transaction_id": "suspicious", "amount": 900.0,
              "merchant_category": "gift_cards", "distance_from_home_km": 350.0,
              "card_present": False}  # fmt: skip


class Profile:
    def lookup(self, customer_ids: Sequence[int]) -> Lookup:
        values = {"txn_count_24h": 2.0, "amount_mean_30d": 30.0, "credit_limit": None}
        return Lookup([values] * len(customer_ids), degraded=False)


class Log:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None:
        self.records.extend(build())


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return small_model()


@pytest.fixture(scope="module")
def scored(model: FraudModel) -> tuple[Scorer, list[Score], list[dict[str, Any]]]:
    log = Log()
    # Compiled here: the parity check serving runs at load is tested elsewhere.
    scorer = Scorer(model, Profile(), "v-test", log, compiled=CompiledModel.convert(model))
    scores = scorer.score([Transaction.model_validate(t) for t in (HABITUAL, SUSPICIOUS)])
    return scorer, scores, log.records


def test_a_flagged_transaction_gets_its_three_largest_contributions(
    scored: tuple[Scorer, list[Score], list[dict[str, Any]]],
) -> None:
    scorer, (_, flagged), _ = scored
    assert flagged.is_fraud and flagged.reasons is not None
    assert scorer.reason_codes is not None
    row = scorer.rows([Transaction.model_validate(SUSPICIOUS)], Profile().lookup([7]))
    matrix = scorer.model.encoded_inputs(row)
    phi = scorer.reason_codes.contributions.contributions(matrix)[0]
    columns = scorer.reason_codes.columns
    expected = [columns[i] for i in np.argsort(-phi)[:3]]
    assert [r.feature for r in flagged.reasons] == expected
    assert [r.contribution for r in flagged.reasons] == pytest.approx(np.sort(phi)[::-1][:3])
    record = scorer.model.input_records(row)[0]
    assert all(r.value == record[r.feature] for r in flagged.reasons)


def test_unflagged_transactions_get_no_reasons(
    scored: tuple[Scorer, list[Score], list[dict[str, Any]]],
) -> None:
    _, (habitual, _), records = scored
    assert not habitual.is_fraud and habitual.reasons is None
    assert "reasons" not in records[0]


def test_the_prediction_log_carries_the_reasons_and_monitoring_still_reads_it(
    scored: tuple[Scorer, list[Score], list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, (_, flagged), records = scored
    assert flagged.reasons is not None
    assert records[1]["reasons"] == [r.model_dump() for r in flagged.reasons]
    part = tmp_path / f"date={records[1]['scored_at'][:10]}" / "v-test-1.jsonl"
    part.parent.mkdir()
    part.write_text("".join(json.dumps(r) + "\n" for r in records))
    scored_at = datetime.fromisoformat(records[0]["scored_at"])
    window = read_window(tmp_path, scored_at - timedelta(minutes=1), scored_at + timedelta(1))
    assert len(window.frame) == 2 and "reasons" not in window.frame.columns
    assert set(LOOKED_UP) <= set(window.frame.columns)


def test_a_model_without_explainable_trees_has_no_reason_codes(model: FraudModel) -> None:
    prior = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    other = FraudModel(Pipeline([model.pipeline.steps[0], ("classify", prior)]), LOOKED_UP)
    assert ReasonCodes.of(model) is not None and ReasonCodes.of(other) is None


def test_the_openapi_document_describes_the_reasons(tmp_path: Path) -> None:
    # A fresh interpreter: importing the service configures BentoML for the whole process.
    program = (
        "import json; from serving.service import FraudDetector; "
        "print(json.dumps(FraudDetector.openapi_spec.asdict()['components']['schemas']))"
    )
    schemas = json.loads(last_line_printed(program, tmp_path))
    reasons = schemas["Score"]["properties"]["reasons"]
    assert "reasons" not in schemas["Score"]["required"]
    assert "threshold" in reasons["description"]
    assert reasons["anyOf"][0]["items"] == {"$ref": "#/components/schemas/Reason"}
    reason = schemas["Reason"]
    assert set(reason["required"]) == {"feature", "contribution", "value"}
    assert "log-odds" in reason["properties"]["contribution"]["description"]
