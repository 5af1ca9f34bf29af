"""The embedded canary end to end: two real BentoML servers, real traffic, then the verdict.

A broken or worse candidate is rolled back and production keeps all traffic; a better one is
promoted by moving the production pointer. Each expected decision is one the data supports:
the candidate that must win was retrained after the world drifted and production was not, so
its lead on the probe set is far beyond the probe set's noise. Two models of equal quality
would be indistinguishable on 400 rows, and no test here expects a decision between them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.features.derived import model_frame
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.pipeline import local_run
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import CARD_FILE
from fraud_detection.rollout.embedded import run_canary
from fraud_detection.training.model import FraudModel

pytestmark = pytest.mark.integration


# The world after production was trained: legitimate customers spend more and further from home.
# Production flags much of that as fraud; a model retrained on the new history does not.
DRIFT = DriftSpec(amount_scale=2.5, distance_scale=3, night_share=0.3)


@pytest.fixture(scope="module")
def with_candidate(
    trained_workspace: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The trained workspace after the world drifted: production was trained before the drift,
    and a model retrained on the drifted history is registered as its candidate."""
    root = tmp_path_factory.mktemp("canary") / "workspace"
    shutil.copytree(trained_workspace.paths.root, root)
    # The canary gives up on a candidate as soon as its worker fails to start; should it miss
    # that, the test fails (below) without waiting the production default first.
    rollout = trained_workspace.rollout.model_copy(update={"ready_timeout_s": 45.0})
    settings = trained_workspace.model_copy(update={"workspace": root, "rollout": rollout})
    prepare_data(settings, DRIFT)
    prepare_features(settings, progress=lambda _: None)
    run = local_run.run(settings, promote=False, report=lambda _: None)
    assert run.decision["passed"], run.decision["reasons"]
    return settings


@pytest.fixture
def workspace(with_candidate: Settings, tmp_path: Path) -> Callable[[], Settings]:
    def copy() -> Settings:
        root = tmp_path / "workspace"
        shutil.copytree(with_candidate.paths.root, root)
        return with_candidate.model_copy(update={"workspace": root})

    return copy


def registry_of(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings.paths.registry, settings.model_name)


def staged_candidate(settings: Settings, tmp_path: Path, model_bytes: bytes | None) -> Path:
    """A model directory holding the candidate's card and the given model file."""
    candidate = registry_of(settings).newest_candidate()
    assert candidate is not None
    staged = tmp_path / "staged"
    staged.mkdir()
    shutil.copyfile(candidate.path / CARD_FILE, staged / CARD_FILE)
    if model_bytes is not None:
        (staged / "model.joblib").write_bytes(model_bytes)
    return staged


def test_candidate_that_cannot_start_is_rolled_back(
    workspace: Callable[[], Settings], tmp_path: Path
) -> None:
    settings = workspace()
    registry = registry_of(settings)
    before = registry.production()
    candidate = registry.newest_candidate()
    assert before is not None and candidate is not None
    broken = staged_candidate(settings, tmp_path, model_bytes=b"not a model")
    reported: list[str] = []

    result = run_canary(settings, candidate.version, reported.append, candidate_model_dir=broken)

    assert not result.promoted
    assert [c.name for c in result.verdict.checks if not c.ok] == ["ready"]
    # Given up on once its worker failed to load the model, not after the ready timeout.
    assert "candidate not ready: the scoring server's worker failed to start:" in reported
    assert "cannot load model" in (result.record.parent / "candidate.log").read_text()
    after = registry.production()
    assert after is not None and after.version == before.version
    record = json.loads(result.record.read_text())
    assert record["promoted"] is False
    assert record["verdict"]["stable"]["errors"] == 0  # stable kept serving all traffic


def test_candidate_that_scores_worse_on_the_probe_set_is_rolled_back(
    workspace: Callable[[], Settings], tmp_path: Path
) -> None:
    settings = workspace()
    registry = registry_of(settings)
    production = registry.production()
    candidate = registry.newest_candidate()
    assert production is not None and candidate is not None
    sound = candidate.load()
    # Same inputs and interface, but scores that ignore them: a regression a gate on stale
    # data could miss and live evidence must catch.
    guessing = Pipeline([("classify", DummyClassifier(strategy="stratified", random_state=0))])
    reference = pd.read_parquet(production.path / "reference.parquet")
    guessing.fit(model_frame(reference, sound.looked_up), reference["is_fraud"])
    worse = FraudModel(pipeline=guessing, looked_up=sound.looked_up, threshold=sound.threshold)
    staged = staged_candidate(settings, tmp_path, model_bytes=None)
    joblib.dump(worse, staged / "model.joblib")

    result = run_canary(settings, candidate.version, lambda _: None, candidate_model_dir=staged)

    assert not result.promoted
    assert "probe_pr_auc" in {c.name for c in result.verdict.checks if not c.ok}
    after = registry.production()
    assert after is not None and after.version == production.version


def test_sound_candidate_is_promoted_with_its_evidence_recorded(
    workspace: Callable[[], Settings],
) -> None:
    settings = workspace()
    registry = registry_of(settings)
    candidate = registry.newest_candidate()
    assert candidate is not None

    result = run_canary(settings, candidate.version, lambda _: None)

    assert result.promoted, result.verdict.reasons
    # The decision rests on a lead well beyond the probe set's noise, not on a coin flip: with
    # the pinned data, recall at the FPR budget 0.875 against 0.636 (PR-AUC, near its ceiling
    # for both, 0.956 against 0.916).
    candidate_figures, stable_figures = result.verdict.candidate, result.verdict.stable
    recall_lead = candidate_figures["probe_recall_at_fpr"] - stable_figures["probe_recall_at_fpr"]
    assert recall_lead > 0.1, result.verdict.to_dict()
    assert candidate_figures["probe_pr_auc"] > stable_figures["probe_pr_auc"]
    production = registry.production()
    assert production is not None and production.version == candidate.version
    history = json.loads(registry.production_file.read_text())["history"]
    assert history[-1]["version"] == result.stable_version
    assert result.verdict.candidate["requests"] >= settings.rollout.min_requests
