"""The holdout's scores, computed once a pipeline run and read by every step that needs them.

The evaluate step's metrics and report, the gate's comparison with production and the register
step's monitoring reference all read the candidate's scores on the same holdout rows, and the
report and the gate production's too. Scoring the default holdout (90,000 rows) takes about 2 s
a model with scikit-learn, and scoring it in each step cost six such calls a run; the evaluate
step now scores each model once and passes the scores on as an artifact.

The file keeps each row's transaction id and production's version beside the scores: a reader
whose holdout has other rows, or whose production has changed since, scores again instead of
using scores of other rows or of another model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraud_detection.data.io import read_parquet, write_parquet
from fraud_detection.training.report_figures import Scored

_CANDIDATE, _CHAMPION = "candidate", "champion"


@dataclass(frozen=True)
class ScoredHoldout:
    """The candidate's and (when there is one) production's scores on the holdout's rows."""

    transaction_ids: np.ndarray
    candidate: Scored
    champion: Scored | None = None
    champion_version: str | None = None

    def scores_rows_of(self, holdout: pd.DataFrame) -> bool:
        """Whether these are scores of `holdout`'s rows, in its order."""
        ids = holdout["transaction_id"].to_numpy()
        return len(ids) == len(self.transaction_ids) and bool(
            np.array_equal(ids, self.transaction_ids)
        )

    def matches(self, holdout: pd.DataFrame, champion_version: str | None) -> bool:
        """`scores_rows_of(holdout)`, with production at `champion_version` (None: none)."""
        return self.champion_version == champion_version and self.scores_rows_of(holdout)

    def write(self, path: Path) -> Path:
        frame = pd.DataFrame(
            {"transaction_id": self.transaction_ids, _CANDIDATE: self.candidate.scores}
        )
        attrs: dict[str, object] = {"candidate_threshold": float(self.candidate.threshold)}
        if self.champion is not None:
            frame[_CHAMPION] = self.champion.scores
            attrs |= {
                "champion_name": self.champion.name,
                "champion_threshold": float(self.champion.threshold),
                "champion_version": self.champion_version,
            }
        frame.attrs = attrs  # pandas keeps attrs in the Parquet file's metadata
        return write_parquet(frame, path)

    @staticmethod
    def read(path: Path) -> ScoredHoldout:
        frame = read_parquet(path)
        attrs = frame.attrs
        champion = None
        if _CHAMPION in frame.columns:
            champion = Scored(
                str(attrs["champion_name"]),
                frame[_CHAMPION].to_numpy(),
                float(attrs["champion_threshold"]),
            )
        return ScoredHoldout(
            transaction_ids=frame["transaction_id"].to_numpy(),
            candidate=Scored(
                _CANDIDATE, frame[_CANDIDATE].to_numpy(), float(attrs["candidate_threshold"])
            ),
            champion=champion,
            champion_version=None if champion is None else str(attrs["champion_version"]),
        )
