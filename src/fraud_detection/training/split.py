"""Time-based splits: the model is always judged on days it has not seen, with labels it could
have known.

Labels arrive late (`fraud_detection.data.labels`): at the pipeline's cutoff, the newest days
hold many frauds nobody has reported yet and legitimate transactions that could still be
charged back. So the split reads only the labels known at the cutoff and leaves the immature
tail out::

    oldest event                                                          cutoff (newest event)
    |-------- train --------|-- validation --|---- holdout ----|------ label gap ------|
      fit the model           the threshold    the gate's metrics   labels not all known:
                                                                    left out of every part
    |<------------- labels known at the cutoff, all matured ------>|<-- label_gap_days -->|

* Every part keeps only rows whose label is known at the cutoff (`labels_known_at`): a fraud
  not reported by then is not a positive, nor a negative; it is dropped. With the gap at least
  the maturity period, no row of any part is unknown, so nothing is dropped from any part and
  the class balance is not bent by which labels happen to be in.
* The holdout must be matured (every row's label known); the split refuses one that is not,
  naming the gap the data needs, instead of grading the model on the few frauds reported fast.
* No gap between validation and holdout: every label before the holdout is known too, the
  features are point in time (nothing crosses the boundary but the past), and fraud bursts
  last minutes, so an embargo would only cost labelled days.
* The unlabelled tail is not used for training either: its known labels are only the frauds
  reported fast, with no legitimate rows beside them, and it lies after the holdout.

The first `feature_warmup_days` of the history never reach the split (`after_warmup`, applied
when the training set is built): a card's 30-day velocity features are still filling there, so
its rows look unlike the ones the served model scores.

Data without `label_available_at` (files older than the column) is split as before: every
label taken as known at once, no gap, the holdout the newest `holdout_days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

import pandas as pd

from fraud_detection.data.contract import LABEL, LABEL_AVAILABLE_AT
from fraud_detection.data.labels import labels_known_at
from fraud_detection.errors import TrainingError

# `TrainingSettings.label_gap_days` and `.label_cutoff`, or None for their defaults.
GapDays: TypeAlias = float | Literal["auto"] | None
Cutoff: TypeAlias = datetime | pd.Timestamp | Literal["newest"] | None


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame  # picks the decision threshold
    holdout: pd.DataFrame  # the metrics the gate reads
    cutoff: pd.Timestamp | None = None  # when the labels were read
    label_gap_days: float = 0.0  # the unlabelled tail left out before the cutoff

    def window(self) -> dict[str, str]:
        """The data window of each part, for the model card."""
        window = {
            f"{name}_{edge}": str(getattr(part["event_timestamp"], edge)())
            for name, part in (("train", self.train), ("holdout", self.holdout))
            for edge in ("min", "max")
        }
        if self.cutoff is not None:
            window["label_cutoff"] = str(self.cutoff)
            window["label_gap_days"] = str(self.label_gap_days)
        return window


def time_split(
    frame: pd.DataFrame, holdout_days: float, validation_days: float, *,
    label_gap_days: GapDays = None, cutoff: Cutoff = None,
) -> Split:  # fmt: skip
    """Split by event time, reading labels as known at `cutoff` (see the module docstring).

    train | validation (validation_days) | holdout (holdout_days) | label gap (label_gap_days)

    Args:
        frame: Labelled rows (`event_timestamp`, `is_fraud`, optionally `label_available_at`).
        label_gap_days: The span before the cutoff left out because its labels are not all
            known; at least the labels' maturity period. None or "auto": the longest label
            delay in `frame` (its maturity period). Ignored for data without arrival times.
        cutoff: When the labels are read; rows after it (a backtest's future) are left out.
            None or "newest": the newest event, i.e. now for the pipeline.

    Raises:
        TrainingError: if any part is empty or holds a single class, or the holdout holds a row
            whose label is unknown at the cutoff.
    """
    require_both_classes(frame, "training set")
    events = frame["event_timestamp"]
    at = events.max() if cutoff in (None, "newest") else _like(pd.Timestamp(cutoff), events)
    delayed = LABEL_AVAILABLE_AT in frame.columns
    label_gap_days = gap_days(frame, label_gap_days)
    gap = pd.Timedelta(days=label_gap_days)
    holdout_end = at - gap
    holdout_start = holdout_end - pd.Timedelta(days=holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=validation_days)
    in_holdout = (events >= holdout_start) & (events <= holdout_end)
    known = labels_known_at(frame, at)
    what = (
        f"(holdout_days={holdout_days}, validation_days={validation_days}"
        + (f", label_gap_days={label_gap_days}, label cutoff {at}" if delayed else "")
        + ")"
    )
    unknown = int((in_holdout & ~known).sum())
    if unknown:
        raise TrainingError(
            f"holdout {what} holds {unknown} rows whose label is still unknown at the cutoff: "
            f"it would be graded on the few frauds reported early. Set training.label_gap_days "
            f"to at least {_longest_delay_days(frame):.1f} (the longest label delay in the data), "
            'or to "auto", its default'
        )
    split = Split(
        train=frame[(events < validation_start) & known],
        validation=frame[(events >= validation_start) & (events < holdout_start) & known],
        holdout=frame[in_holdout],
        cutoff=at if delayed else None,
        label_gap_days=float(label_gap_days),
    )
    if split.train.empty and delayed:
        span = (at - events.min()) / pd.Timedelta(days=1)
        raise TrainingError(
            f"train split {what} is empty: the history up to the cutoff spans {span:.1f} days, "
            f"and the label gap, holdout and validation take "
            f"{label_gap_days + holdout_days + validation_days:g} of them before any day to "
            "train on. Use a longer history, or labels that mature sooner "
            "(data.labels.maturity_days; the gap follows it)"
        )
    for name in ("train", "validation", "holdout"):
        require_both_classes(getattr(split, name), f"{name} split {what}")
    return split


def after_warmup(frame: pd.DataFrame, warmup_days: float) -> pd.DataFrame:
    """The rows at least `warmup_days` after the oldest event (`TrainingSettings.
    feature_warmup_days`): the ones whose velocity windows saw the card's full past.

    Raises:
        TrainingError: if the warm-up leaves no rows, naming the setting and the history.
    """
    if warmup_days <= 0 or frame.empty:
        return frame
    events = frame["event_timestamp"]
    kept = frame[events >= events.min() + pd.Timedelta(days=warmup_days)]
    if kept.empty:
        span = (events.max() - events.min()) / pd.Timedelta(days=1)
        raise TrainingError(
            f"the history spans {span:.1f} days, all inside the feature warm-up "
            f"(training.feature_warmup_days={warmup_days:g}): use a longer history, or 0 when "
            "the transactions' past is in the feature store already"
        )
    return kept.reset_index(drop=True)


def require_both_classes(frame: pd.DataFrame, what: str) -> None:
    if frame.empty:
        raise TrainingError(f"{what} is empty: the data window is too short for the split")
    counts = frame[LABEL].value_counts()
    if len(counts) < 2:
        only = counts.index[0]
        raise TrainingError(
            f"{what} has a single class ({LABEL}={only} for all {len(frame)} rows); "
            "a classifier needs both fraud and legitimate examples"
        )


def gap_days(frame: pd.DataFrame, label_gap_days: GapDays) -> float:
    """The label gap `time_split` leaves before its cutoff: `label_gap_days`, or by default
    (None, "auto") the longest label delay in `frame`; 0 for data without arrival times."""
    if LABEL_AVAILABLE_AT not in frame.columns:
        return 0.0
    if label_gap_days is None or label_gap_days == "auto":
        return _longest_delay_days(frame)
    return float(label_gap_days)


def _like(moment: pd.Timestamp, events: pd.Series) -> pd.Timestamp:
    """`moment` in the time zone of `events` (naive stays naive, as UTC)."""
    zone = getattr(events.dt, "tz", None)
    if zone is None:
        return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment
    return moment.tz_localize(zone) if moment.tzinfo is None else moment.tz_convert(zone)


def _longest_delay_days(frame: pd.DataFrame) -> float:
    arrival = pd.to_datetime(frame[LABEL_AVAILABLE_AT], utc=True)
    delay = arrival - pd.to_datetime(frame["event_timestamp"], utc=True)
    return float(delay.max() / pd.Timedelta(days=1))
