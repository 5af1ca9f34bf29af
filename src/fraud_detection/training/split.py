"""Time-based splits: the model is always judged on days it has not seen."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fraud_detection.data.contract import LABEL
from fraud_detection.errors import TrainingError


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame  # picks the decision threshold
    holdout: pd.DataFrame  # the metrics the gate reads

    def window(self) -> dict[str, str]:
        """The data window of each part, for the model card."""
        return {
            f"{name}_{edge}": str(getattr(part["event_timestamp"], edge)())
            for name, part in (("train", self.train), ("holdout", self.holdout))
            for edge in ("min", "max")
        }


def time_split(frame: pd.DataFrame, holdout_days: int, validation_days: int) -> Split:
    """Split by event time: train | validation (validation_days) | holdout (newest holdout_days).

    Raises:
        TrainingError: if any part is empty or holds a single class.
    """
    require_both_classes(frame, "training set")
    newest = frame["event_timestamp"].max()
    holdout_start = newest - pd.Timedelta(days=holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=validation_days)
    split = Split(
        train=frame[frame["event_timestamp"] < validation_start],
        validation=frame[
            (frame["event_timestamp"] >= validation_start)
            & (frame["event_timestamp"] < holdout_start)
        ],
        holdout=frame[frame["event_timestamp"] >= holdout_start],
    )
    for name in ("train", "validation", "holdout"):
        require_both_classes(
            getattr(split, name),
            f"{name} split (holdout_days={holdout_days}, validation_days={validation_days})",
        )
    return split


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
