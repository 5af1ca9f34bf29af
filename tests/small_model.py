"""A small fraud model fitted the project's way (`training.model.fit`) on synthetic rows, for
unit tests that need real trees without generating a history: categorical merchant splits,
missing values and zero denominators are all in its training data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fraud_detection.config import TrainingSettings
from fraud_detection.data.contract import LABEL, MERCHANT_CATEGORIES
from fraud_detection.training.model import FraudModel, fit

LOOKED_UP = ("txn_count_24h", "amount_mean_30d", "credit_limit")
PARAMS = TrainingSettings(max_iter=20, max_leaf_nodes=15)


def training_frame(
    rows: int = 3000, seed: int = 0, categories: tuple[str, ...] = MERCHANT_CATEGORIES
) -> pd.DataFrame:
    """Labelled rows whose fraud rate depends on the category, amount, distance and hour."""
    rng = np.random.default_rng(seed)
    category = rng.choice(np.array(categories), rows)
    amount = rng.gamma(2.0, 40.0, rows)
    distance = np.where(rng.random(rows) < 0.1, np.nan, rng.exponential(20.0, rows))
    mean_30d = np.where(rng.random(rows) < 0.1, np.nan, rng.gamma(2.0, 30.0, rows))
    mean_30d[rng.random(rows) < 0.05] = 0.0
    credit = rng.choice([0.0, 1000.0, 2500.0, 5000.0, np.nan], rows)
    minutes = rng.integers(0, 60 * 24 * 30, rows)
    risky = np.isin(category, ["electronics", "gift_cards", "online_retail"])
    odds = -4 + 2.0 * risky + amount / 80 + np.nan_to_num(distance, nan=50.0) / 40
    return pd.DataFrame(
        {
            "event_timestamp": [
                datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=int(m)) for m in minutes
            ],
            "amount": amount,
            "merchant_category": category,
            "distance_from_home_km": distance,
            "card_present": rng.random(rows) < 0.6,
            "txn_count_24h": rng.poisson(3, rows).astype(float),
            "amount_mean_30d": mean_30d,
            "credit_limit": credit,
            LABEL: rng.random(rows) < 1 / (1 + np.exp(-odds)),
        }
    )


def small_model(seed: int = 0, categories: tuple[str, ...] = MERCHANT_CATEGORIES) -> FraudModel:
    return fit(training_frame(seed=seed, categories=categories), LOOKED_UP, PARAMS)
