"""Static verification of everything the cluster runs, with the real checkers: kustomize renders,
strict Kubernetes schema validation, checkov with zero unexplained findings, hadolint, and the
cross-file contracts (ports, claims, paths) that no single checker sees.

No cluster can run here: docs/kind.md says what this does and does not prove.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from toolbox import (
    CHART,
    KUBERNETES_VERSION,
    REPO_ROOT,
    documents,
    render_chart,
    render_platform,
    run,
    tool,
    venv_tool,
)

PLATFORM = REPO_ROOT / "k8s" / "platform"
OVERLAYS = sorted(p.name for p in (PLATFORM / "overlays").iterdir() if p.is_dir())
KUSTOMIZATIONS = sorted(p.parent for p in PLATFORM.rglob("kustomization.yaml"))
VALUES_FILES = ["values.yaml", "values-kind.yaml", "ci/canary-values.yaml"]
JOBS = sorted(
    p for p in (REPO_ROOT / "k8s" / "jobs").glob("*.yaml") if p.name != "kustomization.yaml"
)
DOCKERFILES = sorted((REPO_ROOT / "k8s" / "images").glob("*Dockerfile"))
# Kinds kubernetes-validate checks (it passes any other kind with only a warning).
CORE_KINDS = {
    "Namespace", "Service", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
    "StatefulSet", "NetworkPolicy", "Job", "CronJob", "ServiceAccount", "Role", "RoleBinding",
}  # fmt: skip


def test_the_layout_is_the_expected_one() -> None:
    assert OVERLAYS == ["kind"]
    names = {p.relative_to(PLATFORM).as_posix() for p in KUSTOMIZATIONS}
    assert names == {"base", "gateway", "pipelines", "overlays/kind"}
    assert JOBS and DOCKERFILES


@pytest.mark.parametrize(
    "directory", KUSTOMIZATIONS, ids=lambda p: p.relative_to(PLATFORM).as_posix()
)
def test_every_kustomization_builds(directory: Path) -> None:
    assert documents(run(tool("kubectl"), "kustomize", str(directory)))


def _validate_strict(tmp_path: Path, name: str, text: str) -> None:
    docs = documents(text)
    unchecked = {d["kind"] for d in docs} - CORE_KINDS
    assert not unchecked, f"kinds kubernetes-validate would pass unchecked: {unchecked}"
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(text)
    out = run(venv_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(manifest))
    assert out.count(" passed for resource ") == len(docs), out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_platform_overlay_validates_strictly(tmp_path: Path, overlay: str) -> None:
    _validate_strict(tmp_path, overlay, render_platform(overlay))


@pytest.mark.parametrize("job", JOBS, ids=lambda p: p.name)
def test_job_manifest_validates_strictly(tmp_path: Path, job: Path) -> None:
    _validate_strict(tmp_path, job.stem, job.read_text())


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_chart_core_objects_validate_strictly(tmp_path: Path, values_file: str) -> None:
    docs = [d for d in documents(render_chart(values_file)) if d["kind"] != "InferenceService"]
    _validate_strict(tmp_path, "chart", yaml.safe_dump_all(docs))


def test_strict_validation_catches_a_misspelled_field(tmp_path: Path) -> None:
    bad = render_platform("kind").replace("readOnlyRootFilesystem", "readOnlyRootFileSystem", 1)
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(bad)
    result = _run_unchecked(
        venv_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(manifest)
    )
    assert result.returncode != 0 and "readOnlyRootFileSystem" in result.stdout + result.stderr


def _run_unchecked(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


# --- checkov ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every manifest the cluster receives, rendered once into one directory."""
    out = tmp_path_factory.mktemp("rendered")
    for values_file in VALUES_FILES:
        (out / f"chart-{Path(values_file).stem}.yaml").write_text(render_chart(values_file))
    for overlay in OVERLAYS:
        (out / f"platform-{overlay}.yaml").write_text(render_platform(overlay))
    for job in JOBS:
        shutil.copy(job, out / f"job-{job.name}")
    return out


def _checkov(*args: str) -> dict[str, Any]:
    result = _run_unchecked(tool("checkov"), "--skip-download", "--output", "json", *args)
    report = yaml.safe_load(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert reports and all("results" in r for r in reports), result.stdout[-2000:] + result.stderr
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    passed = sum(r["summary"]["passed"] for r in reports)
    return {"failed": failed, "skipped": skipped, "passed": passed, "rc": result.returncode}


def test_checkov_finds_nothing_unexplained_in_the_manifests(rendered_dir: Path) -> None:
    result = _checkov("--framework", "kubernetes", "--directory", str(rendered_dir))
    failures = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in result["failed"]]
    assert not failures, "\n".join(failures)
    assert result["passed"] > 500  # it really checked the objects
    for check in result["skipped"]:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{check['check_id']} skipped without a written reason"


def test_checkov_would_report_a_privileged_container(rendered_dir: Path, tmp_path: Path) -> None:
    text = (rendered_dir / "platform-kind.yaml").read_text()
    bad = text.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    result = _checkov("--framework", "kubernetes", "--directory", str(tmp_path))
    assert "CKV_K8S_20" in {c["check_id"] for c in result["failed"]}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint_and_checkov(dockerfile: Path) -> None:
    run(venv_tool("hadolint"), "--failure-threshold", "style", str(dockerfile))
    result = _checkov("--framework", "dockerfile", "--file", str(dockerfile))
    assert not result["failed"], [c["check_id"] for c in result["failed"]]
    assert result["passed"] > 5
    for check in result["skipped"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_hadolint_reports_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    result = _run_unchecked(venv_tool("hadolint"), str(bad))
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_images_run_as_a_non_root_user() -> None:
    for dockerfile in DOCKERFILES:
        users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
        assert users and not users[-1].startswith(("root", "0")), dockerfile


# --- contracts between files ----------------------------------------------------------------


def _by(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_gateway_nodeport_is_the_port_kind_maps() -> None:
    gateway = documents(run(tool("kubectl"), "kustomize", str(PLATFORM / "gateway")))
    cluster = yaml.safe_load((REPO_ROOT / "k8s" / "kind" / "cluster.yaml").read_text())
    proxy = _by(gateway, "EnvoyProxy", "kind-nodeport")
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    node_port = service["patch"]["value"]["spec"]["ports"][0]["nodePort"]
    (mapping,) = cluster["nodes"][0]["extraPortMappings"]
    assert service["type"] == "NodePort" and mapping["containerPort"] == node_port
    gateway_class = _by(gateway, "GatewayClass", "envoy")
    assert gateway_class["spec"]["parametersRef"]["name"] == "kind-nodeport"
    # KServe attaches its HTTPRoutes to kserve/kserve-ingress-gateway unless configured otherwise.
    kserve_gateway = _by(gateway, "Gateway", "kserve-ingress-gateway")
    assert kserve_gateway["metadata"]["namespace"] == "kserve"
    assert kserve_gateway["spec"]["gatewayClassName"] == "envoy"
    kind_up = (REPO_ROOT / "scripts" / "kind-up.sh").read_text()
    assert "ingressGateway.className=envoy" in kind_up


def test_workspace_claims_meet_one_directory_and_every_user_of_it() -> None:
    docs = documents(render_platform("kind"))
    claims = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
              for d in docs if d["kind"] == "PersistentVolumeClaim"}  # fmt: skip
    volumes = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolume"}
    paths = set()
    for (namespace, name), claim in claims.items():
        if name != "fraud-workspace":
            continue
        volume = volumes[claim["spec"]["volumeName"]]
        assert volume["spec"]["claimRef"] == {"namespace": namespace, "name": name}
        paths.add(volume["spec"]["hostPath"]["path"])
    assert {ns for ns, name in claims if name == "fraud-workspace"} == {
        "fraud-ml",
        "kubeflow",
    }
    (path,) = paths
    assert f"mkdir -p {path}" in (REPO_ROOT / "scripts" / "kind-up.sh").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["jobs"]["workspaceClaim"] == "fraud-workspace"
    compiled = (REPO_ROOT / "pipelines" / "compiled" / "training_pipeline.yaml").read_text()
    assert compiled.count("constant: fraud-workspace") >= 7  # every task of the pipeline


def test_feast_clients_are_the_pods_the_store_policies_admit() -> None:
    docs = documents(render_platform("kind")) + documents(render_chart("values.yaml"))
    for name in ("redis", "postgres"):
        policy = _by(docs, "NetworkPolicy", name)
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == [
            {"podSelector": {"matchLabels": {"fraud-detection.io/feast-client": "true"}}}
        ]
    isvc = _by(docs, "InferenceService", "fraud-detection")
    assert isvc["metadata"]["labels"]["fraud-detection.io/feast-client"] == "true"
    materialize = _by(docs, "CronJob", "fraud-detection-materialize")
    pod_labels = materialize["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["fraud-detection.io/feast-client"] == "true"
    # >>> redis
    server = _by(docs, "Deployment", "fraud-detection-feature-server")["spec"]["template"]
    assert server["metadata"]["labels"]["fraud-detection.io/feast-client"] == "true"
    command = server["spec"]["containers"][0]["command"]
    assert command[:5] == ["feast", "-c", "/app/feature_repo", "-f",
                           "/app/feature_repo/feature_store.cluster.yaml"]  # fmt: skip
    # <<< redis


def test_release_namespace_is_default_deny() -> None:
    docs = documents(render_chart("values.yaml"))
    deny = _by(docs, "NetworkPolicy", "fraud-detection-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert all(d["metadata"]["namespace"] == "fraud-ml" for d in docs)
    off = documents(render_chart("values.yaml", "--set", "networkPolicy.enabled=false"))
    assert not [d for d in off if d["kind"] == "NetworkPolicy"]


def test_the_secrets_the_manifests_read_are_the_ones_kind_up_creates() -> None:
    kind_up = (REPO_ROOT / "scripts" / "kind-up.sh").read_text()
    text = (
        render_platform("kind") + render_chart("values.yaml") + "".join(j.read_text() for j in JOBS)
    )
    read = set(re.findall(r"secretName: (\S+)", text)) | set(
        re.findall(r"name: (\S+)\n\s+key:", text)
    )
    for secret in read:
        assert f"create secret generic {secret}" in kind_up, secret
