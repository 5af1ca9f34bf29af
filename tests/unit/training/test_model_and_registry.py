"""The model object, the registry, and the training steps' refusals (no kfp, no Feast)."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from training_data import holdout_evaluation, point_in_time_training_set

from fraud_detection.config import GateSettings, TrainingSettings
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import NoProductionModelError, RegistryError, TrainingError
from fraud_detection.features.aggregates import (
    PROFILE_FEATURES,
    STATS_FEATURES,
)
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REFERENCE_FILE
from fraud_detection.training import steps
from fraud_detection.training.holdout_scores import ScoredHoldout
from fraud_detection.training.model import FraudModel, fit

LOOKED_UP = (*STATS_FEATURES, *PROFILE_FEATURES)
PARAMS = TrainingSettings(holdout_days=8, validation_days=4, max_iter=60)
GATE = GateSettings(min_roc_auc=0.5, min_pr_auc=0.05, min_recall_at_fpr=0.0)


@pytest.fixture(scope="module")
def training_set() -> pd.DataFrame:
    """Transactions joined with the features that existed just before each (as Feast would)."""
    return point_in_time_training_set(n_customers=1_500, days=40)


@pytest.fixture(scope="module")
def model(training_set: pd.DataFrame) -> FraudModel:
    return fit(training_set, LOOKED_UP, PARAMS)


def test_saved_model_scores_exactly_as_before(
    model: FraudModel, training_set: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = FraudModel.load(model.save(tmp_path / "model.joblib"))
    rows = training_set.head(200)
    np.testing.assert_array_equal(loaded.score(rows), model.score(rows))
    assert loaded.looked_up == LOOKED_UP


def test_signals_of_fraud_raise_the_score(model: FraudModel, training_set: pd.DataFrame) -> None:
    habitual = training_set[training_set["is_fraud"] == 0].head(50).copy()
    suspicious = habitual.assign(
        amount=habitual["amount"] * 20, distance_from_home_km=800.0, card_present=False,
        merchant_category="electronics",
        event_timestamp=habitual["event_timestamp"].dt.normalize() + pd.Timedelta(hours=3),
    )  # fmt: skip
    assert model.score(suspicious).mean() > 5 * model.score(habitual).mean()


def test_score_does_not_depend_on_the_transaction_id(
    model: FraudModel, training_set: pd.DataFrame
) -> None:
    rows = training_set.head(20)
    renamed = rows.assign(transaction_id=[f"other-{i}" for i in range(20)])
    np.testing.assert_array_equal(model.score(rows), model.score(renamed))


def test_loading_a_missing_corrupt_or_foreign_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        FraudModel.load(tmp_path / "missing.joblib")
    (tmp_path / "corrupt.joblib").write_bytes(b"garbage")
    with pytest.raises(RegistryError, match="cannot load"):
        FraudModel.load(tmp_path / "corrupt.joblib")
    (tmp_path / "dict.joblib").write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(RegistryError, match="not a FraudModel"):
        FraudModel.load(tmp_path / "dict.joblib")


def test_registering_is_idempotent_and_promotion_keeps_history(
    model: FraudModel, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    assert registry.production() is None
    path = model.save(tmp_path / "model.joblib")
    first = registry.register(path, {"threshold": 0.5})
    assert registry.register(path, {"threshold": 0.5}) == first
    assert [m.version for m in registry.versions()] == [first.version]
    registry.promote(first.version, reason="first")
    registry.promote(first.version, reason="again")
    production = registry.production()
    assert production is not None and production.version == first.version
    history = (registry.model_dir / "production.json").read_text()
    assert '"reason": "first"' in history
    with pytest.raises(RegistryError, match="no version 'nope'"):
        registry.get("nope")


def train_candidate(
    training_set: pd.DataFrame, tmp_path: Path, name: str, shuffle: bool = False
) -> tuple[Path, dict[str, float], Path]:
    frame = training_set.copy()
    if shuffle:  # labels unrelated to the features: a model that has learnt nothing
        frame["is_fraud"] = np.random.default_rng(1).permutation(frame["is_fraud"].to_numpy())
    data_path = write_parquet(frame, tmp_path / f"{name}.parquet")
    model_path = tmp_path / f"{name}.joblib"
    steps.train(data_path, LOOKED_UP, PARAMS, 0.01, model_path)
    holdout_source = write_parquet(training_set, tmp_path / "eval.parquet")
    evaluation = holdout_evaluation(model_path, holdout_source, PARAMS, 0.01)
    return model_path, evaluation.metrics(), holdout_source


def test_gate_refuses_a_deliberately_worse_candidate_against_production(
    training_set: pd.DataFrame, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    good_path, good_metrics, holdout_source = train_candidate(training_set, tmp_path, "good")
    decision = steps.gate(good_path, good_metrics, holdout_source, PARAMS, registry, GATE)
    assert decision.passed
    steps.register(good_path, good_metrics, decision.to_dict(), holdout_source, PARAMS, registry,
                   lineage={}, promote=True)  # fmt: skip

    worse_path, worse_metrics, _ = train_candidate(training_set, tmp_path, "worse", shuffle=True)
    refused = steps.gate(worse_path, worse_metrics, holdout_source, PARAMS, registry, GATE)

    assert not refused.passed
    assert any("champion" in reason for reason in refused.reasons)


def scores_file(model_path: Path, source: Path, registry: ModelRegistry, out: Path) -> Path:
    """The holdout's scores file the pipeline's evaluate step writes (its report beside it)."""
    steps.evaluate_step(model_path, source, PARAMS, GATE, registry, out.with_suffix(".html"), out)
    return out


def test_the_steps_use_the_holdout_scores_only_for_their_rows_and_production(
    training_set: pd.DataFrame, tmp_path: Path
) -> None:
    """`evaluate_step` scores once for the steps after it; a step whose holdout rows or
    production differ from the file's scores again instead of using them (the gate), and
    `register` keeps the candidate's scores from the file only when they are these rows'."""
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    good_path, good_metrics, holdout_source = train_candidate(training_set, tmp_path, "good")
    before = scores_file(good_path, holdout_source, registry, tmp_path / "0.pq")
    assert ScoredHoldout.read(before).champion is None
    decision = steps.gate(good_path, good_metrics, holdout_source, PARAMS, registry, GATE, before)
    steps.register(good_path, good_metrics, decision.to_dict(), holdout_source, PARAMS, registry,
                   lineage={}, promote=True, scores_path=before)  # fmt: skip
    production = registry.production()
    assert production is not None
    reference = pd.read_parquet(production.path / REFERENCE_FILE)
    holdout = steps._holdout(holdout_source, PARAMS)
    expected = FraudModel.load(good_path).score(holdout)[-len(reference) :]
    np.testing.assert_array_equal(reference["prediction"].to_numpy(), expected)

    # Scored before production existed: the gate scores production itself and refuses.
    worse_path, worse_metrics, _ = train_candidate(training_set, tmp_path, "worse", shuffle=True)
    stale = scores_file(worse_path, holdout_source, ModelRegistry(
        tmp_path / "empty", "fraud-detector"), tmp_path / "1.pq")  # fmt: skip
    refused = steps.gate(worse_path, worse_metrics, holdout_source, PARAMS, registry, GATE, stale)
    assert not refused.passed and any("champion" in r for r in refused.reasons)

    # Current scores are read, not recomputed: perfect scores in the file are the candidate's
    # monitoring reference.
    current = ScoredHoldout.read(
        scores_file(worse_path, holdout_source, registry, tmp_path / "2.pq")
    )
    assert current.champion_version == production.version
    labels = holdout["is_fraud"].to_numpy(dtype=float)
    perfect = replace(current, candidate=replace(current.candidate, scores=labels))
    np.testing.assert_array_equal(
        reference_predictions(worse_path, holdout_source, perfect.write(tmp_path / "3.pq"),
                              tmp_path / "r3"), labels[-len(reference) :],
    )  # fmt: skip
    # Scores of other rows are not used: the first half of the holdout's.
    rows = len(labels) // 2
    half = ScoredHoldout(perfect.transaction_ids[:rows], replace(
        perfect.candidate, scores=labels[:rows]), champion_version=production.version)  # fmt: skip
    np.testing.assert_array_equal(
        reference_predictions(worse_path, holdout_source, half.write(tmp_path / "4.pq"),
                              tmp_path / "r4"),
        FraudModel.load(worse_path).score(holdout)[-len(reference) :],
    )  # fmt: skip


def reference_predictions(model_path: Path, source: Path, scores: Path, root: Path) -> np.ndarray:
    """The predictions `register` keeps as the model's monitoring reference, given `scores`."""
    registry = ModelRegistry(root, "fraud-detector")
    registered = steps.register(model_path, {}, {"passed": True}, source, PARAMS, registry,
                                lineage={}, promote=False, scores_path=scores)  # fmt: skip
    path = registry.get(registered["version"]).path / REFERENCE_FILE
    return np.asarray(pd.read_parquet(path)["prediction"].to_numpy())


def test_register_refuses_a_model_the_gate_did_not_pass(
    model: FraudModel, training_set: pd.DataFrame, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    with pytest.raises(TrainingError, match="did not pass the gate"):
        steps.register(model.save(tmp_path / "m.joblib"), {}, {"passed": False},
                       write_parquet(training_set, tmp_path / "t.parquet"), PARAMS, registry,
                       lineage={}, promote=True)  # fmt: skip
    assert registry.versions() == [] and registry.production() is None


def test_require_production_names_the_registry_and_the_fix(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    with pytest.raises(NoProductionModelError, match=r"no production model in .*registry.*: run"):
        registry.require_production(hint="run it")
