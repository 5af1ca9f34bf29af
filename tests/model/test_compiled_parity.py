"""The trained model's compiled form scores as scikit-learn does: on the packaging parity rows
(10,000 rows through the serving path against the DataFrame path) and on the holdout. The model
is calibrated (`steps.train` fits its calibrator), so what is compared is the served
composition: compiled trees, then the model's calibrator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from trained_model import Trained, one_openmp_thread, train_once

from fraud_detection.serving import parity
from fraud_detection.serving.compiled import CompiledModel, served_probabilities
from fraud_detection.serving.inference import inference_for
from fraud_detection.training.calibration import PlattCalibrator
from fraud_detection.training.model import FraudModel


@pytest.fixture(scope="module")
def trained() -> Iterator[Trained]:
    with one_openmp_thread():
        yield train_once()


@pytest.fixture(scope="module")
def model(trained: Trained) -> FraudModel:
    """The trained model with its calibrator; should its validation window ever be too thin to
    fit one, a fixed Platt map (about the default data's fit), so the composition is still
    what is compared."""
    if trained.model.calibrator is not None:
        return trained.model
    return replace(trained.model, calibrator=PlattCalibrator(slope=0.6, intercept=-2.0))


def test_packaging_parity_check_passes_for_the_trained_model(model: FraudModel) -> None:
    assert model.calibrator is not None  # the check covers trees + calibrator
    started = time.perf_counter()
    worst = parity.check(model, CompiledModel.convert(model))
    seconds = time.perf_counter() - started
    print(f"parity: max |difference| {worst:.3g} over {parity.PARITY_ROWS} rows, {seconds:.2f} s")
    assert worst <= parity.TOLERANCE


def test_compiled_model_scores_the_holdout_as_scikit_learn(
    trained: Trained, model: FraudModel
) -> None:
    holdout = trained.split.holdout
    rows = [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in holdout.to_dict(orient="records")
    ]
    compiled = CompiledModel.convert(model)
    matrix = model.encoded_inputs(rows)
    expected = model.score(pd.DataFrame(holdout))
    np.testing.assert_allclose(compiled.predict(matrix), expected, rtol=0, atol=1e-12)
    served = inference_for(model, compiled).probabilities(matrix)
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-12)
    # The comparison is not vacuous: the calibrator moves the trees' probabilities.
    raw = compiled.tree_probabilities(matrix)
    assert np.max(np.abs(served_probabilities(model, compiled, matrix) - raw)) > 0.01
    np.testing.assert_allclose(raw, model.raw_score_encoded(matrix), rtol=0, atol=1e-12)
