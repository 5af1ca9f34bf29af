"""The compiled pipeline: loadable by kfp, and identical to the committed golden file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import components

from pipelines.training_pipeline import PIPELINE_NAME, compile_pipeline

GOLDEN = Path(__file__).resolve().parents[2] / "pipelines" / "compiled" / "training_pipeline.yaml"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_pipeline(tmp_path_factory.mktemp("compiled") / "pipeline.yaml")


def test_compiled_pipeline_loads_back_into_kfp(compiled: Path) -> None:
    pipeline = components.load_component_from_file(str(compiled))
    assert pipeline.name == PIPELINE_NAME
    spec, _ = _documents(compiled)
    tasks = set(spec["root"]["dag"]["tasks"])
    assert {"ingest-data", "build-training-set", "train-model", "evaluate-model",
            "validation-gate", "condition-1"} <= tasks  # fmt: skip


def test_rollout_step_runs_only_for_kserve_after_packaging(compiled: Path) -> None:
    spec, _ = _documents(compiled)
    components = spec["components"]
    gated = components["comp-condition-1"]["dag"]["tasks"]
    assert {"register-model", "package-model", "condition-2"} <= set(gated)
    assert set(components["comp-condition-2"]["dag"]["tasks"]) == {"rollout-canary"}
    assert gated["condition-2"]["dependentTasks"] == ["package-model", "register-model"]
    condition = gated["condition-2"]["triggerPolicy"]["condition"]
    assert "kserve" in condition


def test_every_task_mounts_the_workspace_on_the_cluster(compiled: Path) -> None:
    spec, platform = _documents(compiled)
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for config in executors.values():
        (mount,) = config["pvcMount"]
        assert mount["mountPath"] == "/workspace" and mount["constant"] == "fraud-workspace"


def _documents(compiled: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline spec, and the platform spec kfp-kubernetes adds (volume mounts)."""
    spec, platform = yaml.safe_load_all(compiled.read_text())
    return spec, platform


def test_golden_file_is_up_to_date(compiled: Path) -> None:
    assert GOLDEN.read_text() == compiled.read_text(), (
        "pipelines/compiled/training_pipeline.yaml is stale: run `make pipeline` and commit it"
    )
