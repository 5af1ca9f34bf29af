"""Score validated transactions: look up stored features, derive the rest, apply the model.

This is the whole online path without the HTTP layer, so the BentoML service, the other
servers in the serving benchmark and the tests all run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pandas as pd

from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import Score, Transaction
from fraud_detection.training.model import FraudModel


class FeatureSource(Protocol):
    def lookup(self, customer_ids: Sequence[int]) -> Lookup: ...


class Scorer:
    def __init__(self, model: FraudModel, features: FeatureSource, model_version: str) -> None:
        self.model = model
        self.features = features
        self.model_version = model_version

    def score(self, transactions: Sequence[Transaction]) -> list[Score]:
        lookup = self.features.lookup([t.customer_id for t in transactions])
        frame = self.frame(transactions, lookup)
        probabilities = self.model.score(frame)
        return [
            Score(
                transaction_id=t.transaction_id,
                customer_id=t.customer_id,
                fraud_probability=float(p),
                is_fraud=bool(p >= self.model.threshold),
                threshold=self.model.threshold,
                model_version=self.model_version,
                missing_features=[k for k in self.model.looked_up if values.get(k) is None],
                degraded=lookup.degraded,
            )
            for t, p, values in zip(transactions, probabilities, lookup.values, strict=True)
        ]

    def frame(self, transactions: Sequence[Transaction], lookup: Lookup) -> pd.DataFrame:
        """The rows the model reads: request fields plus looked-up features (NaN if missing)."""
        now = datetime.now(UTC)
        rows = [
            {
                "event_timestamp": t.event_timestamp or now,
                "amount": t.amount,
                "merchant_category": t.merchant_category,
                "distance_from_home_km": (
                    np.nan if t.distance_from_home_km is None else t.distance_from_home_km
                ),
                "card_present": t.card_present,
                **{k: np.nan if values.get(k) is None else values[k] for k in self.model.looked_up},
            }
            for t, values in zip(transactions, lookup.values, strict=True)
        ]
        return pd.DataFrame(rows)
