"""The served model's trees as a Treelite model: converted, saved, loaded, and scored.

Why Treelite (bench/model_runtimes.py measures the candidates on the trained model, 250 trees,
one thread): its scikit-learn importer reads `HistGradientBoostingClassifier` with its native
categorical splits on merchant_category and its learned missing-value directions, and keeps
float64 thresholds, so its GTIL predictor gives the same probabilities as scikit-learn (a
difference of 0.0 on the holdout, on the holdout with a third of its values missing, and on the
packaging parity rows) in 0.04 ms for one row instead of 1.5 ms; for 100 rows both take about
2 ms. skl2onnx 1.20 converts the classifier but writes every split as `x <= threshold`,
categorical ones included, so onnxruntime 1.32, faster still, scores a quarter of the holdout
wrongly (by up to 0.997, 100 decisions flipped); its float64 graph does not load at all (the
ai.onnx.ml opset-1 TreeEnsembleClassifier it emits outputs float32 only).

Only the trees are compiled. The encoding in front of them is `FraudModel.encoded_inputs`, and
behind them the model's calibrator (`training.calibration`: two floats for Platt scaling,
applied in numpy to GTIL's raw probability); `parity.check` proves the three together score as
the pipeline does before any is served. The compiled file holds the trees only: the calibrator
stays in the model file, the one place it is defined, and `served_probabilities` always takes
it from there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import treelite
import treelite.gtil
from sklearn.ensemble import HistGradientBoostingClassifier

from fraud_detection.errors import RegistryError
from fraud_detection.training.calibration import Calibrator
from fraud_detection.training.model import FraudModel

COMPILED_FILE = "model.treelite"


class CompiledModel:
    """A binary classifier's trees, scoring float64 matrices on the calling thread, and the
    calibrator applied after them (None: `predict` is the trees' probability)."""

    def __init__(self, trees: treelite.Model, calibrator: Calibrator | None = None) -> None:
        self.trees = trees
        self.calibrator = calibrator
        self.n_features = int(trees.num_feature)

    @staticmethod
    def compilable(model: FraudModel) -> bool:
        """Whether `convert` can compile this model: a histogram gradient-boosted classifier
        behind an encoder `FraudModel.encoded_inputs` reproduces."""
        return isinstance(model.pipeline[-1], HistGradientBoostingClassifier) and model.encodes_rows

    @classmethod
    def convert(cls, model: FraudModel) -> CompiledModel:
        if not cls.compilable(model):
            raise TypeError(f"cannot compile a {type(model.pipeline[-1]).__name__} pipeline")
        return cls(treelite.sklearn.import_model(model.pipeline[-1]), model.calibrator)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Fraud probability for each row of the classifier's input matrix: the trees', then
        the calibrator's when there is one (what `FraudModel.score_encoded` computes)."""
        raw = self.tree_probabilities(inputs)
        return raw if self.calibrator is None else self.calibrator(raw)

    def tree_probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """The trees' probability (before any calibrator) for each row of the input matrix."""
        # GTIL pads a narrower matrix with missing values: refuse it instead.
        if inputs.ndim != 2 or inputs.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got shape {inputs.shape}")
        # One thread: the served model has one CPU (OMP_NUM_THREADS=1 in the server).
        scores: np.ndarray = treelite.gtil.predict(self.trees, inputs, nthread=1)
        return scores.reshape(len(inputs))

    def save(self, path: Path) -> Path:
        path.write_bytes(self.trees.serialize_bytes())
        return path

    @classmethod
    def load(cls, path: Path, calibrator: Calibrator | None = None) -> CompiledModel:
        """The trees saved at `path`, with `calibrator` (the model file's) behind them."""
        try:
            return cls(treelite.Model.deserialize_bytes(path.read_bytes()), calibrator)
        except (OSError, treelite.TreeliteError) as exc:
            raise RegistryError(f"cannot load the compiled model {path}: {exc}") from exc


def served_probabilities(
    model: FraudModel, compiled: CompiledModel, inputs: np.ndarray
) -> np.ndarray:
    """What the compiled serving path answers for rows of `model`'s input matrix: the compiled
    trees' probability, then `model`'s own calibrator (whatever `compiled` was loaded with), so
    a compiled file saved beside any model file scores on that model's calibrated scale."""
    return model.calibrate(compiled.tree_probabilities(inputs))
