"""Evaluation on a time-based holdout: ranking, recall at a fixed false-positive rate, calibration.

Fraud teams budget alerts, not accuracy: "recall at 1% FPR" says how much fraud is caught when
1% of good customers get declined. PR-AUC summarises ranking under heavy imbalance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

CURVE_POINTS = 101


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
    roc: dict[str, list[float]] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """Scalar metrics only."""
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
    y_true: np.ndarray, scores: np.ndarray, threshold: float, target_fpr: float
) -> Evaluation:
    """Score `scores` against labels; `threshold` comes from the validation split."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    decisions = scores >= threshold
    tn, fp, fn, tp = confusion_matrix(y_true, decisions, labels=[0, 1]).ravel()
    grid = np.linspace(0, 1, CURVE_POINTS)
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
    )


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean |predicted - observed| fraud rate over equal-width score bins, weighted by size."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(scores[mask].mean() - y_true[mask].mean())
    return float(error)
