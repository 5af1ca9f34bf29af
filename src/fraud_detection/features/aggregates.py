"""Batch feature tables: the offline sources of the Feast feature views.

Each customer gets one row per transaction, stamped at that transaction's time, holding
aggregates over the windows that end there (the transaction included). Training asks Feast for
features as of one microsecond *before* each transaction (`as_of_just_before`), so it sees
exactly the history that existed when the card was used; serving reads the latest materialized
row, which is the same thing for a new transaction. One definition, no training/serving skew.
"""

from __future__ import annotations

import pandas as pd

STATS_FEATURES: tuple[str, ...] = (
    "txn_count_1h",
    "txn_count_24h",
    "amount_sum_24h",
    "txn_count_30d",
    "amount_mean_30d",
)
PROFILE_FEATURES: tuple[str, ...] = ("account_age_days", "credit_limit")

FEATURE_LOOKBACK = pd.Timedelta(microseconds=1)


def customer_transaction_stats(transactions: pd.DataFrame) -> pd.DataFrame:
    """Rolling per-customer velocity and spend aggregates, one row per transaction time.

    Two transactions of a customer in the same second share one row that counts both: a
    feature row is keyed by (customer, time), and two rows with one key would leave the
    feature store to pick either.

    Args:
        transactions: Validated transactions (customer_id, event_timestamp, amount).

    Returns:
        customer_id, event_timestamp and `STATS_FEATURES`, sorted by customer and time.
    """
    ordered = transactions[["customer_id", "event_timestamp", "amount"]].sort_values(
        ["customer_id", "event_timestamp"], kind="stable", ignore_index=True
    )
    amounts = ordered.set_index("event_timestamp").groupby("customer_id", sort=True)["amount"]

    def rolling(window: str, how: str) -> pd.Series:
        values = getattr(amounts.rolling(window), how)()
        return values.reset_index(drop=True)

    stats = ordered[["customer_id", "event_timestamp"]].copy()
    stats["txn_count_1h"] = rolling("1h", "count").astype("int64")
    stats["txn_count_24h"] = rolling("24h", "count").astype("int64")
    stats["amount_sum_24h"] = rolling("24h", "sum").round(2)
    stats["txn_count_30d"] = rolling("30D", "count").astype("int64")
    stats["amount_mean_30d"] = rolling("30D", "mean").round(2)
    # The last row of a same-second group has seen the whole group.
    return stats.drop_duplicates(["customer_id", "event_timestamp"], keep="last", ignore_index=True)


def customer_profile(customers: pd.DataFrame) -> pd.DataFrame:
    """The profile table is the validated customer snapshot itself."""
    return customers[["customer_id", "event_timestamp", *PROFILE_FEATURES]].copy()


def as_of_just_before(timestamps: pd.Series) -> pd.Series:
    """Point-in-time keys for training: the features that existed before each event."""
    return timestamps - FEATURE_LOOKBACK
