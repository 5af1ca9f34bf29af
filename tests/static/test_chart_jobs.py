"""The chart's scheduled jobs and rollout RBAC: rendered, checked against the Kubernetes
models, least privilege, and the restricted pod security profile."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from installed import pinned_tool
from kserve_schema import roundtrip_differences

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "fraud-detection"
MODEL_URI = "--set=model.storageUri=pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/0123456789ab"


def render(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [pinned_tool("helm"), "template", "fraud", str(CHART), "--namespace", "fraud", MODEL_URI,
         *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render()


def test_every_core_object_round_trips_through_the_kubernetes_models(
    docs: list[dict[str, Any]],
) -> None:
    for doc in docs:
        if doc["kind"] == "InferenceService":
            continue
        differences = roundtrip_differences(doc, model=f"V1{doc['kind']}")
        assert not differences, "\n".join(map(str, differences))


def test_monitor_and_materialize_run_on_their_schedules(docs: list[dict[str, Any]]) -> None:
    jobs = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d
            for d in by_kind(docs, "CronJob")}  # fmt: skip
    assert set(jobs) == {"monitor", "materialize"}
    assert jobs["monitor"]["spec"]["schedule"] == "17 * * * *"
    assert jobs["monitor"]["spec"]["concurrencyPolicy"] == "Forbid"
    monitor = jobs["monitor"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = monitor["containers"][0]
    assert container["command"] == ["python", "-m", "monitoring"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FRAUD_MONITOR__MAX_DRIFTED_SHARE"] == "0.3"
    assert env["FRAUD_WORKSPACE"] == "/workspace"
    materialize = jobs["materialize"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "materialize-incremental" in materialize["containers"][0]["command"][-1]


def test_job_settings_come_from_values() -> None:
    docs = render("--set=jobs.monitor.schedule=0 3 * * *", "--set=jobs.materialize.enabled=false")
    (job,) = by_kind(docs, "CronJob")
    assert job["spec"]["schedule"] == "0 3 * * *"


def test_job_pods_meet_the_restricted_profile(docs: list[dict[str, Any]]) -> None:
    for job in by_kind(docs, "CronJob"):
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert security["seccompProfile"]["type"] == "RuntimeDefault"
            assert container["resources"]["limits"]["memory"]


def test_rollout_may_get_and_patch_inference_services_and_nothing_else(
    docs: list[dict[str, Any]],
) -> None:
    (role,) = by_kind(docs, "Role")
    allowed = {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
               "verbs": ["get", "patch"]}  # fmt: skip
    assert role["rules"] == [allowed]
    (binding,) = by_kind(docs, "RoleBinding")
    (account,) = by_kind(docs, "ServiceAccount")
    # The chart's own account, and KFP's pipeline runner (the rollout step runs under it).
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "fraud"},
        {"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "kubeflow"},
    ]
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")


def test_a_misspelt_job_setting_is_refused() -> None:
    with pytest.raises(subprocess.CalledProcessError) as failure:
        render("--set=jobs.monitor.windowHour=3")
    assert "windowHour" in failure.value.stderr


def test_predictors_write_the_prediction_log_where_the_monitor_reads_it(
    docs: list[dict[str, Any]],
) -> None:
    (isvc,) = by_kind(docs, "InferenceService")
    predictor = isvc["spec"]["predictor"]
    container = predictor["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FRAUD_SERVING_PREDICTION_LOG_DIR"] == "/workspace/artifacts/prediction-log"
    assert {"name": "workspace", "mountPath": "/workspace"} in container["volumeMounts"]
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
              for v in predictor["volumes"]}  # fmt: skip
    jobs = by_kind(docs, "CronJob")
    component = "app.kubernetes.io/component"
    monitor = next(j for j in jobs if j["metadata"]["labels"][component] == "monitor")
    monitor_volumes = monitor["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]
    shared = {
        v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in monitor_volumes
    }
    assert claims["workspace"] == shared["workspace"] == "fraud-workspace"


def test_the_prediction_log_can_be_turned_off() -> None:
    (isvc,) = by_kind(render("--set=predictionLog.enabled=false"), "InferenceService")
    env = {e["name"] for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert "FRAUD_SERVING_PREDICTION_LOG_DIR" not in env


# --- the rollout Job (templates/rollout-job.yaml) ------------------------------------------

SETTINGS = '{"canary_percent": 35, "ready_timeout_s": 300}'
JOB_ARGS = ("--set=rolloutJob.enabled=true", "--set=rolloutJob.action=promote",
            "--set-string=rolloutJob.version=0123456789ab", "--set=rolloutJob.runId=t1",
            f"--set-json=rolloutJob.settings={SETTINGS}")  # fmt: skip


@pytest.fixture(scope="module")
def job_docs() -> list[dict[str, Any]]:
    return render(*JOB_ARGS)


def rollout_job(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = by_kind(docs, "Job")
    return job


def _labels_select(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_an_installed_release_has_no_rollout_job(docs: list[dict[str, Any]]) -> None:
    assert not by_kind(docs, "Job")


def test_the_rollout_job_runs_the_cluster_job_with_the_whole_settings(
    job_docs: list[dict[str, Any]],
) -> None:
    from fraud_detection.rollout.cluster_job import parse_settings

    job = rollout_job(job_docs)
    fullname = by_kind(job_docs, "InferenceService")[0]["metadata"]["name"]
    assert job["metadata"]["name"] == f"{fullname}-rollout-promote-t1"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:3] == ["python", "-m", "fraud_detection.rollout.cluster_job"]
    assert command[-2:] == ["promote", "0123456789ab"]
    options = dict(zip(command[3:-2:2], command[4:-2:2], strict=True))
    assert options["--isvc"] == fullname
    assert options["--namespace"] == "fraud"
    # The registry's versions, next to the one the release serves.
    assert options["--storage-prefix"] == MODEL_URI.split("=", 2)[2].rsplit("/", 1)[0]
    settings = parse_settings(options["--settings"])
    assert (settings.canary_percent, settings.ready_timeout_s) == (35, 300)
    assert job["spec"]["backoffLimit"] == 0


def test_the_rollout_job_reads_the_registry_where_it_lives_under_the_rollout_account(
    job_docs: list[dict[str, Any]],
) -> None:
    pod = rollout_job(job_docs)["spec"]["template"]["spec"]
    (account,) = by_kind(job_docs, "ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is True  # it patches the InferenceService
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FRAUD_WORKSPACE"] == "/workspace"
    assert {"name": "workspace", "mountPath": "/workspace"} in container["volumeMounts"]
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
              for v in pod["volumes"]}  # fmt: skip
    assert claims["workspace"] == "fraud-workspace"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    differences = roundtrip_differences(rollout_job(job_docs), model="V1Job")
    assert not differences, "\n".join(map(str, differences))


def test_the_network_policies_let_the_rollout_job_reach_the_predictors(
    job_docs: list[dict[str, Any]],
) -> None:
    pod_labels = rollout_job(job_docs)["spec"]["template"]["metadata"]["labels"]
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(job_docs, "NetworkPolicy")}
    fullname = by_kind(job_docs, "InferenceService")[0]["metadata"]["name"]
    own = policies[f"{fullname}-rollout-job"]
    assert _labels_select(own["podSelector"]["matchLabels"], pod_labels)
    to_predictors = [rule for rule in own["egress"]
                     if {"port": 3000, "protocol": "TCP"} in rule["ports"]]  # fmt: skip
    assert to_predictors, own["egress"]
    predictor = policies[f"{fullname}-predictor"]
    sources = [peer.get("podSelector", {}).get("matchLabels", {})
               for rule in predictor["ingress"] for peer in rule["from"]
               if "podSelector" in peer]  # fmt: skip
    assert any(_labels_select(selector, pod_labels) for selector in sources)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set-string=rolloutJob.version=",), "rolloutJob.version is required"),
        (("--set-string=rolloutJob.version=latest",), "version"),
        (("--set=rolloutJob.action=deploy",), "action"),
        (("--set=rollout.serviceAccount.create=false",), "rollout.serviceAccount.create"),
    ],
)
def test_the_rollout_job_refuses_inconsistent_values(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failure:
        render(*JOB_ARGS, *args)
    assert message in failure.value.stderr


def test_checkov_finds_nothing_unexplained_in_the_rollout_job(
    job_docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    import json

    # With the release's NetworkPolicies: checkov asks that every pod has one.
    (tmp_path / "rollout-job.yaml").write_text(yaml.safe_dump_all(job_docs))
    result = subprocess.run(
        [pinned_tool("checkov"), "--skip-download", "--output", "json", "--framework",
         "kubernetes", "--directory", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"] if isinstance(report, dict) else []
    assert not failed, [(c["check_id"], c["check_name"]) for c in failed]
