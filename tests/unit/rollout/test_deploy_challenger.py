"""The challenger `make deploy` trains on the cluster really differs from the first model.

Both are trained on the same data; the registry names a version by the model file's digest, so
a challenger that reproduces production gets production's version, and its canary compares
production with itself. scripts/deploy.sh's pipeline parameters must change the trees, not just
the bytes: the seed alone does not (the classifier draws no random numbers with early stopping
off and fewer rows than its binning subsample), which is what the first test shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from training_data import point_in_time_training_set

from fraud_detection.config import TrainingSettings
from fraud_detection.features.aggregates import (
    PROFILE_FEATURES,
    STATS_FEATURES,
)
from fraud_detection.registry import ModelRegistry
from fraud_detection.training.model import FraudModel, fit

DEPLOY = Path(__file__).resolve().parents[3] / "scripts" / "deploy.sh"
LOOKED_UP = (*STATS_FEATURES, *PROFILE_FEATURES)
# The first model: what workspace-init trains (the defaults), on a smaller split for speed.
FIRST = TrainingSettings(holdout_days=6, validation_days=3)


@pytest.fixture(scope="module")
def training_set() -> pd.DataFrame:
    return point_in_time_training_set(n_customers=200, days=30)


def challenger_params() -> dict[str, Any]:
    """The training parameters deploy.sh gives the pipeline run (CHALLENGER_PARAMS)."""
    found = re.search(r"^CHALLENGER_PARAMS=\(([^)]*)\)", DEPLOY.read_text(), re.MULTILINE)
    assert found, "deploy.sh defines no CHALLENGER_PARAMS"
    section = re.search(r"--param\s+'training_settings=(\{[^']*\})'", found.group(1))
    assert section, "CHALLENGER_PARAMS passes no training_settings"
    fields = set(TrainingSettings.model_fields)
    params: dict[str, Any] = yaml.safe_load(section.group(1))
    assert set(params) <= fields, f"not training parameters: {set(params) - fields}"
    return params


def version_and_scores(
    model: FraudModel, rows: pd.DataFrame, registry: ModelRegistry, name: str
) -> tuple[str, np.ndarray]:
    path = model.save(registry.root.parent / f"{name}.joblib")
    return registry.register(path, {}).version, model.score(rows)


def test_another_seed_alone_would_not_change_a_single_score(
    training_set: pd.DataFrame, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    rows = training_set.tail(2000)
    first = version_and_scores(fit(training_set, LOOKED_UP, FIRST), rows, registry, "a")
    reseeded = FIRST.model_copy(update={"seed": FIRST.seed + 1})
    other = version_and_scores(fit(training_set, LOOKED_UP, reseeded), rows, registry, "b")
    # A new version (the pickled parameter differs) for the same model.
    assert first[0] != other[0]
    np.testing.assert_array_equal(first[1], other[1])


def test_the_deploy_challenger_gets_its_own_version_and_scores_differently(
    training_set: pd.DataFrame, tmp_path: Path
) -> None:
    params = challenger_params()
    assert "seed" not in params or len(params) > 1, "a seed alone does not change the model"
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    rows = training_set.tail(2000)
    first = version_and_scores(fit(training_set, LOOKED_UP, FIRST), rows, registry, "a")
    challenger = FIRST.model_copy(update=params)
    second = version_and_scores(fit(training_set, LOOKED_UP, challenger), rows, registry, "b")
    assert first[0] != second[0]
    assert not np.array_equal(first[1], second[1])
