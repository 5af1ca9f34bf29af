"""Feature computation: exact window arithmetic, no look-ahead, and the same derived features
for training and serving."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import DataSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.aggregates import as_of_just_before, customer_transaction_stats
from fraud_detection.features.derived import model_columns, model_frame

T0 = pd.Timestamp("2026-01-01 12:00", tz="UTC")


def tiny() -> pd.DataFrame:
    minutes = pd.to_timedelta
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "event_timestamp": [T0, T0 + minutes("30min"), T0 + minutes("2h"),
                                T0 + minutes("2D"), T0 + minutes("10min")],
            "amount": [10.0, 20.0, 40.0, 80.0, 5.0],
        }
    )  # fmt: skip


def test_windows_count_and_sum_up_to_and_including_each_transaction() -> None:
    stats = customer_transaction_stats(tiny())
    first = stats[stats["customer_id"] == 1].reset_index(drop=True)
    assert first["txn_count_1h"].tolist() == [1, 2, 1, 1]
    assert first["txn_count_24h"].tolist() == [1, 2, 3, 1]
    assert first["amount_sum_24h"].tolist() == [10.0, 30.0, 70.0, 80.0]
    assert first["txn_count_30d"].tolist() == [1, 2, 3, 4]
    assert first["amount_mean_30d"].tolist() == [10.0, 15.0, pytest.approx(23.33), 37.5]
    other = stats[stats["customer_id"] == 2]
    assert other["txn_count_24h"].tolist() == [1]  # customers never mix


def test_transactions_in_the_same_second_share_one_row_counting_both() -> None:
    frame = pd.concat([tiny(), tiny().iloc[[1]].assign(amount=2.0)], ignore_index=True)
    stats = customer_transaction_stats(frame)
    assert not stats.duplicated(["customer_id", "event_timestamp"]).any()
    second = stats[stats["event_timestamp"] == T0 + pd.Timedelta("30min")]
    assert second["txn_count_1h"].tolist() == [3]
    assert second["amount_sum_24h"].tolist() == [32.0]


def test_training_looks_up_features_just_before_the_transaction() -> None:
    assert (as_of_just_before(pd.Series([T0])) == T0 - pd.Timedelta(microseconds=1)).all()


def test_no_feature_row_sees_the_future() -> None:
    transactions = generate(DataSettings(n_customers=60, days=35, end=date(2026, 1, 1)))
    frame = transactions.transactions
    stats = customer_transaction_stats(frame)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(stats), 40, replace=False):
        row = stats.iloc[i]
        history = frame[
            (frame["customer_id"] == row["customer_id"])
            & (frame["event_timestamp"] <= row["event_timestamp"])
        ]

        def window(length: str, history: pd.DataFrame = history, row: pd.Series = row) -> pd.Series:
            start = row["event_timestamp"] - pd.Timedelta(length)
            return history.loc[history["event_timestamp"] > start, "amount"]

        assert row["txn_count_1h"] == len(window("1h"))
        assert row["txn_count_24h"] == len(window("24h"))
        assert row["amount_sum_24h"] == pytest.approx(window("24h").sum(), abs=0.01)
        assert row["txn_count_30d"] == len(window("30D"))


def request_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_timestamp": pd.to_datetime(["2026-01-01T03:15:00Z", "2026-01-01T22:00:00Z",
                                               "2026-01-02T10:00:00Z"]),
            "amount": [100.0, 50.0, 20.0],
            "merchant_category": ["electronics", "grocery", "fuel"],
            "distance_from_home_km": [1.0, np.nan, 3.0],
            "card_present": [True, False, True],
            "amount_mean_30d": [50.0, 0.0, np.nan],
            "credit_limit": [1000.0, np.nan, 500.0],
        }
    )  # fmt: skip


def test_model_frame_has_the_model_columns_in_order() -> None:
    looked_up = ("amount_mean_30d", "credit_limit")
    out = model_frame(request_rows(), looked_up)
    assert list(out.columns) == model_columns(looked_up)
    assert out["hour_of_day"].tolist() == [3, 22, 10]
    assert out["card_present"].tolist() == [1, 0, 1]


def test_ratios_are_missing_when_the_denominator_is_zero_or_missing() -> None:
    out = model_frame(request_rows(), ("amount_mean_30d", "credit_limit"))
    assert out["amount_to_mean_30d"].iloc[0] == 2.0
    assert out["amount_to_mean_30d"].iloc[1:].isna().all()
    assert out["amount_to_credit_limit"].tolist()[::2] == [0.1, 0.04]
    assert np.isnan(out["amount_to_credit_limit"].iloc[1])


def test_ratios_are_missing_when_the_feature_is_not_served() -> None:
    out = model_frame(request_rows().drop(columns=["credit_limit"]), ("amount_mean_30d",))
    assert out["amount_to_credit_limit"].isna().all()
