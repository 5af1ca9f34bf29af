"""`make deploy`'s upload-and-run of the compiled pipeline, against an in-memory fake of the
KFP API (a mock, because no KFP API server can run here)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from fraud_detection.config import Settings
from fraud_detection.errors import PipelineRunError
from fraud_detection.kfp_submit import package_version, run_arguments, upload_and_run
from fraud_detection.pipeline.parameters import SECTIONS

COMPILED = Path(__file__).resolve().parents[3] / "pipelines" / "compiled" / "training_pipeline.yaml"


class FakeKfp:
    """The kfp.Client methods upload_and_run calls, with the server's behaviour that matters:
    names are unique, versions belong to a pipeline, runs end in a state."""

    def __init__(self, final_state: str = "SUCCEEDED", fail_on: str = "") -> None:
        self.pipelines: dict[str, str] = {}
        self.versions: dict[str, list[SimpleNamespace]] = {}
        self.runs: list[dict[str, Any]] = []
        self.final_state = final_state
        self.fail_on = fail_on

    def _call(self, name: str) -> None:
        if name == self.fail_on:
            raise ConnectionError(f"{name}: connection refused")

    def get_pipeline_id(self, name: str) -> str | None:
        self._call("get_pipeline_id")
        return self.pipelines.get(name)

    def upload_pipeline(self, path: str, name: str) -> SimpleNamespace:
        assert name not in self.pipelines, "uploaded a pipeline twice"
        self.pipelines[name] = f"p-{len(self.pipelines)}"
        self.versions[self.pipelines[name]] = []
        return SimpleNamespace(pipeline_id=self.pipelines[name])

    def list_pipeline_versions(
        self, pipeline_id: str, page_token: str = "", page_size: int = 10
    ) -> SimpleNamespace:
        # One version per page, to exercise paging.
        versions = self.versions[pipeline_id]
        index = int(page_token or 0)
        page = versions[index : index + 1]
        more = index + 1 < len(versions)
        return SimpleNamespace(
            pipeline_versions=page, next_page_token=str(index + 1) if more else ""
        )

    def upload_pipeline_version(self, path: str, name: str, pipeline_id: str) -> SimpleNamespace:
        version = SimpleNamespace(display_name=name, pipeline_version_id=f"v-{name}")
        self.versions[pipeline_id].append(version)
        return version

    def create_experiment(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(experiment_id=f"e-{name}")

    def run_pipeline(self, experiment_id: str, job_name: str, **kwargs: Any) -> SimpleNamespace:
        self._call("run_pipeline")
        self.runs.append({"experiment_id": experiment_id, "name": job_name, **kwargs})
        return SimpleNamespace(run_id=f"r-{len(self.runs)}")

    def wait_for_run_completion(self, run_id: str, timeout: int) -> SimpleNamespace:
        return SimpleNamespace(state=self.final_state)


def test_uploads_once_and_reuses_the_version_of_unchanged_code() -> None:
    kfp = FakeKfp()
    kfp.pipelines["other"] = "p-other"
    kfp.versions["p-other"] = []
    first = upload_and_run(kfp, COMPILED, "training", {"rollout": "kserve"}, 60)
    second = upload_and_run(kfp, COMPILED, "training", {"rollout": "kserve"}, 60)
    pipeline_id = kfp.pipelines["training"]
    assert [v.display_name for v in kfp.versions[pipeline_id]] == [package_version(COMPILED)]
    assert first.pipeline_version == second.pipeline_version == package_version(COMPILED)
    assert [r["params"] for r in kfp.runs] == [{"rollout": "kserve"}] * 2
    assert all(r["version_id"] == f"v-{package_version(COMPILED)}" for r in kfp.runs)


def test_a_changed_package_becomes_a_new_version_found_across_pages(tmp_path: Path) -> None:
    kfp = FakeKfp()
    upload_and_run(kfp, COMPILED, "training", {}, 60)
    changed = tmp_path / "pipeline.yaml"
    changed.write_text(COMPILED.read_text() + "\n# changed\n")
    upload_and_run(kfp, changed, "training", {}, 60)
    upload_and_run(kfp, COMPILED, "training", {}, 60)  # the first version, now on page 1 of 2
    assert len(kfp.versions[kfp.pipelines["training"]]) == 2
    assert kfp.runs[2]["version_id"] == kfp.runs[0]["version_id"]


def test_a_run_that_does_not_succeed_is_an_error_naming_the_run() -> None:
    with pytest.raises(PipelineRunError, match=r"pipeline run r-1 ended FAILED"):
        upload_and_run(FakeKfp(final_state="FAILED"), COMPILED, "training", {}, 60)


def test_an_unreachable_api_is_a_clear_error() -> None:
    with pytest.raises(PipelineRunError, match="KFP API call failed: ConnectionError"):
        upload_and_run(FakeKfp(fail_on="get_pipeline_id"), COMPILED, "training", {}, 60)


def test_a_missing_package_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PipelineRunError, match="make pipeline"):
        upload_and_run(FakeKfp(), tmp_path / "absent.yaml", "training", {}, 60)


def test_the_run_carries_every_settings_section_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRAUD_ROLLOUT__MAX_P95_LATENCY_RATIO", "3.5")
    monkeypatch.setenv("FRAUD_GATE__MIN_PR_AUC", "0.6")
    arguments = run_arguments(Settings(), ["rollout=kserve", "promote=false", "namespace=ns"])
    assert arguments["rollout_settings"]["max_p95_latency_ratio"] == 3.5
    assert arguments["gate_settings"]["min_pr_auc"] == 0.6
    assert arguments["training_settings"] == Settings().training.model_dump(mode="json")
    assert (arguments["rollout"], arguments["promote"], arguments["namespace"]) == (
        "kserve", False, "ns")  # fmt: skip
    # Every argument names a parameter of the compiled pipeline (the KFP API refuses others).
    compiled = next(yaml.safe_load_all(COMPILED.read_text()))
    assert set(arguments) <= set(compiled["root"]["inputDefinitions"]["parameters"])
    assert set(SECTIONS) <= set(arguments)


def test_a_section_given_as_a_param_overrides_only_its_keys() -> None:
    arguments = run_arguments(Settings(), ['training_settings={"max_iter": 200}'])
    assert arguments["training_settings"] == {
        **Settings().training.model_dump(mode="json"), "max_iter": 200}  # fmt: skip


@pytest.mark.parametrize(
    ("param", "message"),
    [("max_iter", "expected NAME=VALUE"), ("gate_settings=0.5", "one JSON object")],
)
def test_a_malformed_param_is_refused_before_anything_is_submitted(
    param: str, message: str
) -> None:
    with pytest.raises(PipelineRunError, match=message):
        run_arguments(Settings(), [param])
