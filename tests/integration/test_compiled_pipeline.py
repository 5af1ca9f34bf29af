"""The compiled pipeline: loadable by kfp, identical to the committed golden file, and taking
the settings as whole sections that reach every step that reads them."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
import yaml
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from kfp import components

from fraud_detection import kfp_submit
from fraud_detection.config import Settings
from fraud_detection.pipeline import local_run, parameters
from fraud_detection.pipeline.components import rollout_canary
from fraud_detection.pipeline.definition import PIPELINE_NAME, compile_pipeline, training_pipeline
from fraud_detection.retraining.launchers import cluster_run_arguments

GOLDEN = Path(__file__).resolve().parents[2] / "pipelines" / "compiled" / "training_pipeline.yaml"
# Everything the pipeline takes that is not a settings section: where the workspace is, the
# fingerprints and commit of a run, and the rollout target.
RUN_PARAMETERS = {"workspace", "data_fingerprint", "features_fingerprint", "git_sha", "promote",
                  "rollout", "isvc_name", "namespace", "model_storage_prefix",
                  "pushgateway_url"}  # fmt: skip
# The steps that read each section.
READERS = {
    "identity": {"ingest-data", "build-training-set", "evaluate-model", "validation-gate",
                 "register-model", "package-model", "rollout-canary"},
    "ingest_settings": {"ingest-data"},
    "training_settings": {"build-training-set", "train-model", "evaluate-model",
                          "validation-gate", "register-model", "rollout-canary"},
    "gate_settings": {"train-model", "evaluate-model", "validation-gate", "rollout-canary"},
    "rollout_settings": {"rollout-canary"},
}  # fmt: skip


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


def _tasks(spec: dict[str, Any]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Every task of the pipeline, nested conditions included: its spec, and the path of
    condition tasks that leads to it from the root."""
    found: dict[str, tuple[dict[str, Any], list[str]]] = {}

    def walk(dag: dict[str, Any], path: list[str]) -> None:
        for name, task in dag["tasks"].items():
            found[name] = (task, path)
            inner = spec["components"][task["componentRef"]["name"]].get("dag")
            if inner:
                walk(inner, [*path, name])

    walk(spec["root"]["dag"], [])
    return found


def _source_of(spec: dict[str, Any], task_name: str, input_name: str) -> str | None:
    """The root pipeline parameter a task's input parameter comes from, followed up through the
    conditions around the task (None: not a pipeline parameter)."""
    tasks = _tasks(spec)
    _, path = tasks[task_name]
    name = input_name
    for outer in [task_name, *reversed(path)]:
        wired = tasks[outer][0].get("inputs", {}).get("parameters", {}).get(name)
        if wired is None or "componentInputParameter" not in wired:
            return None
        name = wired["componentInputParameter"]
    return name


def test_the_pipeline_takes_each_settings_section_whole(compiled: Path) -> None:
    """The signature: one object per section, no setting flattened into a parameter of its own
    (a field added to a section changes nothing here)."""
    signature = set(inspect.signature(training_pipeline.pipeline_func).parameters)
    assert signature == RUN_PARAMETERS | set(parameters.SECTIONS)
    spec, _ = _documents(compiled)
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert set(declared) == signature
    for section in parameters.SECTIONS:
        assert declared[section]["parameterType"] == "STRUCT"
        # Empty: config.py's defaults, applied where the step runs.
        assert declared[section]["defaultValue"] == {}
    sections = [v for v in dict(Settings()).values() if isinstance(v, pydantic.BaseModel)]
    fields = {name for section in sections for name in type(section).model_fields}
    assert not fields & signature, "a setting travels on its own"


def test_each_section_reaches_exactly_the_steps_that_read_it(compiled: Path) -> None:
    spec, _ = _documents(compiled)
    steps = {name for name, (task, _) in _tasks(spec).items() if not name.startswith("condition")}
    for section, readers in READERS.items():
        wired = {step for step in steps if _source_of(spec, step, section) == section}
        assert wired == readers, section


@pytest.mark.parametrize("section", list(parameters.SECTIONS))
def test_a_field_added_to_a_section_reaches_the_steps_without_a_new_parameter(
    section: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new field in a settings model (simulated by a subclass with one more field) travels in
    the section's object and comes out of the steps' parse helper, the signature unchanged."""
    field = parameters.SECTIONS[section]
    model = type(getattr(Settings(), field))
    extended = pydantic.create_model(
        f"Extended{model.__name__}", __base__=model, added_knob=(int, 1)
    )
    # The helper each step calls validates with the section's model from config.
    monkeypatch.setattr(parameters, model.__name__, extended)
    settings = Settings().model_copy(update={field: extended(added_knob=7)})
    sent = parameters.section_arguments(settings)[section]
    assert sent["added_knob"] == 7
    received = getattr(parameters, field)(_as_kfp_struct(sent))
    assert isinstance(received, extended) and received.model_dump()["added_knob"] == 7
    assert section in inspect.signature(training_pipeline.pipeline_func).parameters


def test_a_rollout_setting_from_the_environment_reaches_the_clusters_rollout_step(
    compiled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_ROLLOUT__PROBE_ROWS", "777")
    monkeypatch.setenv("FRAUD_WORKSPACE", str(tmp_path))
    settings = Settings()
    # Every submitter sends it: the local run, `fraud-detection submit`, the monitor's retraining.
    submitted = [
        local_run.pipeline_arguments(settings),
        kfp_submit.run_arguments(settings, ["rollout=kserve", "promote=false"]),
        cluster_run_arguments(settings),
    ]
    for arguments in submitted:
        assert arguments["rollout_settings"]["probe_rows"] == 777
        assert set(arguments) <= set(inspect.signature(training_pipeline.pipeline_func).parameters)
    # The compiled pipeline hands that parameter, through both conditions, to the rollout step.
    spec, _ = _documents(compiled)
    assert _source_of(spec, "rollout-canary", "rollout_settings") == "rollout_settings"
    # The step's own function parses it into the RolloutSettings its canary runs with.
    seen: dict[str, Any] = {}

    def promote(target: Any, version: str) -> SimpleNamespace:
        seen["target"] = target
        return SimpleNamespace(promote=False)

    from fraud_detection.rollout import cluster_job

    monkeypatch.setattr(cluster_job, "promote", promote)
    monkeypatch.setattr(cluster_job, "report_verdict", lambda verdict: None)
    argument = _as_kfp_struct(submitted[1]["rollout_settings"])
    assert argument["probe_rows"] == 777.0  # a double on the wire
    promoted = rollout_canary.python_func(
        version="abc", isvc_name="isvc", namespace="ns", storage_uri_prefix="pvc://x/y",
        workspace=str(tmp_path), identity=_as_kfp_struct(submitted[1]["identity"]),
        training_settings={}, gate_settings={}, rollout_settings=argument,
    )  # fmt: skip
    assert promoted is False
    rollout = seen["target"].rollout
    assert rollout.probe_rows == 777 and isinstance(rollout.probe_rows, int)
    assert rollout.canary_percent == settings.rollout.canary_percent


def _as_kfp_struct(value: dict[str, Any]) -> dict[str, Any]:
    """A dict as a step receives a `dict` parameter: through a protobuf Struct (numbers become
    doubles)."""
    struct = struct_pb2.Struct()
    struct.update(value)
    received: dict[str, Any] = json_format.MessageToDict(struct)
    return received
