"""The monitor's checks on synthetic windows with pinned seeds: the false-alarm budget and its
split, the segment minimum, matured labels, and the verdict on clearly drifted or undrifted
windows (20 per scenario; the 200-window matrix on generated traffic is
bench/monitor_detection.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from fraud_detection.config import MonitorSettings
from fraud_detection.errors import MonitoringError
from fraud_detection.monitoring.checks import (
    FAMILY_WEIGHTS,
    CheckLimits,
    Reference,
    allocate_alpha,
    average_precision,
    average_precision_draws,
    judge,
    matured,
    quantile_test,
    rate_test,
    whole_days,
)
from fraud_detection.monitoring.job import prometheus
from fraud_detection.monitoring.verdict import decide

COLUMNS = ["amount", "merchant_category", "distance_from_home_km", "card_present", "hour_of_day"]
CATEGORIES = np.array(["grocery", "online_retail", "electronics", "fuel"])
THRESHOLD = 0.5
LIMITS = CheckLimits(min_segment_rows=200, resamples=2_000)
SETTINGS = MonitorSettings(min_rows=100)


def traffic(rows: int, seed: int, amount_scale: float = 1.0, card_present: float = 0.92,
            fraud_rate: float = 0.01) -> pd.DataFrame:  # fmt: skip
    """Transactions whose fraud the model scores high (Beta(8, 2)) and legitimate spending low
    (Beta(1, 30)): a 5x fraud rate moves the decline rate from about 1 % to 5 %."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(rows) < fraud_rate
    category = rng.choice(CATEGORIES, rows, p=[0.4, 0.3, 0.1, 0.2])
    in_store = category != "online_retail"
    return pd.DataFrame({
        "amount": rng.lognormal(3.5, 0.9, rows) * amount_scale,
        "merchant_category": category,
        "distance_from_home_km": rng.exponential(8.0, rows),
        "card_present": (rng.random(rows) < np.where(in_store, card_present, 0.05)).astype(int),
        "hour_of_day": rng.integers(0, 24, rows),
        "prediction": np.where(fraud, rng.beta(8, 2, rows), rng.beta(1, 30, rows)),
        "is_fraud": fraud.astype(float),
    })  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.of(traffic(20_000, seed=1), COLUMNS, THRESHOLD)


SCENARIOS = {
    "amounts x 1.6": {"amount_scale": 1.6},
    "card present 0.92 -> 0.5": {"card_present": 0.5},
    "fraud attack 5x": {"fraud_rate": 0.05},
}


def fired(reference: Reference, seed: int, **shift: float) -> list[str]:
    judgement = judge(reference, traffic(2_000, seed, **shift), COLUMNS, LIMITS)
    return [f"{c.family}:{c.name}" for c in judgement.failed()]


def test_undrifted_windows_keep_within_the_false_alarm_budget(reference: Reference) -> None:
    """At 1 % per window, 20 windows expect 0.2 false alarms; two would already be unlikely
    (1.7 %)."""
    alarms = [fired(reference, seed) for seed in range(100, 120)]
    assert sum(bool(a) for a in alarms) <= 1, alarms


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_shift_is_detected_in_every_window(reference: Reference, scenario: str) -> None:
    alarms = [fired(reference, seed, **SCENARIOS[scenario]) for seed in range(200, 220)]
    assert all(alarms), alarms


def test_each_shift_is_caught_by_the_check_that_should_see_it(reference: Reference) -> None:
    assert "feature_drift:amount" in fired(reference, 300, amount_scale=1.6)
    assert "feature_drift:card_present" in fired(reference, 300, card_present=0.5)
    attack = fired(reference, 300, fraud_rate=0.05)
    assert "decline_rate:decline_rate" in attack and "segment:card_present=0" in attack


def test_the_budget_is_split_by_weight_and_never_exceeded() -> None:
    tests: dict[Any, int] = {"feature_drift": 14, "prediction_drift": 1, "decline_rate": 1,
                             "score_quantile": 3, "segment": 11, "quality": 1}  # fmt: skip
    alphas: dict[Any, float] = allocate_alpha(0.01, tests)
    assert sum(alphas[f] * n for f, n in tests.items()) == pytest.approx(0.01)
    assert alphas["feature_drift"] == pytest.approx(0.01 * FAMILY_WEIGHTS["feature_drift"] / 14)
    assert alphas["score_quantile"] == pytest.approx(0.0005)
    # A family with nothing to run spends nothing; the others keep their own shares.
    fewer = allocate_alpha(0.01, {**tests, "quality": 0, "segment": 2})
    assert "quality" not in fewer and fewer["segment"] == pytest.approx(0.001)
    assert fewer["feature_drift"] == alphas["feature_drift"]


@pytest.mark.parametrize(
    ("budget", "weights", "message"),
    [(1.5, FAMILY_WEIGHTS, "within \\(0, 1\\)"),
     (0.01, {"feature_drift": 0.5, "segment": 0.2}, "sum to 1")],
)  # fmt: skip
def test_a_bad_budget_is_refused_by_name(
    budget: float, weights: dict[Any, float], message: str
) -> None:
    with pytest.raises(MonitoringError, match=message):
        allocate_alpha(budget, {"feature_drift": 3}, weights)


def test_every_check_of_a_window_shares_one_budget(reference: Reference) -> None:
    judgement = judge(reference, traffic(2_000, 7), COLUMNS, LIMITS)
    spent = sum(c.alpha for c in judgement.checks if c.status != "skipped")
    assert spent == pytest.approx(LIMITS.family_alpha)


def test_segments_below_the_minimum_are_skipped_and_say_why(reference: Reference) -> None:
    window = traffic(1_500, 8)  # electronics: about 150 rows, below 200; grocery: about 600
    judgement = judge(reference, window, COLUMNS, LIMITS)
    segments = {c.name: c for c in judgement.of("segment")}
    small = segments["merchant_category=electronics"]
    assert small.status == "skipped" and small.alpha == 0.0
    assert small.detail.endswith("at least 200 of each needed")
    assert segments["merchant_category=grocery"].status == "pass"
    run = [c for c in segments.values() if c.status != "skipped"]
    assert all(c.alpha == pytest.approx(0.01 * FAMILY_WEIGHTS["segment"] / len(run)) for c in run)


def test_a_band_holds_exactly_the_counts_its_test_accepts() -> None:
    for count in range(0, 60):
        p, low, high = rate_test(count, 1_000, 200, 20_000, alpha=0.0015)
        assert (p <= 0.0015) == (not low <= count / 1_000 <= high), count
    rng = np.random.default_rng(3)
    reference = np.sort(rng.beta(1, 12, 20_000))
    for seed in range(30):
        window = np.random.default_rng(seed).beta(1, 12 if seed % 2 else 9, 1_000)
        observed, p, low, high = quantile_test(window, reference, 0.9, alpha=0.0005)
        assert (p <= 0.0005) == (not low <= observed < high), seed


def test_pr_auc_and_its_resamples_are_scikit_learns() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(3_000) < 0.02).astype(int)
    scores = np.round(np.clip(rng.normal(0.1 + 0.5 * y, 0.2), 0, 1), 2)  # ties on purpose
    assert average_precision(y, scores) == pytest.approx(average_precision_score(y, scores))
    draws = average_precision_draws(y, scores, 2_000, seed=0)
    fraud, legit = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    brute = []
    for _ in range(300):
        rows = np.r_[rng.choice(fraud, fraud.size), rng.choice(legit, legit.size)]
        brute.append(average_precision_score(y[rows], scores[rows]))
    assert draws.mean() == pytest.approx(np.mean(brute), abs=0.01)
    assert draws.std() == pytest.approx(np.std(brute), rel=0.2)


def test_quality_fails_only_when_the_drop_clears_its_confidence_bound(
    reference: Reference,
) -> None:
    window = traffic(6_000, 9)
    same = judge(reference, window, COLUMNS, LIMITS)
    (check,) = same.of("quality")
    assert check.status == "pass" and check.rows == 6_000
    guessing = window.assign(prediction=np.random.default_rng(0).random(len(window)))
    (worse,) = judge(reference, guessing, COLUMNS, LIMITS).of("quality")
    assert worse.status == "fail" and worse.statistic is not None and worse.statistic > 0.1


def test_quality_is_skipped_without_enough_matured_fraud_labels(reference: Reference) -> None:
    window = traffic(2_000, 10)
    window.loc[window.index[200:], "is_fraud"] = np.nan  # most labels not matured yet
    (check,) = judge(reference, window, COLUMNS, LIMITS).of("quality")
    assert check.status == "skipped" and "at least 10 of each needed" in check.detail
    (none,) = judge(reference, window.drop(columns="is_fraud"), COLUMNS, LIMITS).of("quality")
    assert none.status == "skipped" and none.detail == "no matured labels"


def test_only_labels_known_by_the_window_end_count() -> None:
    end = datetime(2026, 3, 2, tzinfo=UTC)
    labels = pd.DataFrame({
        "transaction_id": ["a", "b", "c"], "is_fraud": [1, 0, 1],
        "label_available_at": pd.to_datetime(["2026-03-01", "2026-03-05", None], utc=True),
    })  # fmt: skip
    assert matured(labels, end)["transaction_id"].tolist() == ["a", "c"]
    without = labels.drop(columns="label_available_at")
    assert matured(without, end)["transaction_id"].tolist() == ["a", "b", "c"]


def test_the_verdict_names_each_failed_check_and_puts_quality_first(
    reference: Reference,
) -> None:
    window = traffic(6_000, 11, amount_scale=1.6)
    window = window.assign(prediction=np.random.default_rng(1).random(len(window)))
    verdict = decide(len(window), 0, judge(reference, window, COLUMNS, LIMITS), SETTINGS)
    assert verdict.status == "quality" and verdict.retrain
    assert verdict.reasons[0].startswith("quality: PR-AUC drop")
    assert any(r.startswith("feature_drift amount: Kolmogorov-Smirnov") for r in verdict.reasons)
    ok = decide(2_000, 0, judge(reference, traffic(2_000, 12), COLUMNS, LIMITS), SETTINGS)
    assert ok.status == "ok" and ok.reasons == ["within limits"]
    assert decide(50, 0, None, SETTINGS).status == "insufficient_data"


def test_every_check_is_exported_for_the_alert_rules(reference: Reference) -> None:
    judgement = judge(reference, traffic(1_500, 8, fraud_rate=0.05), COLUMNS, LIMITS)
    verdict = decide(1_500, 0, judgement, SETTINGS)
    lines = prometheus(verdict, {"drifted_share": 0.0}, judgement).splitlines()
    assert 'fraud_monitor_status{status="drift"} 1' in lines
    assert 'fraud_monitor_check_failed{family="decline_rate",check="decline_rate"} 1' in lines
    assert 'fraud_monitor_segment_skipped{segment="merchant_category=electronics"} 1' in lines
    assert not [s for s in lines if s.startswith('fraud_monitor_segment_decline_rate{segment="'
                                                 'merchant_category=electronics"')]  # fmt: skip
    assert "fraud_monitor_family_alpha 0.01" in lines
    samples = [s.split(" ")[0] for s in lines if s and not s.startswith("#")]
    assert len(samples) == len(set(samples))  # each series once
    assert {"fraud_monitor_pr_auc", "fraud_monitor_pr_auc_drop_lower_bound",
            "fraud_monitor_matured_labels"} <= set(samples)  # fmt: skip


def test_a_reference_starting_mid_day_is_compared_from_its_first_whole_day() -> None:
    at = pd.date_range("2026-03-01 17:00", "2026-03-04 00:00", freq="30min", tz="UTC",
                       inclusive="left")  # fmt: skip
    reference = pd.DataFrame({"event_timestamp": at, "amount": 1.0})
    kept = whole_days(reference)
    assert kept["event_timestamp"].min() == pd.Timestamp("2026-03-02", tz="UTC")
    assert len(kept) == 96
    midnight = reference[reference["event_timestamp"] >= pd.Timestamp("2026-03-02", tz="UTC")]
    assert whole_days(midnight).equals(midnight)
