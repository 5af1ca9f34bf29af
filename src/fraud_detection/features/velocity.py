"""Card velocity as of the transaction being scored: the one definition training and serving use.

A transaction at time t sees the card's *earlier* transactions in each window [t − w, t): one
made 2 h ago is in the 24 h window and not in the 1 h one, so the windows decay with time
instead of holding whatever was true at the card's last transaction. The transaction itself
and others at the same instant are not counted. Amounts are summed in whole cents, so the
offline builder (one pass over a card's whole history) and the online store (the card's
retained events) compute bit-identical values from the same events.

`velocity_as_of` is the definition; `velocity_features` applies it to a history for training,
and `fraud_detection.features.card_events` applies it to the events the online store keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

VELOCITY_FEATURES: tuple[str, ...] = (
    "txn_count_1h",
    "txn_count_24h",
    "amount_sum_24h",
    "txn_count_30d",
    "amount_mean_30d",
)
_MICROS = 1_000_000
WINDOWS_US = {
    "1h": 3_600 * _MICROS,
    "24h": 24 * 3_600 * _MICROS,
    "30d": 30 * 24 * 3_600 * _MICROS,
}
_EPOCH = pd.Timestamp(0, tz="UTC")
# The longest window: older events can no longer change any feature.
RETENTION = timedelta(days=30)


def to_micros(timestamps: pd.Series) -> np.ndarray:
    """UTC epoch microseconds (the unit both stores key events by)."""
    values = pd.to_datetime(timestamps, utc=True).dt.as_unit("us")
    out: np.ndarray = values.astype("int64").to_numpy()
    return out


def micros(when: datetime | pd.Timestamp) -> int:
    """One time as UTC epoch microseconds (a naive time is UTC)."""
    stamp = pd.Timestamp(when)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int((stamp - _EPOCH) // pd.Timedelta(microseconds=1))


def to_cents(amounts: pd.Series | np.ndarray) -> np.ndarray:
    cents: np.ndarray = np.rint(np.asarray(amounts, dtype="float64") * 100).astype("int64")
    return cents


def velocity_as_of(
    times_us: np.ndarray, cents: np.ndarray, at_us: np.ndarray
) -> dict[str, np.ndarray]:
    """The velocity features of one card at each time in `at_us`.

    Args:
        times_us: The card's event times (epoch µs), ascending.
        cents: Their amounts in cents, in the same order.
        at_us: The times to compute the features at.

    Returns:
        Each of `VELOCITY_FEATURES` as a float64 array aligned with `at_us`; the 30-day mean is
        NaN where the card has no earlier transaction in 30 days.
    """
    cumulative = np.concatenate([[0], np.cumsum(cents, dtype="int64")])
    end = np.searchsorted(times_us, at_us, side="left")  # events strictly before t

    def window(name: str) -> tuple[np.ndarray, np.ndarray]:
        start = np.searchsorted(times_us, at_us - WINDOWS_US[name], side="left")
        return (end - start).astype("float64"), (cumulative[end] - cumulative[start])

    count_1h, _ = window("1h")
    count_24h, cents_24h = window("24h")
    count_30d, cents_30d = window("30d")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_30d = np.where(count_30d > 0, np.round(cents_30d / count_30d) / 100, np.nan)
    return {
        "txn_count_1h": count_1h,
        "txn_count_24h": count_24h,
        "amount_sum_24h": cents_24h / 100,
        "txn_count_30d": count_30d,
        "amount_mean_30d": mean_30d,
    }


def velocity_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time velocity of every transaction, over the card's earlier transactions.

    Args:
        transactions: customer_id, event_timestamp and amount (the whole history available:
            rows before the training window still count towards its first days).

    Returns:
        `VELOCITY_FEATURES`, aligned with `transactions`' index.
    """
    times = to_micros(transactions["event_timestamp"])
    cents = to_cents(transactions["amount"])
    out = np.full((len(transactions), len(VELOCITY_FEATURES)), np.nan)
    for rows in transactions.groupby("customer_id", sort=False).indices.values():
        order = rows[np.argsort(times[rows], kind="stable")]
        values = velocity_as_of(times[order], cents[order], times[order])
        out[order] = np.column_stack([values[name] for name in VELOCITY_FEATURES])
    return pd.DataFrame(out, columns=list(VELOCITY_FEATURES), index=transactions.index)
