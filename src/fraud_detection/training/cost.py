"""What a decision threshold costs on labelled transactions.

The cost model is deliberately simple: a missed fraud costs its amount (the money is lost), a
false alarm costs a fixed review (an analyst's time, a declined good customer), and a caught
fraud costs nothing. The total over a holdout, as a function of the threshold, shows how far
the threshold picked for the FPR budget is from the cheapest one. On the validation window,
`choose_threshold` picks the deployed threshold: the cheapest one the FPR budget allows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fraud_detection.errors import TrainingError

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


@dataclass(frozen=True)
class ThresholdChoice:
    """The deployed threshold and the two bounds it was chosen between, on one data window.

    `cost_optimal` is the cheapest threshold with no constraint; `fpr_budget` the lowest
    threshold whose false-positive rate stays within `target_fpr`. Flagging more than the budget
    allows is not an option, so the deployed `threshold` is the cheapest threshold at or above
    `fpr_budget`: `cost_optimal` itself when the budget allows it (`binding` "cost"), otherwise
    the cheapest the budget allows (`binding` "fpr_budget").
    """

    threshold: float
    binding: str  # "cost" or "fpr_budget"
    cost_optimal: float
    fpr_budget: float
    cost: float  # total cost at `threshold` on the window it was chosen on
    cost_at_cost_optimal: float
    cost_at_fpr_budget: float
    fpr: float  # false-positive rate at `threshold` on that window
    target_fpr: float
    false_alarm_cost: float
    rows: int
    positives: int

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def cut_thresholds(scores: np.ndarray) -> np.ndarray:
    """One threshold per distinct set of flagged rows: 0 (flag all), then just above each
    distinct score (the lowest threshold that stops flagging it), as `threshold_at_fpr` places
    its threshold."""
    distinct = np.unique(scores)
    return np.concatenate([[0.0], np.nextafter(distinct, np.inf)])


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray, false_alarm_cost: float,
    target_fpr: float,
) -> ThresholdChoice:  # fmt: skip
    """The threshold minimising total cost (missed fraud amount + `false_alarm_cost` per false
    alarm) on labelled rows, subject to a false-positive rate within `target_fpr`.

    Every distinct flagged set is tried (`cut_thresholds`), so the minimum is exact on these
    rows, not a grid's approximation. Among equally cheap thresholds the lowest wins (more fraud
    caught for the same cost).

    Raises:
        TrainingError: if the rows hold no legitimate transaction (the FPR is undefined).
    """
    y = np.asarray(y_true).astype(int)
    negatives = int((y == 0).sum())
    if negatives == 0:
        raise TrainingError(
            f"cannot choose a threshold on {len(y)} rows without a legitimate transaction: "
            "the false-positive rate is undefined"
        )
    candidates = cut_thresholds(scores)
    curve = cost_curve(y, scores, amounts, false_alarm_cost, candidates)
    allowed = int(np.floor(target_fpr * negatives))
    feasible = curve.false_alarms <= allowed  # false alarms fall as the threshold rises
    budget = int(np.argmax(feasible))  # the lowest feasible threshold (flag none is feasible)
    cheapest = int(np.argmin(curve.total))
    constrained = budget + int(np.argmin(curve.total[budget:]))
    return ThresholdChoice(
        threshold=float(candidates[constrained]),
        binding="cost" if feasible[cheapest] else "fpr_budget",
        cost_optimal=float(candidates[cheapest]),
        fpr_budget=float(candidates[budget]),
        cost=float(curve.total[constrained]),
        cost_at_cost_optimal=float(curve.total[cheapest]),
        cost_at_fpr_budget=float(curve.total[budget]),
        fpr=float(curve.false_alarms[constrained] / negatives),
        target_fpr=float(target_fpr),
        false_alarm_cost=float(false_alarm_cost),
        rows=len(y),
        positives=int(y.sum()),
    )
