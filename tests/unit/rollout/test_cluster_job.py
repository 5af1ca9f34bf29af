"""The rollout Job's actions (`python -m fraud_detection.rollout.cluster_job`), run against an
in-memory Kubernetes API and a real registry directory in a workspace (tmp_path).

The Kubernetes API is a mock (`FakeInferenceServices`, shared with test_kserve_rollout.py), and
only because no cluster can run here; the registry, the settings, the probe data and the
promotion logic are the real ones. Measuring the predictors is replaced by fixed measurements:
there are no predictor Services to call. The registered versions are one small model with
three thresholds (three files, three versions, the same scores), each with the same labelled
probe rows, so a canary between them is a comparison of equals on the probe set.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from installed import pinned_tool
from test_kserve_rollout import FakeInferenceServices, good, inference_service
from training_data import velocity_training_set

from fraud_detection.config import DataSettings, TrainingSettings
from fraud_detection.data.generate import generate
from fraud_detection.data.io import write_parquet
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.identity import Identity
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import PROBE_FILE
from fraud_detection.rollout import cluster_job, kserve, traffic
from fraud_detection.rollout.analysis import Measurements
from fraud_detection.training.model import fit

REPO_ROOT = Path(__file__).resolve().parents[3]
PREFIX = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions"
FAST = '{"ready_timeout_s": 0.05, "min_requests": 5, "requests": 10, "probe_rows": 20}'


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Three model files (one small model, three thresholds) and labelled probe rows."""
    root = tmp_path_factory.mktemp("models")
    data = generate(DataSettings(n_customers=300, days=20, fraud_rate=0.02, end=date(2026, 1, 1)))
    rows: pd.DataFrame = velocity_training_set(data)
    model = fit(rows, VELOCITY_FEATURES, TrainingSettings(max_iter=10, max_leaf_nodes=7))
    files = []
    for i, name in enumerate(("first", "second", "third")):
        model.threshold = 0.5 + i / 100
        files.append(model.save(root / f"{name}.joblib"))
    return files, write_parquet(rows, root / PROBE_FILE)


class Workspace:
    """A workspace with a registry of three versions (the first in production), recent
    transactions, and an InferenceService serving production as `make deploy` renders it."""

    def __init__(self, root: Path, models: tuple[list[Path], Path]) -> None:
        self.registry = ModelRegistry(root / "artifacts" / "registry", "fraud-detector")
        self.versions = []
        files, probe = models
        for name, model in zip(("first", "second", "third"), files, strict=True):
            registered = self.registry.register(model, {"source": name}, {PROBE_FILE: probe})
            self.versions.append(registered.version)
        self.registry.promote(self.versions[0], "first model")
        data = generate(DataSettings(n_customers=60, days=10, end=date(2026, 1, 1)))
        write_parquet(data.transactions, root / "data" / "raw" / "transactions.parquet")
        isvc = inference_service()
        predictor = isvc["spec"]["predictor"]
        predictor["name"] = kserve.predictor_name(self.versions[0])
        predictor["containers"][0]["env"][0]["value"] = f"{PREFIX}/{self.versions[0]}"
        self.api = FakeInferenceServices(isvc)

    def run(self, *argv: str) -> int:
        return cluster_job.main(
            ["--isvc", "fraud", "--namespace", "fraud", "--settings", FAST, *argv], self.api
        )

    @property
    def production(self) -> str:
        found = self.registry.production()
        assert found is not None
        return found.version

    @property
    def serving(self) -> str:
        return kserve.version_of(
            self.api.isvc["spec"]["predictor"]["containers"][0]["env"][0]["value"]
        )


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: tuple[list[Path], Path]
) -> Workspace:
    monkeypatch.setenv("FRAUD_WORKSPACE", str(tmp_path))
    return Workspace(tmp_path, models)


def measured_as(candidate: Measurements, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Job would measure through the predictors' Services (none exist here)."""

    def fake(clients: dict[str, Any], weights: dict[str, float], *args: Any) -> dict[str, Any]:
        assert set(clients) == {"stable", "candidate"}
        return {"stable": good(), "candidate": candidate}

    monkeypatch.setattr(traffic, "measure", fake)


def lines(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", output, re.MULTILINE))


def test_status_names_production_its_predecessor_and_what_is_served(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ws.run("status") == 0
    found = lines(capsys.readouterr().out)
    assert found["production"] == found["serving"] == ws.versions[0]
    assert found["previous"] == "none" and found["canaries"] == "none"
    assert found["candidate"] in ws.versions[1:]
    assert found["agree"] == "yes"


def test_a_promotion_moves_the_registry_pointer_and_the_inference_service_together(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    measured_as(good(), monkeypatch)
    assert ws.run("promote", ws.versions[1]) == 0
    out = capsys.readouterr().out
    assert ws.production == ws.serving == ws.versions[1]
    assert "spec" in ws.api.isvc and "canary" not in ws.api.isvc["spec"]
    found = lines(out)
    assert found["result"] == "promoted" and found["agree"] == "yes"
    # The evidence: every check, and the verdict as JSON, with the probe set's comparison.
    evidence = json.loads(found["evidence"])
    assert evidence["promote"] is True
    assert "ok  error_rate" in out and "ok  probe_recall_at_fpr" in out
    comparison = evidence["probe"]["comparisons"]["pr_auc"]
    assert comparison["lower"] == comparison["upper"] == 0.0  # the same scores
    assert evidence["probe"]["source"].endswith(f"{ws.versions[1]}/{PROBE_FILE}")


def test_a_rolled_back_canary_leaves_both_and_exits_3(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_before, pointer_before = ws.api.isvc["spec"], ws.registry.production_file.read_text()
    worse = Measurements(ready=True, requests=50, errors=25, latencies_ms=(10.0,) * 20)
    measured_as(worse, monkeypatch)
    assert ws.run("promote", ws.versions[1]) == cluster_job.ROLLED_BACK
    assert ws.api.isvc["spec"] == spec_before
    assert ws.registry.production_file.read_text() == pointer_before
    assert lines(capsys.readouterr().out)["result"] == "rolled back"


def test_a_held_canary_carries_the_settings_share_until_rolled_back(ws: Workspace) -> None:
    assert cluster_job.main(
        ["--isvc", "fraud", "--namespace", "fraud",
         "--settings", '{"canary_percent": 35, "ready_timeout_s": 0.05}',
         "canary", ws.versions[1]], ws.api,
    ) == 0  # fmt: skip
    (entry,) = ws.api.isvc["spec"]["canary"]
    assert entry["trafficPercent"] == 35
    assert entry["predictor"]["name"] == kserve.predictor_name(ws.versions[1])
    # Rolling back a running canary removes it and nothing else.
    assert ws.run("rollback") == 0
    assert "canary" not in ws.api.isvc["spec"]
    assert ws.production == ws.serving == ws.versions[0]


def test_rollback_returns_production_to_the_previous_version_and_the_service_with_it(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured_as(good(), monkeypatch)
    assert ws.run("promote", ws.versions[1]) == 0
    assert ws.run("rollback") == 0
    assert ws.production == ws.serving == ws.versions[0]
    assert ws.api.isvc["spec"]["predictor"]["name"] == kserve.predictor_name(ws.versions[0])
    pointer = json.loads(ws.registry.production_file.read_text())
    assert pointer["reason"] == f"rollback from {ws.versions[1]} on fraud"
    # Like `kubectl rollout undo`, a second rollback steps back over the first.
    assert ws.run("rollback") == 0
    assert ws.production == ws.serving == ws.versions[1]


def test_rollback_with_no_earlier_version_is_refused(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ws.run("rollback") == 2
    assert "no earlier version" in capsys.readouterr().err
    assert ws.production == ws.serving == ws.versions[0]


@pytest.mark.parametrize(
    ("version", "message"),
    [("0123456789ab", "has no version '0123456789ab'"), (None, "is production already")],
)
def test_promote_refuses_an_unknown_version_or_production_itself(
    ws: Workspace, capsys: pytest.CaptureFixture[str], version: str | None, message: str
) -> None:
    assert ws.run("promote", version or ws.versions[0]) == 2
    assert message in capsys.readouterr().err
    assert "canary" not in ws.api.isvc["spec"]


def test_promote_refuses_while_the_registry_and_the_service_disagree(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.registry.promote(ws.versions[2], "moved by hand")
    assert ws.run("promote", ws.versions[1]) == 2
    assert "run make deploy" in capsys.readouterr().err
    assert "canary" not in ws.api.isvc["spec"]


def test_a_misspelt_setting_is_refused_naming_it(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cluster_job.main(["--settings", '{"canary_percnt": 5}', "status"], ws.api)
    assert code == 2
    assert "canary_percnt" in capsys.readouterr().err


# >>> kind
def _deploy_set_args(version: str) -> list[str]:
    """The `--set` arguments scripts/deploy.sh gives `helm upgrade`, for this version."""
    script = (REPO_ROOT / "scripts" / "deploy.sh").read_text()
    prefix = re.search(r'^MODEL_URI_PREFIX="([^"]+)"', script, re.MULTILINE)
    assert prefix, "deploy.sh no longer sets MODEL_URI_PREFIX"
    helm = script[script.index("helm upgrade --install") :].split("--wait")[0]
    values = re.findall(r'--set "([^"]+)"', helm)
    assert values, "deploy.sh passes no --set to helm upgrade"
    # The script's variables, from project.env's names as scripts/lib.sh reads them.
    identity = Identity()
    subst = {
        "${MODEL_URI_PREFIX}": prefix.group(1).replace("${MODEL_NAME}", identity.model_name),
        "${SERVING_REPOSITORY}": identity.image(identity.serving_image, "x").removesuffix(":x"),
        "${PIPELINE_REPOSITORY}": identity.image(identity.pipeline_image, "x").removesuffix(":x"),
        "${version}": version,
    }
    out = []
    for value in values:
        for name, replacement in subst.items():
            value = value.replace(name, replacement)
        assert "$" not in value, f"deploy.sh passes {value}: add its variable here"
        out += ["--set", value]
    return out


def test_redeploying_after_a_promotion_renders_exactly_the_promoted_predictor(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make deploy` renders the registry's production: after a promotion in the cluster, a
    re-deploy changes nothing, so it can neither revert the promotion nor restart its pods."""
    chart = REPO_ROOT / "charts" / "fraud-detection"

    def rendered_predictor(version: str) -> dict[str, Any]:
        out = subprocess.run(
            [pinned_tool("helm"), "template", "fraud", str(chart), "--namespace", "fraud",
             "--values", str(chart / "values-kind.yaml"), *_deploy_set_args(version),
             "--show-only", "templates/inferenceservice.yaml"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        predictor: dict[str, Any] = yaml.safe_load(out.stdout)["spec"]["predictor"]
        return predictor

    ws.api.isvc["spec"]["predictor"] = rendered_predictor(ws.versions[0])
    measured_as(good(), monkeypatch)
    assert ws.run("promote", ws.versions[1]) == 0
    assert ws.api.isvc["spec"]["predictor"] == rendered_predictor(ws.production)
    # <<< kind


def test_the_whole_settings_survive_the_pipelines_json_numbers() -> None:
    """KFP passes a dict parameter as a protobuf Struct, whose numbers are all doubles."""
    settings = cluster_job.parse_settings(
        json.dumps({"canary_percent": 20.0, "requests": 300.0, "max_quality_drop": 0.05})
    )
    assert (settings.canary_percent, settings.requests, settings.max_quality_drop) == (
        20, 300, 0.05)  # fmt: skip


def test_the_compiled_rollout_step_takes_the_whole_settings_as_one_object() -> None:
    compiled = REPO_ROOT / "pipelines" / "compiled" / "training_pipeline.yaml"
    spec = next(yaml.safe_load_all(compiled.read_text()))
    step = spec["components"]["comp-rollout-canary"]["inputDefinitions"]["parameters"]
    assert step["rollout_settings"]["parameterType"] == "STRUCT"
    assert spec["root"]["inputDefinitions"]["parameters"]["rollout_settings"]["parameterType"] == (
        "STRUCT")  # fmt: skip
    # No rollout setting travels on its own any more (each used to be dropped but one).
    assert "canary_percent" not in compiled.read_text()


def test_a_job_stopped_at_its_deadline_removes_the_canary_it_analyses(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kubernetes stops a Job at activeDeadlineSeconds with SIGTERM, which the Job turns into
    SystemExit: the canary goes before the pod does, production unchanged."""
    import signal

    def stopped(*args: Any) -> dict[str, Any]:
        cluster_job._stop_on_sigterm(signal.SIGTERM, None)
        raise AssertionError("unreachable")

    monkeypatch.setattr(traffic, "measure", stopped)
    with pytest.raises(SystemExit) as stop:
        ws.run("promote", ws.versions[1])
    assert stop.value.code == 143
    assert "canary" not in ws.api.isvc["spec"]
    assert ws.production == ws.serving == ws.versions[0]
