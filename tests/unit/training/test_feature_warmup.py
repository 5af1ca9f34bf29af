"""The feature warm-up: the history's first days, whose velocity windows are still filling, never
reach the training set."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from fraud_detection.config import DataSettings, TrainingSettings
from fraud_detection.data.generate import generate
from fraud_detection.errors import TrainingError
from fraud_detection.features.velocity import velocity_features
from fraud_detection.training.split import after_warmup

HISTORY = DataSettings(n_customers=300, days=50, end=date(2026, 3, 2), seed=3)


def test_the_warm_up_keeps_only_rows_whose_windows_saw_the_full_past() -> None:
    frame = generate(HISTORY).transactions
    frame = frame.assign(**velocity_features(frame))
    kept = after_warmup(frame, TrainingSettings().feature_warmup_days)
    start = frame["event_timestamp"].min()
    assert kept["event_timestamp"].min() >= start + pd.Timedelta(days=30)
    assert len(kept) == int((frame["event_timestamp"] >= start + pd.Timedelta(days=30)).sum())
    # What the warm-up is for: the 30-day count is lower in the first 30 days, and level after.
    day = (frame["event_timestamp"] - start) // pd.Timedelta(days=1)
    daily = frame.groupby(day)["txn_count_30d"].mean()
    assert daily.loc[5:9].mean() < 0.5 * daily.loc[35:44].mean()
    assert daily.loc[35:39].mean() == pytest.approx(daily.loc[45:49].mean(), rel=0.1)


def test_no_warm_up_keeps_every_row() -> None:
    frame = generate(HISTORY).transactions
    assert after_warmup(frame, 0.0) is frame


def test_a_history_inside_the_warm_up_is_refused_with_the_setting_named() -> None:
    frame = generate(HISTORY.model_copy(update={"days": 20})).transactions
    with pytest.raises(TrainingError, match=r"spans 20\.0 days.*feature_warmup_days=30"):
        after_warmup(frame, 30.0)
