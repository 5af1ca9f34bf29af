"""Velocity as of each transaction: windows over the card's earlier transactions that decay,
checked against a brute-force count, and the same values online as offline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import DataSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.card_events import SQLiteCardEvents, event, events_of
from fraud_detection.features.velocity import VELOCITY_FEATURES, micros, velocity_features

T0 = pd.Timestamp("2026-01-01 12:00", tz="UTC")


def history() -> pd.DataFrame:
    after = pd.to_timedelta
    return pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d", "e"],
            "customer_id": [1, 1, 1, 1, 2],
            "event_timestamp": [T0, T0 + after("30min"), T0 + after("2h"), T0 + after("2D"),
                                T0 + after("10min")],
            "amount": [10.0, 20.0, 40.0, 80.0, 5.0],
        }
    )  # fmt: skip


def test_each_transaction_sees_only_the_cards_earlier_ones_in_each_window() -> None:
    values = velocity_features(history())
    card = values.iloc[:4]
    assert card["txn_count_1h"].tolist() == [0, 1, 0, 0]  # 2 h later, the 1 h window is empty
    assert card["txn_count_24h"].tolist() == [0, 1, 2, 0]
    assert card["amount_sum_24h"].tolist() == [0.0, 10.0, 30.0, 0.0]
    assert card["txn_count_30d"].tolist() == [0, 1, 2, 3]
    assert card["amount_mean_30d"].iloc[1:].tolist() == [10.0, 15.0, pytest.approx(23.33)]
    assert np.isnan(card["amount_mean_30d"].iloc[0])  # no earlier transaction: unknown, not 0
    assert values.iloc[4]["txn_count_30d"] == 0  # cards never mix


def test_a_window_holds_events_from_its_start_up_to_but_not_including_the_transaction() -> None:
    at_edge = pd.DataFrame(
        {"customer_id": [1, 1, 1], "amount": [1.0, 2.0, 4.0],
         "event_timestamp": [T0, T0 + pd.Timedelta("1h"), T0 + pd.Timedelta("1h")]}
    )  # fmt: skip
    values = velocity_features(at_edge)
    # Exactly 1 h earlier is in; the other transaction at the same instant is not.
    assert values["txn_count_1h"].tolist() == [0, 1, 1]


def test_no_feature_sees_the_future_or_the_transaction_itself() -> None:
    frame = generate(DataSettings(n_customers=60, days=35, end=date(2026, 1, 1))).transactions
    values = velocity_features(frame)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(frame), 60, replace=False):
        row = frame.iloc[i]
        card = frame[frame["customer_id"] == row["customer_id"]]
        for length, count, total in (("1h", "txn_count_1h", None),
                                     ("24h", "txn_count_24h", "amount_sum_24h"),
                                     ("30D", "txn_count_30d", None)):  # fmt: skip
            start = row["event_timestamp"] - pd.Timedelta(length)
            when = card["event_timestamp"]
            earlier = card[(when >= start) & (when < row["event_timestamp"])]
            assert values.iloc[i][count] == len(earlier)
            if total:
                assert values.iloc[i][total] == pytest.approx(earlier["amount"].sum(), abs=1e-9)


def test_the_online_store_gives_every_transaction_its_offline_values(tmp_path: Path) -> None:
    frame = generate(DataSettings(n_customers=40, days=40, end=date(2026, 1, 1))).transactions
    offline = velocity_features(frame)
    cut = frame["event_timestamp"].max() - pd.Timedelta("3D")
    store = SQLiteCardEvents(tmp_path / "card_events.db")
    store.backfill(events_of(frame[frame["event_timestamp"] < cut]))
    live = frame[frame["event_timestamp"] >= cut].sort_values("event_timestamp")
    for index, row in live.iterrows():
        (online,) = store.record_and_read(
            [event(row["customer_id"], micros(row["event_timestamp"]), row["amount"],
                   row["transaction_id"])]
        )  # fmt: skip
        expected = offline.loc[index]
        for name in VELOCITY_FEATURES:
            value = online.values[name]
            assert (value is None and np.isnan(expected[name])) or value == expected[name], name


def test_a_burst_on_one_card_in_one_request_counts_up_in_event_time_order(
    tmp_path: Path,
) -> None:
    store = SQLiteCardEvents(tmp_path / "card_events.db")
    times = [micros(T0 + pd.Timedelta(minutes=m)) for m in (4, 0, 3, 1, 2)]  # shuffled
    burst = [event(7, t, 50.0, f"x{i}") for i, t in enumerate(times)]
    counts = {e.transaction_id: v.values["txn_count_1h"]
              for e, v in zip(burst, store.record_and_read(burst), strict=True)}  # fmt: skip
    assert [counts[f"x{i}"] for i in (1, 3, 4, 2, 0)] == [0, 1, 2, 3, 4]


def test_recording_a_transaction_again_counts_it_once(tmp_path: Path) -> None:
    store = SQLiteCardEvents(tmp_path / "card_events.db")
    first = event(7, micros(T0), 50.0, "same")
    store.record_and_read([first])
    store.backfill([first])
    (later,) = store.record_and_read([event(7, micros(T0 + pd.Timedelta("1min")), 1.0, "n")])
    assert later.values["txn_count_1h"] == 1


def test_an_event_older_than_its_cards_newest_beyond_the_tolerance_is_counted_and_flagged(
    tmp_path: Path,
) -> None:
    store = SQLiteCardEvents(tmp_path / "card_events.db")
    store.record_and_read([event(7, micros(T0 + pd.Timedelta("30min")), 5.0, "new")])
    (slightly,) = store.record_and_read([event(7, micros(T0 + pd.Timedelta("27min")), 5.0, "s")])
    (late,) = store.record_and_read([event(7, micros(T0), 5.0, "old")])
    assert not slightly.late and late.late
    (after,) = store.record_and_read([event(7, micros(T0 + pd.Timedelta("40min")), 5.0, "z")])
    assert after.values["txn_count_1h"] == 3
