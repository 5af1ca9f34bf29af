"""What a decision threshold costs on labelled transactions.

The cost model is deliberately simple: a missed fraud costs its amount (the money is lost), a
false alarm costs a fixed review (an analyst's time, a declined good customer), and a caught
fraud costs nothing. The total over a holdout, as a function of the threshold, shows how far
the threshold picked for the FPR budget is from the cheapest one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_POINTS = 201


@dataclass(frozen=True)
class CostCurve:
    """Cost at each threshold; a transaction is flagged when its score is >= the threshold."""

    thresholds: np.ndarray
    missed_fraud: np.ndarray  # summed amount of the fraud scored below the threshold
    false_alarms: np.ndarray  # legitimate transactions flagged
    total: np.ndarray

    def cheapest(self) -> tuple[float, float]:
        """The threshold with the lowest total cost on this data, and that cost."""
        best = int(np.argmin(self.total))
        return float(self.thresholds[best]), float(self.total[best])


def cost_curve(
    y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray, false_alarm_cost: float,
    thresholds: np.ndarray | None = None,
) -> CostCurve:  # fmt: skip
    """The cost of every threshold in `thresholds` (default: an even grid over [0, 1])."""
    grid = np.linspace(0, 1, GRID_POINTS) if thresholds is None else np.asarray(thresholds)
    fraud = y_true == 1
    fraud_scores = scores[fraud]
    order = np.argsort(fraud_scores)
    # Missed fraud at t: the amounts of fraud scored strictly below t.
    missed_amount = np.concatenate([[0.0], np.cumsum(amounts[fraud][order])])
    missed = missed_amount[np.searchsorted(fraud_scores[order], grid, side="left")]
    legit_scores = np.sort(scores[~fraud])
    alarms = len(legit_scores) - np.searchsorted(legit_scores, grid, side="left")
    return CostCurve(
        thresholds=grid,
        missed_fraud=missed,
        false_alarms=alarms,
        total=missed + false_alarm_cost * alarms,
    )


def cost_at(
    y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray, false_alarm_cost: float,
    threshold: float,
) -> float:  # fmt: skip
    """The total cost of one threshold."""
    flagged = scores >= threshold
    missed = float(amounts[(y_true == 1) & ~flagged].sum())
    return missed + false_alarm_cost * int(((y_true == 0) & flagged).sum())
