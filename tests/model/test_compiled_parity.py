"""The trained model's compiled form scores as scikit-learn does: on the packaging parity rows
(10,000 rows through the serving path against the DataFrame path) and on the holdout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from trained_model import Trained, one_openmp_thread, train_once

from fraud_detection.serving import parity
from fraud_detection.serving.compiled import CompiledModel


@pytest.fixture(scope="module")
def trained() -> Iterator[Trained]:
    with one_openmp_thread():
        yield train_once()


def test_packaging_parity_check_passes_for_the_trained_model(trained: Trained) -> None:
    started = time.perf_counter()
    worst = parity.check(trained.model, CompiledModel.convert(trained.model))
    seconds = time.perf_counter() - started
    print(f"parity: max |difference| {worst:.3g} over {parity.PARITY_ROWS} rows, {seconds:.2f} s")
    assert worst <= parity.TOLERANCE


def test_compiled_model_scores_the_holdout_as_scikit_learn(trained: Trained) -> None:
    model = trained.model
    holdout = trained.split.holdout
    rows = [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in holdout.to_dict(orient="records")
    ]
    served = CompiledModel.convert(model).predict(model.encoded_inputs(rows))
    np.testing.assert_allclose(served, model.score(pd.DataFrame(holdout)), rtol=0, atol=1e-12)
