"""Reason codes of the trained model: the contributions add up to its log-odds, and a card
burst far from home without the card present is declined for those reasons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from trained_model import Trained, one_openmp_thread, train_once

from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.features.aggregates import PROFILE_FEATURES, customer_profile
from fraud_detection.features.card_events import SQLiteCardEvents, event
from fraud_detection.features.velocity import VELOCITY_FEATURES, micros
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.real_time_features import RealTimeFeatures
from fraud_detection.serving.reasons import ReasonCodes
from fraud_detection.serving.schemas import Score, Transaction
from fraud_detection.serving.scoring import Scorer

PER_CATEGORY = 60  # holdout rows per merchant category in the additivity sample
BURST_REASONS = {"distance_from_home_km", "card_present", "txn_count_1h", "txn_count_24h"}


@pytest.fixture(scope="module")
def trained() -> Iterator[Trained]:
    with one_openmp_thread():
        yield train_once()


def plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def test_contributions_add_up_to_the_log_odds(trained: Trained) -> None:
    holdout = trained.split.holdout
    sample = holdout.groupby("merchant_category").head(PER_CATEGORY).reset_index(drop=True)
    # A third of the stored and request-time numbers missing, as a failing store leaves them.
    rng = np.random.default_rng(11)
    for name in ("distance_from_home_km", *trained.model.looked_up):
        sample.loc[rng.random(len(sample)) < 1 / 3, name] = np.nan
    assert set(sample["merchant_category"]) == set(MERCHANT_CATEGORIES)
    model = trained.model
    matrix = model.encoded_inputs(plain(sample))
    assert np.isnan(matrix).any(axis=0).sum() >= 1 + len(model.looked_up)
    codes = ReasonCodes.of(model)
    assert codes is not None
    explainer = codes.contributions
    total = explainer.expected_value + explainer.contributions(matrix).sum(axis=1)
    log_odds = model.pipeline[-1].decision_function(matrix)
    np.testing.assert_allclose(total, log_odds, rtol=0, atol=1e-6)


class StoredProfile:
    def __init__(self, values: dict[str, float | None]) -> None:
        self.values = values

    def lookup(self, customer_ids: Any) -> Lookup:
        return Lookup([self.values] * len(customer_ids), degraded=False)


def test_a_far_card_not_present_burst_is_declined_for_distance_presence_or_velocity(
    trained: Trained, tmp_path: Path
) -> None:
    """One card's habitual history in the card event store, then six transactions of its usual
    amount three minutes apart, 800 km from home, card not present."""
    customers = trained.history.customers
    customer = customers.iloc[0]
    history = trained.history.transactions
    habit = history[
        (history["customer_id"] == customer["customer_id"]) & (history["is_fraud"] == 0)
    ]
    store = SQLiteCardEvents(tmp_path / "card_events.db")
    store.backfill(
        event(c, micros(t), a, i)
        for c, t, a, i in habit[
            ["customer_id", "event_timestamp", "amount", "transaction_id"]
        ].itertuples(index=False)
    )
    profile = customer_profile(customers[customers["customer_id"] == customer["customer_id"]])
    stored: dict[str, float | None] = {n: float(profile[n].iloc[0]) for n in PROFILE_FEATURES}
    scorer = Scorer(
        trained.model, StoredProfile(stored), "v-test",
        real_time=RealTimeFeatures(store, VELOCITY_FEATURES),
    )  # fmt: skip
    start = habit["event_timestamp"].max().to_pydatetime() + timedelta(hours=5)
    scores: list[Score] = []
    usual = {"customer_id": int(customer["customer_id"]), "merchant_category": "retail",
             "amount": round(float(habit["amount"].median()), 2)}  # fmt: skip
    for i in range(6):
        when = start + timedelta(minutes=3 * i)
        burst = {**usual, "transaction_id": f"burst-{i}", "distance_from_home_km": 800.0,
                 "card_present": False, "event_timestamp": when}  # fmt: skip
        scores.extend(scorer.score([Transaction.model_validate(burst)]))
    last = scores[-1]
    assert last.is_fraud and last.reasons is not None and len(last.reasons) == 3
    assert last.reasons[0].feature in BURST_REASONS, last.reasons
    contributions = [r.contribution for r in last.reasons]
    assert contributions == sorted(contributions, reverse=True) and contributions[0] > 0
    # The burst's first transaction, no velocity yet, stays below the threshold: no reasons.
    assert not scores[0].is_fraud and scores[0].reasons is None
    assert all((s.reasons is None) == (not s.is_fraud) for s in scores)
