"""Request-time features: computed from the request and the looked-up features.

Training and serving both call `model_frame`, so a derived feature cannot be computed one way
offline and another way online.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUEST_FEATURES: tuple[str, ...] = (
    "amount",
    "merchant_category",
    "distance_from_home_km",
    "card_present",
)
DERIVED_FEATURES: tuple[str, ...] = (
    "hour_of_day",
    "amount_to_mean_30d",
    "amount_to_credit_limit",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("merchant_category",)


def model_frame(frame: pd.DataFrame, looked_up: tuple[str, ...]) -> pd.DataFrame:
    """Build the model's input columns from a request/transaction frame joined with features.

    Args:
        frame: Rows with event_timestamp, the request features and the looked-up features.
        looked_up: Names of the feature-store features the model uses, in order.

    Returns:
        A frame with columns `model_columns(looked_up)`; missing feature values stay NaN
        (the model handles them natively).
    """
    out = pd.DataFrame(index=frame.index)
    out["amount"] = frame["amount"].astype("float64")
    out["merchant_category"] = frame["merchant_category"].astype(str)
    out["distance_from_home_km"] = frame["distance_from_home_km"].astype("float64")
    out["card_present"] = frame["card_present"].astype("int64")
    for name in looked_up:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    out["hour_of_day"] = pd.to_datetime(frame["event_timestamp"], utc=True).dt.hour.astype("int64")
    out["amount_to_mean_30d"] = _ratio(out["amount"], frame.get("amount_mean_30d"))
    out["amount_to_credit_limit"] = _ratio(out["amount"], frame.get("credit_limit"))
    return out[model_columns(looked_up)]


def model_columns(looked_up: tuple[str, ...]) -> list[str]:
    return [*REQUEST_FEATURES, *looked_up, *DERIVED_FEATURES]


def _ratio(numerator: pd.Series, denominator: pd.Series | None) -> pd.Series:
    if denominator is None:
        return pd.Series(np.nan, index=numerator.index)
    denom = pd.to_numeric(denominator, errors="coerce").astype("float64")
    return numerator / denom.where(denom > 0)
