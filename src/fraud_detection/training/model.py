"""The fraud model: a gradient-boosted tree ensemble behind one `score` call.

The saved object carries the feature-store features it expects, the calibrator that turns the
trees' probability into a fraud probability (`training.calibration`), and its decision
threshold on that calibrated scale, so serving needs nothing but this file to turn a request
plus looked-up features into a decision. A model saved before calibration existed has no
calibrator and scores with the trees' probability, as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from fraud_detection.config import TrainingSettings
from fraud_detection.data.contract import LABEL, MERCHANT_CATEGORIES
from fraud_detection.errors import RegistryError
from fraud_detection.features.derived import CATEGORICAL_FEATURES, model_columns, model_frame
from fraud_detection.training.calibration import Calibrator
from fraud_detection.training.row_inputs import Row, RowEncoder, model_record


@dataclass
class FraudModel:
    """A fitted pipeline plus what it needs to be used correctly."""

    pipeline: Pipeline
    looked_up: tuple[str, ...]
    threshold: float = 0.5  # on the calibrated scale when there is a calibrator
    # Maps the trees' probability to a calibrated one; None (and absent from files saved
    # before calibration existed, which then read this class default): scores stay raw.
    calibrator: Calibrator | None = None
    # How `threshold` was chosen (`training.cost.ThresholdChoice.to_dict()` and the calibration
    # its scale comes from, as `steps.train` records them), for the model card.
    threshold_choice: dict[str, Any] | None = None
    # Built from the fitted pipeline on first use; never saved (see __getstate__).
    _row_encoder: RowEncoder | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def feature_columns(self) -> list[str]:
        return model_columns(self.looked_up)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraud probability for each row of transactions joined with their features."""
        return self.score_inputs(self.inputs(frame))

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns for `frame` (what the prediction log records)."""
        return model_frame(frame, self.looked_up)

    def score_inputs(self, inputs: pd.DataFrame) -> np.ndarray:
        """Calibrated fraud probability for rows of `inputs(...)`."""
        raw: np.ndarray = self.pipeline.predict_proba(inputs)[:, 1]
        return self.calibrate(raw)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The calibrated probability for the trees' probability `raw` (`raw` itself for a
        model without a calibrator); the compiled serving path applies it after its trees."""
        return raw if self.calibrator is None else self.calibrator(raw)

    @property
    def encodes_rows(self) -> bool:
        """Whether `encoded_inputs` can build this pipeline's matrix without pandas (true for
        the pipelines `fit` makes)."""
        return self._encoder() is not None

    def input_records(self, rows: Sequence[Row]) -> list[dict[str, Any]]:
        """`inputs(...)` for plain rows, as dicts with None where a value is missing."""
        return [model_record(row, self.looked_up) for row in rows]

    def encoded_inputs(self, rows: Sequence[Row]) -> np.ndarray:
        """The classifier's float64 input matrix for plain rows, equal to
        `pipeline[:-1].transform(inputs(DataFrame(rows)))` but without building a frame."""
        encoder = self._encoder()
        if encoder is None:
            raise TypeError("the pipeline's first step is not an encoder `RowEncoder` can mirror")
        return encoder.encode(self.input_records(rows))

    def score_encoded(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated fraud probability for rows of the classifier's input matrix."""
        return self.calibrate(self.raw_score_encoded(matrix))

    def raw_score_encoded(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' probability (before the calibrator) for rows of the input matrix."""
        raw: np.ndarray = self.pipeline[-1].predict_proba(matrix)[:, 1]
        return raw

    def _encoder(self) -> RowEncoder | None:
        if self._row_encoder is None:
            self._row_encoder = RowEncoder.of(self.pipeline)
        return self._row_encoder

    def __getstate__(self) -> dict[str, Any]:
        # The saved file stays what training made: the same bytes, hence the same registry
        # version. An uncalibrated model leaves out the fields calibration added, so it
        # pickles as it did before they existed.
        optional = ("calibrator", "threshold_choice")
        return {
            k: v
            for k, v in self.__dict__.items()
            if k != "_row_encoder" and not (k in optional and v is None)
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    @staticmethod
    def load(path: Path) -> FraudModel:
        try:
            model = joblib.load(path)
        except FileNotFoundError:
            raise RegistryError(f"model file not found: {path}") from None
        except Exception as exc:  # unpickling raises many types for a corrupt file
            raise RegistryError(f"cannot load model from {path}: {type(exc).__name__}") from exc
        if not isinstance(model, FraudModel):
            raise RegistryError(f"{path} holds a {type(model).__name__}, not a FraudModel")
        return model


def fit(frame: pd.DataFrame, looked_up: tuple[str, ...], params: TrainingSettings) -> FraudModel:
    """Fit on labelled rows (transactions joined with their point-in-time features)."""
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    categories=[list(MERCHANT_CATEGORIES)],
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                ),
                list(CATEGORICAL_FEATURES),
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        # Fraud is ~1% of rows: weight classes so the rare one shapes the trees.
        class_weight="balanced",
        # The encoder emits its columns first, then the passed-through numeric ones.
        categorical_features=list(range(len(CATEGORICAL_FEATURES))),
        early_stopping=False,
        random_state=params.seed,
    )
    pipeline = Pipeline([("encode", encode), ("classify", classifier)])
    pipeline.fit(model_frame(frame, looked_up), frame[LABEL].to_numpy())
    return FraudModel(pipeline=pipeline, looked_up=looked_up)
