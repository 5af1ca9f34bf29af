"""The model's inputs for plain Python rows, computed without pandas.

Serving scores a few rows per request, where building a DataFrame and running the fitted
`ColumnTransformer` costs far more than the trees themselves. `model_record` is the per-row twin
of `features.derived.model_frame` and `RowEncoder` the twin of the fitted encoder; the unit
tests prove both equal to the frame path, so online features cannot drift from training's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from fraud_detection.features.derived import model_columns

# Request fields (event_timestamp and the request features) plus looked-up feature values;
# a missing value is None or NaN.
Row = Mapping[str, Any]


def model_record(row: Row, looked_up: tuple[str, ...]) -> dict[str, Any]:
    """One row of `model_frame(...)`, None where a value is missing (as the prediction log
    records it)."""
    amount = float(row["amount"])
    values = {
        "amount": amount,
        "merchant_category": str(row["merchant_category"]),
        "distance_from_home_km": _number(row["distance_from_home_km"]),
        "card_present": int(row["card_present"]),
        **{name: _number(row[name]) for name in looked_up},
        "hour_of_day": _utc_hour(row["event_timestamp"]),
        "amount_to_mean_30d": _ratio(amount, row.get("amount_mean_30d")),
        "amount_to_credit_limit": _ratio(amount, row.get("credit_limit")),
    }
    return {name: values[name] for name in model_columns(looked_up)}


class RowEncoder:
    """What a fitted `ColumnTransformer` of ordinal encoders and passed-through columns makes
    of model records: its output columns in order, categories as their codes (unknown → NaN),
    missing values as NaN."""

    def __init__(self, columns: list[str], codes: dict[str, dict[str, float]]) -> None:
        self.columns = columns
        self.codes = codes

    @classmethod
    def of(cls, pipeline: Pipeline) -> RowEncoder | None:
        """The encoder equivalent to `pipeline[:-1]`, or None when that is not one
        `ColumnTransformer` of ordinal encoders (unknown → NaN) and passed-through columns."""
        if len(pipeline) != 2 or not hasattr(pipeline[0], "transformers_"):
            return None
        transform = pipeline[0]
        codes: dict[str, dict[str, float]] = {}
        for _, step, columns in transform.transformers_:
            if isinstance(step, OrdinalEncoder):
                if step.handle_unknown != "use_encoded_value" or not np.isnan(step.unknown_value):
                    return None
                for column, categories in zip(columns, step.categories_, strict=True):
                    codes[column] = {str(c): float(i) for i, c in enumerate(categories)}
            elif step == "drop":
                continue
            elif not (
                step == "passthrough"
                or (isinstance(step, FunctionTransformer) and step.func is None)
            ):
                return None
        return cls([str(c) for c in transform.get_feature_names_out()], codes)

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The float64 matrix `pipeline[:-1].transform(...)` returns for these records."""
        rows = [
            [
                self.codes[c].get(record[c], math.nan) if c in self.codes else record[c]
                for c in self.columns
            ]
            for record in records
        ]
        # numpy turns None into NaN in a float64 array.
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(self.columns))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _utc_hour(when: datetime) -> int:
    # model_frame reads times with `utc=True`: a naive time is UTC, an aware one is converted.
    return when.hour if when.tzinfo is None else when.astimezone(UTC).hour


def _ratio(numerator: float, denominator: Any) -> float | None:
    denom = _number(denominator)
    return numerator / denom if denom is not None and denom > 0 else None
