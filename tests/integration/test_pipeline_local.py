"""The whole training pipeline through kfp.local: the same components the cluster runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import SMALL_TRAINING

from fraud_detection.config import Settings, TrainingSettings
from fraud_detection.errors import FraudDetectionError
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.pipeline import local_run
from fraud_detection.registry import ModelRegistry

pytestmark = pytest.mark.integration

# A model that cannot compete: a few shallow trees with a tiny learning rate.
WEAK = {**SMALL_TRAINING, "max_iter": 10, "max_leaf_nodes": 2, "learning_rate": 0.01}


def registry_of(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings.paths.registry, settings.model_name)


def copy_of(settings: Settings, root: Path) -> Settings:
    shutil.copytree(settings.paths.root, root)
    return settings.model_copy(update={"workspace": root})


def test_pipeline_trains_gates_registers_and_refuses_a_worse_model(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    # The session's workspace ran the pipeline once, on an empty registry. Nothing changed
    # since: running it again returns that run's decision instead of training anew (and so
    # leaves the shared workspace as it was).
    first = local_run.run(trained_workspace, report=lambda _: None)
    assert first.reused

    assert first.decision["passed"], first.decision["reasons"]
    registry = registry_of(trained_workspace)
    production = registry.production()
    assert production is not None
    card = production.card
    assert card["metrics"]["pr_auc"] == pytest.approx(first.decision["candidate"]["pr_auc"])
    assert card["features"][:4] == ["amount", "merchant_category", "distance_from_home_km",
                                    "card_present"]  # fmt: skip
    assert card["lineage"]["data_fingerprint"]
    assert {"model.joblib", "model_card.json", "reference.parquet",
            "evaluation_report.html"} <= set(card["files"])  # fmt: skip
    assert first.evaluation_report(registry) == production.path / "evaluation_report.html"
    reference = pd.read_parquet(production.path / "reference.parquet")
    assert {"prediction", "is_fraud", "txn_count_1h"} <= set(reference.columns)
    # The package step saved the model to BentoML and built a Bento of the same version.
    home = trained_workspace.paths.bentoml_home
    assert (home / "models" / "fraud-detector" / production.version / "model_card.json").exists()
    bento = (home / "bentos" / "fraud-detector" / production.version / "bento.yaml").read_text()
    assert f"model_tag: fraud-detector:{production.version}" in bento

    # A deliberately weak candidate is refused against the champion; production stays. (In a
    # copy: the run writes its artifacts into the workspace.)
    settings = copy_of(trained_workspace, tmp_path / "workspace")
    registry = registry_of(settings)
    weak_settings = settings.model_copy(update={"training": TrainingSettings(**WEAK)})
    weak = local_run.run(weak_settings, report=lambda _: None)
    assert not weak.reused
    assert not weak.decision["passed"]
    assert weak.decision["champion_version"] == production.version
    assert any("champion" in reason for reason in weak.decision["reasons"])
    # The refused candidate's report, the evaluate step's HTML artifact, draws production too.
    assert f"production {production.version}" in weak.evaluation_report(registry).read_text()
    after = registry.production()
    assert after is not None and after.version == production.version
    assert [m.version for m in registry.versions()] == [production.version]
    bentos = settings.paths.bentoml_home / "bentos" / "fraud-detector"
    assert {p.parent.name for p in bentos.glob("*/bento.yaml")} == {production.version}


def test_single_class_data_stops_the_pipeline_and_registers_nothing(
    new_workspace: Callable[..., Settings],
) -> None:
    settings = new_workspace()
    prepare_data(settings)
    prepare_features(settings, progress=lambda _: None)
    frame = pd.read_parquet(settings.paths.transactions)
    frame.assign(is_fraud=0).to_parquet(settings.paths.transactions)

    with pytest.raises(FraudDetectionError, match="single class") as failure:
        local_run.run(settings, report=lambda _: None)
    assert "ingest-data" in str(failure.value)
    assert registry_of(settings).production() is None
    assert registry_of(settings).versions() == []


def test_decision_file_is_json_with_every_check(trained_workspace: Settings) -> None:
    run = local_run.run(trained_workspace, report=lambda _: None)  # its first run's, reused
    decision = json.loads(run.decision_file.read_text())
    checks = {c["check"].split(" ")[0] for c in decision["checks"]}
    assert {"roc_auc", "pr_auc", "recall_at_fpr"} <= checks
