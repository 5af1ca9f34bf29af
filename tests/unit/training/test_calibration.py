"""Calibration: it repairs overconfident scores, keeps their order, is part of the saved model on
every scoring path (compiled included), and leaves files saved before it existed loadable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from small_model import small_model, training_frame

from fraud_detection.errors import PackagingError, TrainingError
from fraud_detection.serving import parity
from fraud_detection.serving.compiled import COMPILED_FILE, CompiledModel
from fraud_detection.serving.inference import inference_for
from fraud_detection.training.calibration import (
    MIN_FRAUDS,
    IsotonicCalibrator,
    PlattCalibrator,
    fit_calibrator,
)
from fraud_detection.training.evaluate import expected_calibration_error
from fraud_detection.training.model import FraudModel

ROWS = 40_000
RESAMPLES = 200  # paired bootstrap resamples for the 95% interval of an ECE difference


def overconfident(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a true fraud probability, and scores twice as sure and shifted up, as
    balanced class weights make a classifier: (raw scores, labels)."""
    rng = np.random.default_rng(seed)
    true = expit(rng.normal(-4.0, 1.5, ROWS))
    y = (rng.random(ROWS) < true).astype(int)
    return expit(2.0 * logit(true) + 3.0), y


def ece_difference_interval(
    y: np.ndarray, before: np.ndarray, after: np.ndarray
) -> tuple[float, float]:
    """95% paired-bootstrap interval of ECE(after) - ECE(before) over the rows."""
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(y), len(y))
        differences.append(expected_calibration_error(y[rows], after[rows])
                           - expected_calibration_error(y[rows], before[rows]))  # fmt: skip
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrator_fitted_on_one_half_lowers_the_other_halfs_calibration_error(
    method: str,
) -> None:
    raw, y = overconfident()
    half = ROWS // 2
    calibrator = fit_calibrator(raw[:half], y[:half], method)  # type: ignore[arg-type]
    assert calibrator is not None and calibrator.method == method
    held_raw, held_y = raw[half:], y[half:]
    calibrated = calibrator(held_raw)
    low, high = ece_difference_interval(held_y, held_raw, calibrated)
    assert high < -0.02, (low, high)  # ECE falls by more than 0.02 at 95% confidence
    assert expected_calibration_error(held_y, calibrated) < 0.01


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrators_are_non_decreasing_and_platt_keeps_the_ranking(method: str) -> None:
    raw, y = overconfident(seed=12)
    calibrator = fit_calibrator(raw, y, method)  # type: ignore[arg-type]
    assert calibrator is not None
    grid = np.concatenate([[0.0, 1e-300], np.linspace(0, 1, 10_001), [1 - 1e-16, 1.0]])
    mapped = calibrator(np.sort(grid))
    assert np.all(np.diff(mapped) >= 0) and np.all((mapped >= 0) & (mapped <= 1))
    assert np.isfinite(mapped).all()  # 0 and 1 themselves map to finite probabilities
    if method == "platt":
        # Strictly increasing: every pair of distinct scores keeps its order.
        distinct = np.unique(raw)
        assert np.all(np.diff(calibrator(distinct)) > 0)
        assert roc_auc_score(y, calibrator(raw)) == roc_auc_score(y, raw)


def test_isotonic_calibrator_computes_what_scikit_learn_predicts() -> None:
    raw, y = overconfident(seed=13)
    calibrator = fit_calibrator(raw, y, "isotonic")
    assert isinstance(calibrator, IsotonicCalibrator)
    reference = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
    probe = np.concatenate([raw[:5_000], np.linspace(0, 1, 1_001)])
    np.testing.assert_allclose(calibrator(probe), reference.predict(probe), rtol=0, atol=1e-12)


def test_no_calibration_and_single_class_windows() -> None:
    raw, y = overconfident(seed=14)
    assert fit_calibrator(raw, y, "none") is None
    with pytest.raises(TrainingError, match="single class"):
        fit_calibrator(raw, np.zeros_like(y), "platt")
    with pytest.raises(TrainingError, match="unknown calibration method 'beta'"):
        fit_calibrator(raw, y, "beta")  # type: ignore[arg-type]


def test_a_window_too_thin_or_reversed_is_not_calibrated() -> None:
    raw, y = overconfident(seed=15)
    few = np.flatnonzero(y == 1)[MIN_FRAUDS["platt"] - 1 :]
    thin = y.copy()
    thin[few] = 0  # one fraud fewer than Platt needs
    with pytest.raises(TrainingError, match=r"on 19 frauds \(it needs at least 20\)"):
        fit_calibrator(raw, thin, "platt")
    # Frauds scored below the legitimate rows: a fit would reverse the ranking.
    with pytest.raises(TrainingError, match="slope of -"):
        fit_calibrator(1 - raw, y, "platt")


def calibrated(model: FraudModel) -> FraudModel:
    """`model` with a Platt calibrator fitted on fresh rows (as `steps.train` fits one on the
    validation window)."""
    rows = training_frame(rows=3_000, seed=5)
    calibrator = fit_calibrator(model.score(rows), rows["is_fraud"].to_numpy(), "platt")
    return replace(model, calibrator=calibrator)


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return calibrated(small_model())


def test_every_scoring_path_returns_the_calibrated_probability(model: FraudModel) -> None:
    assert isinstance(model.calibrator, PlattCalibrator)
    frame = training_frame(rows=500, seed=6)
    inputs = model.inputs(frame)
    matrix = model.pipeline[:-1].transform(inputs)
    raw = model.pipeline.predict_proba(inputs)[:, 1]
    expected = model.calibrator(raw)
    assert np.max(np.abs(expected - raw)) > 0.01  # the calibrator does change the scores
    np.testing.assert_array_equal(model.score(frame), expected)
    np.testing.assert_array_equal(model.score_inputs(inputs), expected)
    np.testing.assert_allclose(model.score_encoded(matrix), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.raw_score_encoded(matrix), raw, rtol=0, atol=1e-12)


def test_the_compiled_path_applies_the_calibrator_after_its_trees(
    model: FraudModel, tmp_path: Path
) -> None:
    rows = parity.parity_rows(model, 2_000, seed=9)
    matrix = model.encoded_inputs(rows)
    converted = CompiledModel.convert(model)
    np.testing.assert_allclose(converted.predict(matrix), model.score_encoded(matrix), atol=1e-12)
    # The compiled file holds the trees; the served path takes the calibrator from the model.
    loaded = CompiledModel.load(converted.save(tmp_path / COMPILED_FILE))
    np.testing.assert_allclose(loaded.tree_probabilities(matrix),
                               model.raw_score_encoded(matrix), atol=1e-12)  # fmt: skip
    served = inference_for(model, loaded).probabilities(model.encoded_inputs(rows))
    np.testing.assert_allclose(served, model.score(pd.DataFrame(rows)), rtol=0, atol=1e-12)
    assert parity.check(model, loaded) <= parity.TOLERANCE


def test_the_parity_check_refuses_a_serving_path_that_skips_the_calibrator(
    model: FraudModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = CompiledModel.convert(model)
    assert parity.check(model, compiled) <= parity.TOLERANCE
    monkeypatch.setattr(parity, "served_probabilities",
                        lambda m, c, x: c.tree_probabilities(x))  # fmt: skip
    with pytest.raises(PackagingError, match=r"\(platt calibrated\) disagrees"):
        parity.check(model, compiled)


def test_a_model_file_saved_before_calibration_existed_loads_and_scores_raw(
    tmp_path: Path,
) -> None:
    old = small_model()
    # A file as it was written before FraudModel had a calibrator: no such attribute at all.
    state = {k: v for k, v in old.__dict__.items()
             if k not in ("_row_encoder", "calibrator", "threshold_choice")}  # fmt: skip
    legacy = FraudModel.__new__(FraudModel)
    legacy.__dict__.update(state)
    path = tmp_path / "old.joblib"
    joblib.dump(legacy, path)
    assert b"calibrator" not in path.read_bytes()

    loaded = FraudModel.load(path)
    assert "calibrator" not in loaded.__dict__ and loaded.calibrator is None
    frame = training_frame(rows=300, seed=8)
    raw = old.pipeline.predict_proba(old.inputs(frame))[:, 1]
    np.testing.assert_array_equal(loaded.score(frame), raw)
    assert parity.check(loaded, CompiledModel.convert(loaded), rows=2_000) <= parity.TOLERANCE
    # An uncalibrated model is saved as it was before calibration existed, byte for byte.
    assert old.save(tmp_path / "now.joblib").read_bytes() == path.read_bytes()


def test_calibrated_model_files_are_deterministic(tmp_path: Path) -> None:
    paths = [calibrated(small_model()).save(tmp_path / f"{n}.joblib") for n in ("a", "b")]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert FraudModel.load(paths[0]).calibrator == FraudModel.load(paths[1]).calibrator
