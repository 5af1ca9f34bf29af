"""Calibration: a monotone map from the trees' probability to a fraud probability one can read.

The classifier is fitted with balanced class weights, so its trees rank fraud well but score it
as if fraud were half the traffic: a raw 0.3 is fraud far less than 30% of the time. A
calibrator fitted on the validation window (never the holdout, which judges the result) maps the
raw probability to the observed fraud rate.

Two methods, both fitted by scikit-learn on (raw probability, label) pairs:

* `platt` (the default): logistic regression on the raw log-odds, two numbers. Strictly
  increasing, so it keeps the trees' ranking exactly (ROC-AUC, PR-AUC and every threshold's
  recall are unchanged) and needs few frauds to fit.
* `isotonic`: scikit-learn's `IsotonicRegression`, a non-decreasing step function with linear
  pieces between its knots. More flexible, but it pools neighbouring scores into ties, which
  costs ranking on new data, and it needs many frauds to place its steps.

On the default data both cut the holdout's calibration error alike, and isotonic's ties cost
PR-AUC (docs/design.md, "Calibrated scores and a threshold chosen by cost"): Platt is the
default. Each calibrator is a pure function of the raw probability in plain floats, so the
compiled serving path applies the same map after its trees, and saved models pickle to the same
bytes for the same fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from scipy.special import expit

from fraud_detection.errors import TrainingError

CalibrationMethod = Literal["platt", "isotonic", "none"]
# Frauds the window must hold to fit each method: ten per Platt parameter (the usual events per
# parameter of a logistic fit); isotonic places a step wherever the labels turn, so it needs
# more to place them where the fraud rate really changes.
MIN_FRAUDS = {"platt": 20, "isotonic": 50}
# Raw probabilities are clipped this far from 0 and 1 before taking log-odds: a saturated tree
# sum (p == 1.0 in float64) must map to a finite log-odds, the same on every path.
_EDGE = 1e-15


def log_odds(raw: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities, finite at 0 and 1 (clipped to [1e-15, 1 - 1e-15])."""
    p = np.clip(np.asarray(raw, dtype=np.float64), _EDGE, 1 - _EDGE)
    odds: np.ndarray = np.log(p) - np.log1p(-p)
    return odds


@dataclass(frozen=True)
class PlattCalibrator:
    """`expit(slope * logit(raw) + intercept)` (Platt scaling on the raw log-odds)."""

    slope: float
    intercept: float
    method: str = "platt"

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        calibrated: np.ndarray = expit(self.slope * log_odds(raw) + self.intercept)
        return calibrated

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "slope": self.slope, "intercept": self.intercept}


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Linear interpolation between the knots of a fitted `IsotonicRegression`, clipped at the
    ends: what `IsotonicRegression(out_of_bounds="clip").predict` computes, without
    scikit-learn's input checks on every served row."""

    knots: np.ndarray  # raw probabilities, increasing
    values: np.ndarray  # calibrated probabilities, non-decreasing
    method: str = "isotonic"

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        calibrated: np.ndarray = np.interp(raw, self.knots, self.values)
        return calibrated

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "knots": len(self.knots)}


# A non-decreasing map from the trees' probability to a calibrated one.
Calibrator: TypeAlias = PlattCalibrator | IsotonicCalibrator


def fit_calibrator(
    raw: np.ndarray, y_true: np.ndarray, method: CalibrationMethod
) -> Calibrator | None:
    """Fit `method` on raw probabilities and labels of the validation window.

    Args:
        raw: The trees' fraud probability for each row.
        y_true: 1 for fraud, 0 otherwise.
        method: "platt", "isotonic", or "none" (no calibrator: scores stay raw).

    Returns:
        The fitted calibrator, or None for "none".

    Raises:
        TrainingError: if the rows hold a single class or fewer frauds than `MIN_FRAUDS` asks,
            if Platt's fit decreases (the frauds score lower than the legitimate rows), or if
            `method` is unknown.
    """
    if method == "none":
        return None
    if method not in MIN_FRAUDS:
        raise TrainingError(f"unknown calibration method {method!r}: use platt, isotonic or none")
    y = np.asarray(y_true).astype(int)
    if y.min() == y.max():
        raise TrainingError(
            f"cannot fit a {method} calibrator on {len(y)} rows of a single class "
            f"(is_fraud={y[0]}): the validation window needs both fraud and legitimate rows"
        )
    frauds = int(y.sum())
    if frauds < MIN_FRAUDS[method]:
        raise TrainingError(
            f"cannot fit a {method} calibrator on {frauds} frauds (it needs at least "
            f"{MIN_FRAUDS[method]}): lengthen training.validation_days or generate more data"
        )
    # Imported here: serving unpickles calibrators from this module and never fits one.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw, dtype=np.float64)
    if method == "platt":
        # C=inf: an unpenalised fit (the two parameters are estimated from thousands of rows).
        regression = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000)
        regression.fit(log_odds(raw).reshape(-1, 1), y)
        slope = float(regression.coef_[0, 0])
        if not slope > 0:
            raise TrainingError(
                f"Platt calibration on {len(y)} rows ({frauds} frauds) fits a slope of "
                f"{slope:.3g}: the window's frauds do not score above its legitimate rows, so "
                "a calibrator would reverse the ranking; the model needs more or better data"
            )
        return PlattCalibrator(slope, float(regression.intercept_[0]))
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    isotonic.fit(raw, y)
    return IsotonicCalibrator(
        np.asarray(isotonic.X_thresholds_, dtype=np.float64),
        np.asarray(isotonic.y_thresholds_, dtype=np.float64),
    )
