"""Evaluation on a time-based holdout: ranking, recall at a fixed false-positive rate, calibration.

Fraud teams budget alerts, not accuracy: "recall at 1% FPR" says how much fraud is caught when
1% of good customers get declined. PR-AUC summarises ranking under heavy imbalance. Given the
holdout's cards, days and amounts (`evaluate_frame`), the evaluation adds what an investigation
team reads: card precision at k alerts a day (of the k cards it can review each day, how many
had a fraud) and the fraud amount caught at the deployed threshold; and, always, a reliability
table whose observed rates carry Wilson intervals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from fraud_detection.data.contract import LABEL

CURVE_POINTS = 101
RELIABILITY_BINS = 10  # equal-width score bins, as in `expected_calibration_error`
CONFIDENCE = 0.95  # of the Wilson intervals on observed rates


@dataclass
class Evaluation:
    """Holdout metrics; `metrics()` is what the gate and the model card read."""

    roc_auc: float
    pr_auc: float
    recall_at_fpr: float  # best recall with FPR <= target_fpr (threshold-free, comparable)
    target_fpr: float
    threshold: float  # decision threshold chosen on the validation split
    recall_at_threshold: float
    fpr_at_threshold: float
    brier: float
    expected_calibration_error: float
    rows: int
    positives: int
    # Fraud amount flagged at `threshold`, and its share of all fraud amount (with amounts).
    fraud_amount: float | None = None
    fraud_amount_caught: float | None = None
    fraud_amount_share_caught: float | None = None
    # Per day, the `alerts_per_day` highest-scored cards: the share with a fraud that day
    # (with cards and days), and its Wilson interval.
    alerts_per_day: int | None = None
    cards_alerted: int | None = None
    card_precision_at_k: float | None = None
    card_precision_at_k_low: float | None = None
    card_precision_at_k_high: float | None = None
    roc: dict[str, list[float]] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    reliability: list[dict[str, float]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """Scalar metrics only (those not computed, None, left out)."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, int | float)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def threshold_at_fpr(y_true: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Lowest threshold whose false-positive rate stays within `target_fpr`."""
    negatives = np.sort(scores[y_true == 0])[::-1]
    allowed = int(np.floor(target_fpr * len(negatives)))
    if allowed >= len(negatives):
        return 0.0
    # Strictly above the (allowed+1)-th highest negative score.
    return float(np.nextafter(negatives[allowed], np.inf))


def evaluate(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, target_fpr: float,
    *, amounts: np.ndarray | None = None, cards: np.ndarray | None = None,
    days: np.ndarray | None = None, alerts_per_day: int | None = None,
) -> Evaluation:  # fmt: skip
    """Score `scores` against labels; `threshold` comes from the validation split.

    Args:
        amounts: Each row's amount: adds the fraud amount caught at `threshold`.
        cards, days, alerts_per_day: Each row's card and day, and the cards reviewed a day:
            adds card precision at `alerts_per_day` (all three, or none).
    """
    fpr, tpr, _ = roc_curve(y_true, scores)
    decisions = scores >= threshold
    tn, fp, fn, tp = confusion_matrix(y_true, decisions, labels=[0, 1]).ravel()
    grid = np.linspace(0, 1, CURVE_POINTS)
    extra: dict[str, Any] = {}
    if amounts is not None:
        extra.update(amount_caught(y_true, scores, amounts, threshold))
    if cards is not None and days is not None and alerts_per_day is not None:
        extra.update(card_precision_at_k(y_true, scores, cards, days, alerts_per_day))
    return Evaluation(
        roc_auc=float(roc_auc_score(y_true, scores)),
        pr_auc=float(average_precision_score(y_true, scores)),
        recall_at_fpr=float(tpr[fpr <= target_fpr].max()),
        target_fpr=target_fpr,
        threshold=float(threshold),
        recall_at_threshold=float(tp / max(tp + fn, 1)),
        fpr_at_threshold=float(fp / max(fp + tn, 1)),
        brier=float(brier_score_loss(y_true, scores)),
        expected_calibration_error=expected_calibration_error(y_true, scores),
        rows=len(y_true),
        positives=int(y_true.sum()),
        roc={
            "fpr": grid.tolist(),
            "tpr": np.interp(grid, fpr, tpr).tolist(),
            # A threshold per grid point, for KFP's ROC curve view.
            "threshold": [float(threshold_at_fpr(y_true, scores, x)) for x in grid],
        },
        confusion=[[int(tn), int(fp)], [int(fn), int(tp)]],
        reliability=reliability_table(y_true, scores),
        **extra,
    )


def evaluate_frame(
    frame: pd.DataFrame, scores: np.ndarray, threshold: float, target_fpr: float,
    alerts_per_day: int,
) -> Evaluation:  # fmt: skip
    """`evaluate` on labelled transactions: labels, amounts, cards (`customer_id`) and UTC days
    (of `event_timestamp`) read from `frame`, aligned with `scores`."""
    return evaluate(
        frame[LABEL].to_numpy(), scores, threshold, target_fpr,
        amounts=frame["amount"].to_numpy(dtype=float),
        cards=frame["customer_id"].to_numpy(),
        days=frame["event_timestamp"].dt.floor("D").to_numpy(),
        alerts_per_day=alerts_per_day,
    )  # fmt: skip


def amount_caught(
    y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray, threshold: float
) -> dict[str, float]:
    """The fraud amount flagged at `threshold`: absolute, and as a share of all fraud amount
    (0 when there is no fraud amount)."""
    fraud = np.asarray(y_true) == 1
    total = float(amounts[fraud].sum())
    caught = float(amounts[fraud & (scores >= threshold)].sum())
    return {
        "fraud_amount": total,
        "fraud_amount_caught": caught,
        "fraud_amount_share_caught": caught / total if total > 0 else 0.0,
    }


def card_precision_at_k(
    y_true: np.ndarray, scores: np.ndarray, cards: np.ndarray, days: np.ndarray, k: int
) -> dict[str, float | int]:
    """Card precision at k alerts a day: each day, the k cards with the highest score that
    day (a card's score is its highest transaction score; ties go to the lower card id); the
    share of all those alerts whose card had a fraud that day, with its Wilson interval.

    Days with fewer than k active cards alert them all. Pooling the alerts of all days (rather
    than averaging daily shares) weighs each alert alike.

    Raises:
        ValueError: if k < 1.
    """
    if k < 1:
        raise ValueError(f"alerts per day must be at least 1, got {k}")
    rows = pd.DataFrame({"day": days, "card": cards, "fraud": np.asarray(y_true).astype(int),
                         "score": scores})  # fmt: skip
    per_card = rows.groupby(["day", "card"], sort=True).agg(
        fraud=("fraud", "max"), score=("score", "max")
    )
    ranked = per_card.reset_index().sort_values(
        ["day", "score", "card"], ascending=[True, False, True], kind="stable"
    )
    alerted = ranked.groupby("day", sort=False).head(k)
    hits, alerts = int(alerted["fraud"].sum()), len(alerted)
    low, high = wilson(hits, alerts)
    return {
        "alerts_per_day": int(k),
        "cards_alerted": alerts,
        "card_precision_at_k": hits / alerts if alerts else 0.0,
        "card_precision_at_k_low": low,
        "card_precision_at_k_high": high,
    }


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (scipy's `binomtest`); (0, 1) for no
    trials. Wilson rather than the normal approximation: it stays inside [0, 1] and keeps its
    coverage for rates near 0, which a fraud rate in a score bin often is."""
    if trials == 0:
        return 0.0, 1.0
    interval = binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def reliability_table(
    y_true: np.ndarray, scores: np.ndarray, bins: int = RELIABILITY_BINS
) -> list[dict[str, float]]:
    """Per non-empty equal-width score bin: its edges, count, mean predicted probability,
    observed fraud rate, and the rate's Wilson interval at `CONFIDENCE`."""
    which = _bin_of(scores, bins)
    y = np.asarray(y_true).astype(int)
    table = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if not count:
            continue
        frauds = int(y[mask].sum())
        low, high = wilson(frauds, count)
        table.append({
            "bin_low": b / bins, "bin_high": (b + 1) / bins, "count": count,
            "mean_predicted": float(scores[mask].mean()), "observed_rate": frauds / count,
            "observed_low": low, "observed_high": high,
        })  # fmt: skip
    return table


def _bin_of(scores: np.ndarray, bins: int) -> np.ndarray:
    """Each score's equal-width bin over [0, 1] (a score of 1 falls in the last)."""
    edges = np.linspace(0, 1, bins + 1)
    which: np.ndarray = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    return which


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean |predicted - observed| fraud rate over equal-width score bins, weighted by size."""
    which = _bin_of(scores, bins)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(scores[mask].mean() - y_true[mask].mean())
    return float(error)
