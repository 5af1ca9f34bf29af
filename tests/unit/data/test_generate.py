"""The synthetic data: deterministic, realistic enough to learn from, and shiftable on purpose."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from fraud_detection.config import DataSettings
from fraud_detection.data.generate import DriftSpec, generate
from fraud_detection.errors import FraudDetectionError

SETTINGS = DataSettings(n_customers=300, days=30, end=date(2026, 1, 1))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(SETTINGS).transactions


def night_share(frame: pd.DataFrame) -> float:
    return float((frame["event_timestamp"].dt.hour < 6).mean())


def test_same_settings_give_the_same_rows(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, generate(SETTINGS).transactions)


def test_another_seed_gives_other_rows(frame: pd.DataFrame) -> None:
    other = generate(SETTINGS.model_copy(update={"seed": 8})).transactions
    assert not frame["amount"].head(100).equals(other["amount"].head(100))


def test_history_spans_the_configured_days(frame: pd.DataFrame) -> None:
    end = pd.Timestamp(SETTINGS.end, tz="UTC")
    assert frame["event_timestamp"].max() < end
    assert frame["event_timestamp"].min() >= end - timedelta(days=SETTINGS.days)


def test_fraud_rate_is_near_the_setting(frame: pd.DataFrame) -> None:
    assert 0.5 * SETTINGS.fraud_rate < frame["is_fraud"].mean() < 2 * SETTINGS.fraud_rate


def test_fraud_looks_like_fraud(frame: pd.DataFrame) -> None:
    fraud, legit = frame[frame["is_fraud"] == 1], frame[frame["is_fraud"] == 0]
    assert fraud["distance_from_home_km"].median() > 5 * legit["distance_from_home_km"].median()
    assert fraud["card_present"].mean() < legit["card_present"].mean() / 2
    assert night_share(fraud) > 2 * night_share(legit)


def test_amount_drift_scales_legitimate_amounts(frame: pd.DataFrame) -> None:
    drifted = generate(SETTINGS, DriftSpec(amount_scale=3.0)).transactions
    ratio = (
        drifted.loc[drifted["is_fraud"] == 0, "amount"].median()
        / frame.loc[frame["is_fraud"] == 0, "amount"].median()
    )
    assert 2.5 < ratio < 3.5


def test_night_share_drift_moves_legitimate_spending_to_the_night() -> None:
    drifted = generate(SETTINGS, DriftSpec(night_share=0.5)).transactions
    assert night_share(drifted[drifted["is_fraud"] == 0]) == pytest.approx(0.5, abs=0.03)


def test_drift_settings_parse_from_text() -> None:
    spec = DriftSpec.parse("amount_scale=2, night_share=0.3")
    assert (spec.amount_scale, spec.night_share) == (2.0, 0.3)
    assert DriftSpec.parse("") == DriftSpec()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("colour=2", "colour=2"),
        ("amount_scale=lots", "'lots' is not a number"),
        ("night_share=1.5", "night_share must be within [0, 1]"),
        ("amount_scale=0", "amount_scale must be > 0"),
    ],
)
def test_bad_drift_settings_are_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(FraudDetectionError) as failure:
        DriftSpec.parse(text)
    assert named in str(failure.value)
