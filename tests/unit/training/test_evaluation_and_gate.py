"""Time split, metrics and the validation gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import GateSettings
from fraud_detection.errors import TrainingError
from fraud_detection.training.evaluate import (
    CURVE_POINTS,
    evaluate,
    expected_calibration_error,
    threshold_at_fpr,
)
from fraud_detection.training.gate import Holdout, HoldoutScores, decide
from fraud_detection.training.split import time_split

rng = np.random.default_rng(0)


def labelled_days(days: int = 30, per_day: int = 20) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01", tz="UTC")
    times = [
        start + pd.Timedelta(days=d, hours=h % 24) for d in range(days) for h in range(per_day)
    ]
    labels = [int(i % 10 == 0) for i in range(len(times))]
    return pd.DataFrame({"event_timestamp": times, "is_fraud": labels})


def test_split_keeps_every_row_in_time_order_without_overlap() -> None:
    frame = labelled_days()
    split = time_split(frame, holdout_days=5, validation_days=3)
    assert len(split.train) + len(split.validation) + len(split.holdout) == len(frame)
    assert split.train["event_timestamp"].max() < split.validation["event_timestamp"].min()
    assert split.validation["event_timestamp"].max() < split.holdout["event_timestamp"].min()
    newest = frame["event_timestamp"].max()
    assert split.holdout["event_timestamp"].min() >= newest - pd.Timedelta(days=5)


def test_single_class_is_refused_with_the_reason() -> None:
    with pytest.raises(TrainingError, match="single class"):
        time_split(labelled_days().assign(is_fraud=0), holdout_days=5, validation_days=3)


def test_a_window_too_short_for_the_split_is_refused() -> None:
    with pytest.raises(TrainingError, match="empty"):
        time_split(labelled_days(days=6), holdout_days=5, validation_days=3)


@pytest.mark.parametrize("target", [0.001, 0.01, 0.05, 0.2])
def test_threshold_keeps_the_false_positive_rate_within_budget(target: float) -> None:
    y = (rng.random(5_000) < 0.1).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    threshold = threshold_at_fpr(y, scores, target)
    fpr = ((scores >= threshold) & (y == 0)).sum() / (y == 0).sum()
    assert fpr <= target


def test_perfect_scores_give_perfect_ranking_metrics() -> None:
    y = np.array([0] * 90 + [1] * 10)
    scores = y * 0.9 + 0.05
    result = evaluate(y, scores, threshold=0.5, target_fpr=0.01)
    assert result.roc_auc == 1.0 and result.pr_auc == 1.0 and result.recall_at_fpr == 1.0
    assert sum(map(sum, result.confusion)) == 100
    assert len(result.roc["fpr"]) == CURVE_POINTS


def test_random_scores_rank_at_chance() -> None:
    y = (rng.random(20_000) < 0.2).astype(int)
    assert evaluate(y, rng.random(20_000), 0.5, 0.01).roc_auc == pytest.approx(0.5, abs=0.03)


def test_calibration_error_is_zero_when_scores_match_observed_rates() -> None:
    y = np.array([1] * 3 + [0] * 7 + [1] * 8 + [0] * 2)
    calibrated = np.array([0.3] * 10 + [0.8] * 10)
    assert expected_calibration_error(y, calibrated) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.array([0.95] * 20)) > 0.3


GATE = GateSettings(min_roc_auc=0.9, min_pr_auc=0.5, min_recall_at_fpr=0.5, max_regression=0.02)
GOOD = {"roc_auc": 0.99, "pr_auc": 0.80, "recall_at_fpr": 0.80}


def quiet_holdout() -> tuple[Holdout, np.ndarray]:
    """Ten days of 100 customers' transactions (ten each), one in 25 fraud (40 customers with
    one fraud row each), and scores that flag only the fraud: an operating point well within
    budget. (The comparison with a champion and the operating point: test_gate_bootstrap.py.)"""
    labels = np.array([int(i % 25 == 0) for i in range(1_000)])
    holdout = Holdout(labels, np.arange(1_000) // 10, days=10.0)
    return holdout, labels * 0.9 + 0.05


def candidate(metrics: dict[str, float]) -> tuple[HoldoutScores, Holdout]:
    holdout, scores = quiet_holdout()
    return HoldoutScores(metrics, scores, threshold=0.5), holdout


def test_gate_passes_a_candidate_over_every_floor() -> None:
    decision = decide(*candidate(GOOD), GATE)
    assert decision.passed and decision.reasons == ["all checks passed"]


def test_gate_names_the_metric_below_its_floor() -> None:
    decision = decide(*candidate({**GOOD, "pr_auc": 0.4}), GATE)
    assert not decision.passed
    assert decision.reasons == ["failed: pr_auc >= 0.500 (candidate 0.400)"]


def test_gate_refuses_a_candidate_worse_than_the_champion_beyond_the_margin() -> None:
    """The candidate misses a fifth of the fraud it should catch, on every customer."""
    holdout, perfect = quiet_holdout()
    missed = (holdout.labels == 1) & (np.arange(1_000) % 125 == 0)  # 8 of the 40 fraud rows
    worse = np.where(missed, 0.01, perfect)
    champion = HoldoutScores(GOOD, perfect, 0.5, "v1")
    decision = decide(HoldoutScores({**GOOD, "recall_at_fpr": 0.8}, worse, 0.5), holdout, GATE,
                      champion)  # fmt: skip
    assert not decision.passed
    assert any(r.startswith("failed: recall_at_fpr - champion v1") for r in decision.reasons)


def test_gate_passes_the_champion_s_own_scores() -> None:
    holdout, scores = quiet_holdout()
    champion = HoldoutScores(GOOD, scores, 0.5, "v1")
    assert decide(HoldoutScores(GOOD, scores.copy(), 0.5), holdout, GATE, champion).passed
