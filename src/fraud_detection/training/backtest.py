"""A rolling backtest: the pipeline's split and fit replayed at several past cutoffs.

One holdout says how a model did on ten days; a backtest says how much that figure moves from
one period to the next. Each window is the pipeline as it would have run at an earlier cutoff:
the rows after the cutoff do not exist yet, labels count only if they had arrived by it, and
the holdout is matured (`time_split` with `cutoff=`). Cutoffs step back from the newest event
by `step_days`::

    window 3  |- train -|- val -|- holdout -|-- gap --|x
    window 2  |--- train ---|- val -|- holdout -|-- gap --|x
    window 1  |----- train -----|- val -|- holdout -|-- gap --|x  (x: the window's cutoff)

With `step_days >= holdout_days` the holdouts are disjoint. The training windows expand and
overlap one another (as successive retrainings do), but no window's holdout overlaps its own
training or validation rows.

Reported per window: PR-AUC and recall at the FPR budget (threshold free, the gate's metrics),
with rows and frauds; across windows: mean, sample standard deviation and a Student-t
interval for the mean. The interval treats windows as independent draws of the same process,
which expanding training windows flatter; read it as the spread of a figure, not a test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fraud_detection.config import TrainingSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.errors import TrainingError
from fraud_detection.training.evaluate import evaluate, threshold_at_fpr
from fraud_detection.training.model import FraudModel, fit
from fraud_detection.training.split import Split, gap_days, time_split

METRICS: tuple[str, ...] = ("pr_auc", "recall_at_fpr")
CONFIDENCE = 0.95  # of the interval for each metric's mean across windows
DEFAULT_WINDOWS = 3

Fit = Callable[[pd.DataFrame, tuple[str, ...], TrainingSettings], FraudModel]


@dataclass(frozen=True)
class Window:
    """One replayed pipeline run: its cutoff, its parts' spans and its holdout metrics."""

    cutoff: str
    train_start: str
    train_end: str
    holdout_start: str
    holdout_end: str
    train_rows: int
    train_frauds: int
    holdout_rows: int
    holdout_frauds: int
    pr_auc: float
    recall_at_fpr: float


@dataclass(frozen=True)
class Backtest:
    windows: tuple[Window, ...]  # oldest cutoff first
    target_fpr: float
    params: dict[str, Any]

    def summary(self, metric: str) -> dict[str, float]:
        """Mean, sample SD and the `CONFIDENCE` Student-t interval of the mean across windows."""
        values = np.array([getattr(w, metric) for w in self.windows], dtype=float)
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        half = (
            float(stats.t.ppf((1 + CONFIDENCE) / 2, len(values) - 1)) * sd / math.sqrt(len(values))
        )
        return {"mean": mean, "sd": sd, "low": mean - half, "high": mean + half}

    def as_dict(self) -> dict[str, Any]:
        return {
            "windows": [asdict(w) for w in self.windows],
            "summary": {metric: self.summary(metric) for metric in METRICS},
            "confidence": CONFIDENCE,
            "target_fpr": self.target_fpr,
            "params": self.params,
        }


def cutoffs(frame: pd.DataFrame, windows: int, step_days: float) -> list[pd.Timestamp]:
    """The windows' cutoffs, oldest first: the newest event, then `step_days` back each."""
    newest = frame["event_timestamp"].max()
    return [newest - pd.Timedelta(days=step_days * k) for k in reversed(range(windows))]


def rolling_backtest(
    frame: pd.DataFrame, looked_up: tuple[str, ...], params: TrainingSettings,
    target_fpr: float, windows: int = DEFAULT_WINDOWS, step_days: float | None = None,
    fit_model: Fit = fit,
) -> Backtest:  # fmt: skip
    """Replay the pipeline's split, fit and holdout metrics at `windows` cutoffs.

    Args:
        frame: The training set (transactions with their point-in-time features and labels,
            with `label_available_at` for delayed labels).
        params: The split (holdout, validation, label gap) and the model's hyperparameters.
        step_days: Days between cutoffs; default `params.holdout_days` (disjoint holdouts).
        fit_model: Fits one window's model (the production `fit`; tests pass a cheaper one).

    Raises:
        TrainingError: fewer than two windows, or a window whose split cannot be made (its
            message names the window and the history it would need).
    """
    if windows < 2:
        raise TrainingError(f"a backtest needs at least 2 windows for a spread, not {windows}")
    step = float(params.holdout_days if step_days is None else step_days)
    if step <= 0:
        raise TrainingError(f"backtest windows must step back by a positive span, not {step}")
    results = []
    for number, cutoff in enumerate(cutoffs(frame, windows, step)):
        split = _split(frame, params, cutoff, number, windows, step)
        model = fit_model(split.train, looked_up, params)
        threshold = threshold_at_fpr(
            split.validation[LABEL].to_numpy(), model.score(split.validation), target_fpr
        )
        holdout = split.holdout
        scored = evaluate(holdout[LABEL].to_numpy(), model.score(holdout), threshold, target_fpr)
        results.append(_window(cutoff, split, scored.pr_auc, scored.recall_at_fpr))
    settings = {**params.model_dump(mode="json"), "windows": windows, "step_days": step}
    return Backtest(tuple(results), target_fpr, settings)


def history_needed_days(
    params: TrainingSettings, gap_days: float, windows: int, step_days: float
) -> float:
    """Days of history the oldest window needs beyond its training days: its label gap,
    holdout and validation, plus the steps back to it."""
    return gap_days + params.holdout_days + params.validation_days + step_days * (windows - 1)


def _split(
    frame: pd.DataFrame, params: TrainingSettings, cutoff: pd.Timestamp, number: int,
    windows: int, step: float,
) -> Split:  # fmt: skip
    try:
        return time_split(
            frame, params.holdout_days, params.validation_days,
            label_gap_days=params.label_gap_days, cutoff=cutoff,
        )  # fmt: skip
    except TrainingError as exc:
        where = f"backtest window {number + 1} of {windows} (cutoff {cutoff}): {exc}"
        gap = gap_days(frame, params.label_gap_days)
        train_end = cutoff - pd.Timedelta(days=gap + params.holdout_days + params.validation_days)
        if train_end > frame["event_timestamp"].min():  # long enough: too few frauds in a part
            raise TrainingError(
                f"{where}. Use longer holdouts (--holdout-days) or a larger history"
            ) from exc
        span = frame["event_timestamp"].max() - frame["event_timestamp"].min()
        needed = history_needed_days(params, gap, windows, step)
        raise TrainingError(
            f"{where}. The history spans {span / pd.Timedelta(days=1):.1f} days; {windows} "
            f"windows stepping {step:g} days need {needed:g} days plus the oldest window's "
            "training days: use fewer windows, a shorter step or holdout, or a longer history"
        ) from exc


def _window(cutoff: pd.Timestamp, split: Split, pr_auc: float, recall: float) -> Window:
    train, holdout = split.train, split.holdout
    return Window(
        cutoff=str(cutoff),
        train_start=str(train["event_timestamp"].min()),
        train_end=str(train["event_timestamp"].max()),
        holdout_start=str(holdout["event_timestamp"].min()),
        holdout_end=str(holdout["event_timestamp"].max()),
        train_rows=len(train),
        train_frauds=int(train[LABEL].sum()),
        holdout_rows=len(holdout),
        holdout_frauds=int(holdout[LABEL].sum()),
        pr_auc=float(pr_auc),
        recall_at_fpr=float(recall),
    )
