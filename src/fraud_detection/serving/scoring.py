"""Score validated transactions: look up stored features, derive the rest, apply the model.

This is the whole online path without the HTTP layer, so the BentoML service, the other
servers in the serving benchmark and the tests all run the same code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import Score, Transaction
from fraud_detection.training.model import FraudModel


class FeatureSource(Protocol):
    def lookup(self, customer_ids: Sequence[int]) -> Lookup: ...


class PredictionSink(Protocol):
    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None: ...


class Scorer:
    def __init__(
        self, model: FraudModel, features: FeatureSource, model_version: str,
        prediction_log: PredictionSink | None = None,
    ) -> None:  # fmt: skip
        self.model = model
        self.features = features
        self.model_version = model_version
        self.prediction_log = prediction_log

    def score(self, transactions: Sequence[Transaction]) -> list[Score]:
        lookup = self.features.lookup([t.customer_id for t in transactions])
        frame = self.frame(transactions, lookup)
        inputs = self.model.inputs(frame)
        probabilities = self.model.score_inputs(inputs)
        scores = self._scores(transactions, probabilities, lookup)
        if self.prediction_log is not None:
            scored_at = datetime.now(UTC).isoformat()
            self.prediction_log.record_later(
                lambda: self._records(scores, frame, inputs, scored_at), len(scores)
            )
        return scores

    def _records(
        self, scores: list[Score], frame: pd.DataFrame, inputs: pd.DataFrame, scored_at: str
    ) -> list[dict[str, Any]]:
        features = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
        return [
            {
                "request_id": uuid.uuid4().hex,
                "transaction_id": score.transaction_id,
                "customer_id": score.customer_id,
                "event_timestamp": pd.Timestamp(when).isoformat(),
                "scored_at": scored_at,
                "model_version": score.model_version,
                "fraud_probability": score.fraud_probability,
                "is_fraud": score.is_fraud,
                "degraded": score.degraded,
                "features": row,
            }
            for score, when, row in zip(scores, frame["event_timestamp"], features, strict=True)
        ]

    def _scores(
        self, transactions: Sequence[Transaction], probabilities: np.ndarray, lookup: Lookup
    ) -> list[Score]:
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
