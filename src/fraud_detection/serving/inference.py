"""How the served model turns request rows into fraud probabilities.

A model `fit` made is served by its compiled trees, on a matrix built from the rows without
pandas, followed by the model's calibrator. Any other pipeline (a baseline, a wrapper around a
pipeline) has no compiled form and is served as scikit-learn runs it, on the DataFrame
`FraudModel.inputs` builds (`FraudModel.score_inputs` applies the calibrator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fraud_detection.serving.compiled import CompiledModel, served_probabilities
from fraud_detection.serving.parity import checked_conversion
from fraud_detection.training.model import FraudModel
from fraud_detection.training.row_inputs import Row


class Inference(Protocol):
    def inputs(self, rows: Sequence[Row]) -> Any: ...

    def probabilities(self, inputs: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class CompiledInference:
    model: FraudModel
    compiled: CompiledModel

    def inputs(self, rows: Sequence[Row]) -> np.ndarray:
        return self.model.encoded_inputs(rows)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """The compiled trees, then the model's calibrator (`parity.check` compares this)."""
        return served_probabilities(self.model, self.compiled, inputs)


@dataclass(frozen=True)
class PipelineInference:
    model: FraudModel

    def inputs(self, rows: Sequence[Row]) -> pd.DataFrame:
        return self.model.inputs(pd.DataFrame(rows))

    def probabilities(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.model.score_inputs(inputs)


def inference_for(model: FraudModel, compiled: CompiledModel | None = None) -> Inference:
    """The compiled path (converting and checking `model` when no compiled form is given) if
    the model has one, else the pipeline path.

    Raises:
        PackagingError: if a conversion disagrees with the pipeline (see `parity.check`).
    """
    if compiled is None and CompiledModel.compilable(model):
        compiled = checked_conversion(model)
    if compiled is None:
        return PipelineInference(model)
    if compiled.calibrator is not model.calibrator:
        # A compiled file holds the trees only: bind the model's calibrator behind them, so
        # `compiled.predict` answers what `probabilities` does.
        compiled = CompiledModel(compiled.trees, model.calibrator)
    return CompiledInference(model, compiled)
