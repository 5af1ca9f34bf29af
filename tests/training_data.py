"""A small point-in-time training set for the unit tests: generated transactions joined with
the aggregates that existed just before each (as Feast's historical retrieval does) and with
the customers' profile."""

from __future__ import annotations

from datetime import date

import pandas as pd

from fraud_detection.config import DataSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.aggregates import as_of_just_before, customer_transaction_stats


def point_in_time_training_set(n_customers: int, days: int) -> pd.DataFrame:
    data = generate(DataSettings(n_customers=n_customers, days=days, end=date(2026, 1, 1)))
    frame = data.transactions.sort_values("event_timestamp", ignore_index=True)
    stats = customer_transaction_stats(frame).sort_values("event_timestamp")
    keys = frame.assign(as_of=as_of_just_before(frame["event_timestamp"]))
    joined = pd.merge_asof(
        keys.sort_values("as_of"), stats.rename(columns={"event_timestamp": "stats_at"}),
        left_on="as_of", right_on="stats_at", by="customer_id",
    )  # fmt: skip
    joined = joined.merge(data.customers.drop(columns="event_timestamp"), on="customer_id")
    return joined.sort_values("event_timestamp", ignore_index=True)
