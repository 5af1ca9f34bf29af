"""Score validated transactions: record each in its card's events and read its velocity, look
up stored features, derive the rest, apply the model.

This is the whole online path without the HTTP layer, so the BentoML service, the other
servers in the serving benchmark and the tests all run the same code. Rows stay plain dicts:
the model's inputs are built without pandas and scored by its compiled trees
(`serving.inference`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fraud_detection.serving.compiled import CompiledModel
from fraud_detection.serving.inference import inference_for
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.real_time_features import RealTime, RealTimeFeatures
from fraud_detection.serving.reasons import ReasonCodes
from fraud_detection.serving.schemas import Reason, Score, Transaction
from fraud_detection.training.model import FraudModel


class FeatureSource(Protocol):
    def lookup(self, customer_ids: Sequence[int]) -> Lookup: ...


class PredictionSink(Protocol):
    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None: ...


class Scorer:
    def __init__(
        self, model: FraudModel, features: FeatureSource, model_version: str,
        prediction_log: PredictionSink | None = None, compiled: CompiledModel | None = None,
        real_time: RealTimeFeatures | None = None,
    ) -> None:  # fmt: skip
        """`compiled`: the model's compiled form, as `load_servable` loads it; without it the
        model is converted (and checked) here. `real_time`: where the model's real-time
        features come from (None for a model whose feature service has none)."""
        self.model = model
        self.inference = inference_for(model, compiled)
        self.features = features
        self.model_version = model_version
        self.prediction_log = prediction_log
        self.real_time = real_time
        self.reason_codes = ReasonCodes.of(model)  # None for a model it cannot explain

    def score(self, transactions: Sequence[Transaction]) -> list[Score]:
        now = datetime.now(UTC)
        # First: a transaction's velocity counts only earlier events, so recording it before
        # it is scored changes nothing for it, and its card's next transaction sees it.
        real_time = self.real_time.record_and_read(transactions, now) if self.real_time else None
        lookup = self.features.lookup([t.customer_id for t in transactions])
        if real_time is not None:
            lookup = _with_velocity(lookup, real_time)
        rows = self.rows(transactions, lookup, now)
        inputs = self.inference.inputs(rows)
        probabilities = self.inference.probabilities(inputs)
        scores = self._scores(transactions, probabilities, lookup)
        self._explain_flagged(scores, rows)
        if self.prediction_log is not None:
            scored_at = datetime.now(UTC).isoformat()
            self.prediction_log.record_later(
                lambda: self._records(scores, rows, scored_at, real_time), len(scores)
            )
        return scores

    def _records(
        self, scores: list[Score], rows: list[dict[str, Any]], scored_at: str,
        real_time: RealTime | None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        features = self.model.input_records(rows)  # the model's inputs, None where missing
        records = [
            {
                "request_id": uuid.uuid4().hex,
                "transaction_id": score.transaction_id,
                "customer_id": score.customer_id,
                "event_timestamp": pd.Timestamp(row["event_timestamp"]).isoformat(),
                "scored_at": scored_at,
                "model_version": score.model_version,
                "fraud_probability": score.fraud_probability,
                "is_fraud": score.is_fraud,
                "degraded": score.degraded,
                "features": inputs,
            }
            for score, row, inputs in zip(scores, rows, features, strict=True)
        ]
        for record, score in zip(records, scores, strict=True):
            if score.reasons is not None:
                record["reasons"] = [reason.model_dump() for reason in score.reasons]
        if real_time is not None:  # whether the card's update was lost, or arrived late
            for record, velocity in zip(records, real_time.velocities, strict=True):
                record["card_event"] = {"recorded": real_time.recorded, "late": velocity.late}
        return records

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

    def _explain_flagged(self, scores: list[Score], rows: list[dict[str, Any]]) -> None:
        """Attach reason codes to the flagged scores; the others are not explained."""
        flagged = [i for i, score in enumerate(scores) if score.is_fraud]
        if not flagged or self.reason_codes is None:
            return
        chosen = [rows[i] for i in flagged]
        reasons: list[list[Reason]] = self.reason_codes.top(
            self.model.encoded_inputs(chosen), self.model.input_records(chosen)
        )
        for i, top in zip(flagged, reasons, strict=True):
            scores[i].reasons = top

    def frame(self, transactions: Sequence[Transaction], lookup: Lookup) -> pd.DataFrame:
        """`rows` as a DataFrame (what `FraudModel.score` reads)."""
        return pd.DataFrame(self.rows(transactions, lookup))

    def rows(
        self, transactions: Sequence[Transaction], lookup: Lookup, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The rows the model reads: request fields plus looked-up features (NaN if missing);
        a transaction without a time happened `now`."""
        now = now or datetime.now(UTC)
        return [
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


def _with_velocity(lookup: Lookup, real_time: RealTime) -> Lookup:
    """Feast's values and the velocity in one lookup; degraded when either store failed."""
    values = [{**v, **r.values} for v, r in zip(lookup.values, real_time.velocities, strict=True)]
    return Lookup(values, degraded=lookup.degraded or not real_time.recorded)
