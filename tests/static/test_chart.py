"""Static checks of the fraud-detection Helm chart: lint, schema, render, KServe SDK round trip.

Nothing here needs a cluster. helm comes from .tools/bin (`make tools` installs it); if it
cannot be had the tests fail rather than skip, so a green run always means the chart was
really linted and rendered.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from installed import pinned_tool
from kserve_schema import assert_roundtrips, roundtrip_differences
from toolbox import VERSIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "fraud-detection"
HELM_VERSION = f"v{VERSIONS['HELM_VERSION']}"
KUBE_VERSION = VERSIONS["KUBERNETES_VERSION"]
RELEASE = "fraud"

# values.yaml and values-kind.yaml leave the model version to the installer (it changes with
# every training run); the tests supply one. ci/canary-values.yaml sets its own.
MODEL_URI = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/0123456789ab"
VALUES_FILES = sorted(
    [p.relative_to(CHART).as_posix() for p in CHART.glob("values*.yaml")]
    + [p.relative_to(CHART).as_posix() for p in (CHART / "ci").glob("*.yaml")]
)
EXPECTED_VALUES_FILES = {"values.yaml", "values-kind.yaml", "ci/canary-values.yaml"}


def _set_args(values_file: str) -> list[str]:
    data = yaml.safe_load((CHART / values_file).read_text()) or {}
    if (data.get("model") or {}).get("storageUri"):
        return []
    return ["--set", f"model.storageUri={MODEL_URI}"]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The pinned helm from .tools/bin (`make tools` installs it)."""
    binary = Path(pinned_tool("helm"))
    found = _helm_version(binary)
    assert found == HELM_VERSION, f"{binary} reports {found!r}, expected {HELM_VERSION}"
    # Keep helm's config and cache out of the user's home.
    home = tmp_path_factory.mktemp("helm-home")
    for var in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        os.environ.setdefault(var, str(home / var.lower()))
    yield [str(binary)]


def _helm_version(binary: Path) -> str | None:
    if not binary.is_file():
        return None
    result = subprocess.run(
        [str(binary), "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def run_helm(helm: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*helm, *args], capture_output=True, text=True, timeout=120, check=False)


def template(helm: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_helm(
        helm, "template", RELEASE, str(CHART), "--namespace", "fraud", "--kube-version",
        KUBE_VERSION, *args,
    )  # fmt: skip


def render(helm: list[str], *args: str) -> list[dict[str, Any]]:
    result = template(helm, *args)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_file(helm: list[str], values_file: str) -> dict[str, Any]:
    """The one InferenceService the chart renders with `values_file` (the scheduled jobs and
    the rollout RBAC are checked in test_chart_jobs.py)."""
    docs = render(helm, "-f", str(CHART / values_file), *_set_args(values_file))
    services = [d for d in docs if d.get("kind") == "InferenceService"]
    assert [d.get("apiVersion") for d in services] == ["serving.kserve.io/v1beta1"], docs
    return services[0]


def predictors(isvc: dict[str, Any]) -> list[dict[str, Any]]:
    """The stable predictor, then each canary's predictor."""
    spec = isvc["spec"]
    return [spec["predictor"], *(c["predictor"] for c in spec.get("canary", []))]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- every values file ---------------------------------------------------------------------


def test_values_files_are_the_expected_ones() -> None:
    assert set(VALUES_FILES) >= EXPECTED_VALUES_FILES, VALUES_FILES


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_lint_strict(helm: list[str], values_file: str) -> None:
    result = run_helm(
        helm, "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION,
        "-f", str(CHART / values_file), *_set_args(values_file),
    )  # fmt: skip
    assert result.returncode == 0, f"helm lint --strict failed:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_inferenceservice_roundtrips_through_the_kserve_sdk(
    helm: list[str], values_file: str
) -> None:
    assert_roundtrips(render_file(helm, values_file))


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_every_container_meets_the_restricted_pod_security_standard(
    helm: list[str], values_file: str
) -> None:
    for predictor in predictors(render_file(helm, values_file)):
        pod = predictor.get("securityContext", {})
        containers = predictor.get("initContainers", []) + predictor["containers"]
        assert containers
        assert predictor.get("automountServiceAccountToken") is False
        for container in containers:
            sc = container.get("securityContext", {})
            where = f"{predictor.get('name')}/{container['name']}"
            # Container settings win over the pod's; either level satisfies the standard.
            assert sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod.get("runAsUser", 1)) != 0, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("privileged", False) is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            seccomp = sc.get("seccompProfile", pod.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where
            # The read-only root needs a writable /tmp, backed by a declared emptyDir.
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in predictor.get("volumes", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], where


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_kserve_standard_mode_contract(helm: list[str], values_file: str) -> None:
    isvc = render_file(helm, values_file)
    annotations = isvc["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Standard"
    assert annotations["serving.kserve.io/autoscalerClass"] == "none"
    stable = isvc["spec"]["predictor"]
    assert stable["minReplicas"] == stable["maxReplicas"] >= 1
    names = [p["name"] for p in predictors(isvc)]
    assert len(set(names)) == len(names), names
    for predictor in predictors(isvc):
        # Knative's canary field: only the Knative reconciler reads it; Standard ignores it.
        assert "canaryTrafficPercent" not in predictor
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", predictor["name"])
        assert len(f"{isvc['metadata']['name']}-{predictor['name']}-predictor") <= 63
        (container,) = predictor["containers"]
        assert container["name"] == "kserve-container"
        assert container["ports"] == [{"name": "http1", "containerPort": 3000, "protocol": "TCP"}]
        assert env_of(container)["STORAGE_URI"].startswith("pvc://")
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": 3000}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 3000}
        assert container["resources"]["limits"]["cpu"], "BentoML sizes its workers by CPU limit"
    for canary in isvc["spec"].get("canary", []):
        assert 0 <= canary["trafficPercent"] <= 100
        forbidden = {"maxReplicas", "scaleTarget", "scaleMetric", "autoScaling"}
        assert not forbidden & canary["predictor"].keys(), "KServe refuses these on a canary"
        assert canary["predictor"].get("minReplicas", 1) <= stable["minReplicas"]


def test_canary_values_render_a_named_canary_at_twenty_percent(helm: list[str]) -> None:
    isvc = render_file(helm, "ci/canary-values.yaml")
    (canary,) = isvc["spec"]["canary"]
    assert canary["trafficPercent"] == 20
    assert canary["predictor"]["name"] == "candidate"
    assert isvc["spec"]["predictor"]["name"] == "stable"
    stable_container = isvc["spec"]["predictor"]["containers"][0]
    canary_container = canary["predictor"]["containers"][0]
    assert env_of(canary_container)["STORAGE_URI"].endswith("/versions/ba9876543210")
    assert canary_container["image"] == "fraud-detection-serving:0.1.1"
    # Apart from model and image the canary runs the stable container exactly, so promoting
    # it (predictor.name := its name, with its URI and tag) renders the pod it already runs.
    for c in (stable_container, canary_container):
        c.pop("image")
        c["env"] = [e for e in c["env"] if e["name"] != "STORAGE_URI"]
    assert stable_container == canary_container


def test_promotion_renders_the_canary_pod_as_the_stable_predictor(helm: list[str]) -> None:
    canary_isvc = render_file(helm, "ci/canary-values.yaml")
    canary = canary_isvc["spec"]["canary"][0]["predictor"]
    (promoted,) = (d for d in render(
        helm,
        "-f", str(CHART / "ci/canary-values.yaml"),
        "--set", "predictor.name=candidate",
        "--set", "model.storageUri=pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/ba9876543210",
        "--set", "image.tag=0.1.1",
        "--set", "canary.enabled=false",
    ) if d["kind"] == "InferenceService")  # fmt: skip
    assert "canary" not in promoted["spec"]
    stable = promoted["spec"]["predictor"]
    assert stable["name"] == "candidate"
    replica_fields = {"minReplicas", "maxReplicas"}
    assert {k: v for k, v in stable.items() if k not in replica_fields} == {
        k: v for k, v in canary.items() if k not in replica_fields
    }


def test_container_env_matches_the_serving_service_and_feast_config(helm: list[str]) -> None:
    from fraud_detection.serving.settings import ServingSettings

    container = render_file(helm, "values.yaml")["spec"]["predictor"]["containers"][0]
    env = env_of(container)
    prefix = str(ServingSettings.model_config.get("env_prefix", ""))
    known = {prefix + name.upper() for name in ServingSettings.model_fields}
    ours = {name for name in env if name.startswith(prefix)}
    assert ours <= known, f"the service does not read {sorted(ours - known)}"
    for field in ("model_dir", "feature_repo", "feature_store_yaml"):
        assert prefix + field.upper() in env, f"{prefix}{field.upper()} not set"
    assert env[prefix + "MODEL_DIR"] == "/mnt/models"  # where KServe puts STORAGE_URI's model
    # Every ${VAR} of the cluster Feast profile reaches the container from the Secret.
    config_name = Path(env[prefix + "FEATURE_STORE_YAML"]).name
    config = yaml.safe_load((REPO_ROOT / "feature_repo" / config_name).read_text())
    variables = set(re.findall(r"\$\{(\w+)\}", json.dumps(config)))  # values, not comments
    assert variables, f"{config_name} takes no connection from the environment"
    for var in variables:
        assert "secretKeyRef" in (env.get(var) or {}), f"{var} is not set from a Secret"


# --- what the chart refuses ----------------------------------------------------------------


def _write_values(tmp_path: Path, text: str) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("predictor:\n  replica: 3\n", "Additional property replica is not allowed"),
        ("canary:\n  trafficPrecent: 20\n", "Additional property trafficPrecent is not allowed"),
        ("imagee:\n  tag: dev\n", "Additional property imagee is not allowed"),
        ("canary:\n  trafficPercent: 150\n", "canary.trafficPercent"),
        ("canary:\n  trafficPercent: -1\n", "canary.trafficPercent"),
        ("canary:\n  enabled: true\n", "canary.storageUri"),
        ("predictor:\n  name: Stable_1\n", "predictor.name"),
        ("image:\n  pullPolicy: Sometimes\n", "image.pullPolicy"),
    ],
)
def test_schema_refuses_bad_values(
    helm: list[str], tmp_path: Path, values: str, message: str
) -> None:
    values_file = _write_values(tmp_path, values)
    rendered = template(helm, "-f", values_file, "--set", f"model.storageUri={MODEL_URI}")
    assert rendered.returncode != 0, f"helm template accepted:\n{values}"
    assert message in rendered.stderr, rendered.stderr
    linted = run_helm(
        helm, "lint", "--strict", str(CHART), "-f", values_file,
        "--set", f"model.storageUri={MODEL_URI}",
    )  # fmt: skip
    assert linted.returncode != 0, f"helm lint --strict accepted:\n{values}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "model.storageUri is required"),
        (
            ["--set", f"model.storageUri={MODEL_URI}", "--set", "canary.enabled=true",
             "--set", f"canary.storageUri={MODEL_URI}", "--set", "canary.name=stable"],
            "must differ from predictor.name",
        ),
        (
            ["--set", f"model.storageUri={MODEL_URI}", "--set", "canary.enabled=true",
             "--set", f"canary.storageUri={MODEL_URI}", "--set", "canary.replicas=3"],
            "must not exceed predictor.replicas",
        ),
        (
            ["--set", f"model.storageUri={MODEL_URI}",
             "--set", "fullnameOverride=a-very-long-inference-service-name-for-testing",
             "--set", "predictor.name=long-predictor-name"],
            "the limit is 63",
        ),
    ],
)  # fmt: skip
def test_template_refuses_inconsistent_values(
    helm: list[str], args: list[str], message: str
) -> None:
    rendered = template(helm, *args)
    assert rendered.returncode != 0
    assert message in rendered.stderr, rendered.stderr


def test_chart_requires_kubernetes_1_32(helm: list[str]) -> None:
    rendered = run_helm(
        helm, "template", RELEASE, str(CHART), "--kube-version", "1.31.0",
        "--set", f"model.storageUri={MODEL_URI}",
    )  # fmt: skip
    assert rendered.returncode != 0
    assert "kubeVersion" in rendered.stderr or "incompatible" in rendered.stderr


# --- the round-trip checker itself ---------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_canary(helm: list[str]) -> dict[str, Any]:
    return render_file(helm, "ci/canary-values.yaml")


def test_checker_detects_a_misspelled_top_level_field(rendered_canary: dict[str, Any]) -> None:
    bad = copy.deepcopy(rendered_canary)
    bad["spec"]["predictor"]["canaryTraficPercent"] = 20
    differences = roundtrip_differences(bad)
    assert [(d.path, d.kind) for d in differences] == [
        ("spec.predictor.canaryTraficPercent", "dropped")
    ]
    with pytest.raises(AssertionError, match=r"spec\.predictor\.canaryTraficPercent"):
        assert_roundtrips(bad)


def test_checker_detects_a_misspelled_nested_kubernetes_field(
    rendered_canary: dict[str, Any],
) -> None:
    bad = copy.deepcopy(rendered_canary)
    container = bad["spec"]["canary"][0]["predictor"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # capital S: wrong
    container["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    paths = {(d.path, d.kind) for d in roundtrip_differences(bad)}
    base = "spec.canary[0].predictor.containers[0]"
    assert paths == {
        (f"{base}.securityContext.readOnlyRootFileSystem", "dropped"),
        (f"{base}.readinessProbe.httpGet.paht", "dropped"),
    }


def test_checker_reports_sdk_defaults_and_type_changes(rendered_canary: dict[str, Any]) -> None:
    bad = copy.deepcopy(rendered_canary)
    del bad["spec"]["canary"][0]["trafficPercent"]  # required upstream; the SDK fills in 0
    bad["metadata"]["labels"]["tier"] = 1  # label values must be strings
    differences = {(d.path, d.kind) for d in roundtrip_differences(bad)}
    assert differences == {
        ("spec.canary[0].trafficPercent", "added"),
        ("metadata.labels.tier", "changed"),
    }


def test_checker_accepts_numeric_quantities(rendered_canary: dict[str, Any]) -> None:
    ok = copy.deepcopy(rendered_canary)
    ok["spec"]["predictor"]["containers"][0]["resources"]["limits"]["cpu"] = 2
    assert roundtrip_differences(ok) == []


def test_checker_reports_a_manifest_the_sdk_refuses(rendered_canary: dict[str, Any]) -> None:
    bad = copy.deepcopy(rendered_canary)
    del bad["spec"]["predictor"]["containers"][0]["env"][0]["name"]
    (difference,) = roundtrip_differences(bad)
    assert difference.kind == "rejected"
    assert "name" in str(difference)
