"""The scorer with real-time features: a failing card event store never fails a request; the
lost update is counted and marked in the prediction log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from small_model import PARAMS, training_frame

from fraud_detection.features.card_events import CardEvent, CardVelocity, SQLiteCardEvents
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.real_time_features import RealTimeFeatures
from fraud_detection.serving.schemas import Transaction
from fraud_detection.serving.scoring import Scorer
from fraud_detection.training.model import fit

WHEN = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


class ProfileOnly:
    """Feast's side of the v2 service: the profile (the velocity comes from the card events)."""

    def lookup(self, customer_ids: Sequence[int]) -> Lookup:
        profile: dict[str, float | None] = {"account_age_days": 400.0, "credit_limit": 5000.0}
        return Lookup([profile] * len(customer_ids), degraded=False)


class BrokenStore:
    def record_and_read(self, events: Sequence[CardEvent]) -> list[CardVelocity]:
        raise ConnectionError("card event store unreachable")

    def backfill(self, events: Any) -> int:
        raise ConnectionError("card event store unreachable")

    def clear(self) -> None:
        raise ConnectionError("card event store unreachable")


class Log:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None:
        self.records.extend(build())


def transaction(minute: int, customer: int = 7) -> Transaction:
    return Transaction.model_validate(
        {"transaction_id": f"t{minute}", "customer_id": customer, "amount": 25.0,
         "merchant_category": "grocery", "distance_from_home_km": 2.0, "card_present": True,
         "event_timestamp": WHEN.replace(minute=minute)}
    )  # fmt: skip


LOOKED_UP = (*VELOCITY_FEATURES, "account_age_days", "credit_limit")


def scorer(store: Any, lost: list[int], log: Log) -> Scorer:
    frame = training_frame(rows=1000)
    frame = frame.assign(
        txn_count_1h=frame["txn_count_24h"] // 3, amount_sum_24h=frame["txn_count_24h"] * 30,
        txn_count_30d=frame["txn_count_24h"] * 10, account_age_days=400.0,
    )  # fmt: skip
    model = fit(frame, LOOKED_UP, PARAMS)
    real_time = RealTimeFeatures(store, VELOCITY_FEATURES, on_lost=lost.append)
    return Scorer(model, ProfileOnly(), "v-test", log, real_time=real_time)


def test_each_transaction_sees_the_cards_earlier_ones(tmp_path: Path) -> None:
    log, lost = Log(), list[int]()
    score = scorer(SQLiteCardEvents(tmp_path / "events.db"), lost, log).score
    for minute in range(3):
        (answer,) = score([transaction(minute)])
        assert not answer.degraded
    assert [r["features"]["txn_count_1h"] for r in log.records] == [0, 1, 2]
    assert all(r["card_event"] == {"recorded": True, "late": False} for r in log.records)
    assert lost == []


def test_a_failing_store_degrades_the_answer_and_counts_the_lost_update() -> None:
    log, lost = Log(), list[int]()
    answers = scorer(BrokenStore(), lost, log).score([transaction(0), transaction(1, customer=8)])
    assert len(answers) == 2 and all(a.degraded for a in answers)
    assert set(answers[0].missing_features) == set(VELOCITY_FEATURES)
    assert lost == [2]
    assert [r["card_event"]["recorded"] for r in log.records] == [False, False]
