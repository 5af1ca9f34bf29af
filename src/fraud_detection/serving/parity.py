"""The check that the compiled serving path scores exactly as the scikit-learn pipeline.

Both forms score the same synthetic rows: every merchant category and one the model never saw,
missing values in every numeric field, zero and missing denominators of the derived ratios, and
numeric values placed exactly on the trees' split thresholds, where a comparison done as `<`
instead of `<=`, or in float32, would send a row down the other branch. The serving side goes
from plain rows through `FraudModel.encoded_inputs`, the compiled trees and the model's
calibrator (`compiled.served_probabilities`, what serving answers); the reference is
`FraudModel.score` on a DataFrame (scikit-learn's trees, then the same calibrator), the path
training and evaluation use. The trees' raw probabilities are compared too, so a calibrator
that flattens a difference (isotonic ties, or saturation near 0 and 1) cannot hide a tree that
disagrees.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.errors import PackagingError
from fraud_detection.features.derived import CATEGORICAL_FEATURES, DERIVED_FEATURES
from fraud_detection.serving.compiled import CompiledModel, served_probabilities
from fraud_detection.training.model import FraudModel

PARITY_ROWS = 10_000
PARITY_SEED = 20_260_101
TOLERANCE = 1e-6
UNKNOWN_CATEGORY = "not-a-category"
_DAY = datetime(2026, 1, 1, tzinfo=UTC)


def check(model: FraudModel, compiled: CompiledModel, rows: int = PARITY_ROWS) -> float:
    """The largest difference between the two forms' probabilities: the served composition
    (compiled trees + calibrator) against `FraudModel.score`, and the trees alone against
    scikit-learn's trees.

    Raises:
        PackagingError: if it exceeds `TOLERANCE`; the compiled form must not be served.
    """
    sample = parity_rows(model, rows, PARITY_SEED)
    matrix = model.encoded_inputs(sample)
    served = served_probabilities(model, compiled, matrix)
    expected = model.score(pd.DataFrame(sample))
    trees = compiled.tree_probabilities(matrix) - model.raw_score_encoded(matrix)
    worst = max(float(np.max(np.abs(served - expected))), float(np.max(np.abs(trees))))
    if not worst <= TOLERANCE:  # also refuses NaN
        calibrated = "" if model.calibrator is None else f" ({model.calibrator.method} calibrated)"
        raise PackagingError(
            f"the compiled model{calibrated} disagrees with scikit-learn: max |difference| "
            f"{worst:.3g} over {rows} rows (tolerance {TOLERANCE:g}); refusing to serve it"
        )
    return worst


def parity_rows(model: FraudModel, rows: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic request-plus-feature rows that reach every kind of split of `model`."""
    rng = np.random.default_rng(seed)
    categories = [*MERCHANT_CATEGORIES, UNKNOWN_CATEGORY]
    not_numeric = (*CATEGORICAL_FEATURES, *DERIVED_FEATURES, "card_present")
    numeric = [c for c in model.feature_columns if c not in not_numeric]
    thresholds = split_thresholds(model)
    columns = {name: _values(rng, thresholds.get(name, np.empty(0)), rows) for name in numeric}
    columns["amount"][np.isnan(columns["amount"])] = 1.0  # a request always has an amount
    # Zero denominators: the ratios must be missing, not infinite, on both paths.
    for name in ("amount_mean_30d", "credit_limit"):
        if name in columns:
            columns[name][rng.random(rows) < 0.05] = 0.0
    plain = {name: _plain(values) for name, values in columns.items()}
    minutes = rng.integers(0, 24 * 60, rows).tolist()
    card_present = (rng.random(rows) < 0.5).tolist()
    return [
        {
            "event_timestamp": _DAY + timedelta(minutes=minutes[i]),
            "merchant_category": categories[i % len(categories)],
            "card_present": card_present[i],
            **{name: values[i] for name, values in plain.items()},
        }
        for i in range(rows)
    ]


def split_thresholds(model: FraudModel) -> dict[str, np.ndarray]:
    """Each numeric input's finite split thresholds over all trees, by the input's name
    (a split at +inf separates missing values from all others)."""
    classifier = model.pipeline[-1]
    names = list(model.pipeline[:-1].get_feature_names_out())
    found: dict[str, set[float]] = {}
    for iteration in classifier._predictors:
        for tree in iteration:
            splits = tree.nodes[(tree.nodes["is_leaf"] == 0) & (tree.nodes["is_categorical"] == 0)]
            for feature, threshold in zip(
                splits["feature_idx"], splits["num_threshold"], strict=True
            ):
                if np.isfinite(threshold):
                    found.setdefault(names[feature], set()).add(float(threshold))
    return {name: np.array(sorted(values)) for name, values in found.items()}


def _values(rng: np.random.Generator, thresholds: np.ndarray, rows: int) -> np.ndarray:
    """A tenth missing, a third exactly on a threshold, the rest spread around the thresholds."""
    low, high = (thresholds.min() - 1, thresholds.max() + 1) if thresholds.size else (0.0, 100.0)
    values = rng.uniform(low, high, rows)
    if thresholds.size:
        on_split = rng.random(rows) < 1 / 3
        values[on_split] = rng.choice(thresholds, int(on_split.sum()))
    values[rng.random(rows) < 0.1] = np.nan
    return values


def _plain(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else v for v in values.tolist()]


def checked_conversion(model: FraudModel) -> CompiledModel:
    """`model`'s compiled form, once `check` has proved it scores as the pipeline does.

    Raises:
        PackagingError: if the two disagree.
    """
    compiled = CompiledModel.convert(model)
    check(model, compiled)
    return compiled
