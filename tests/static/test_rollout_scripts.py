"""make promote and make rollback start the rollout code inside the cluster, as the chart's
rollout Job, and return its verdict; nothing on the machine that runs them reads a registry.
make e2e enables a canary itself, checks the HTTPRoute weights and the split it observes, rolls
it back, promotes, and checks that the registry and the InferenceService agree.

No cluster runs here, so `kubectl`, `helm` and `curl` are stand-ins (mocks, for that reason
only) that answer what the scripts wait for: the Job ends with a chosen exit code; for e2e.sh,
kubectl plays the API server, KServe and the rollout Job over a state file, and curl the Gateway.
`helm template` is the real helm, so the Jobs the scripts create are the ones the chart renders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from installed import pinned_tool
from toolbox import IDENTITY, REPO_ROOT, VERSIONS

from fraud_detection.rollout.cluster_job import parse_settings

VERSION = "0123456789ab"
SERVED = f"pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/{VERSION[::-1]}"
PROMOTION_PATH = ["promote.sh", "rollback.sh", "rollout-job.sh"]


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    """Stand-ins for kubectl and helm; they record into tmp_path/record."""
    record = tmp_path / "record"
    record.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(
        bin_dir,
        "kubectl",
        f"""
echo "kubectl $*" >> {record}/commands
case "$1" in
  version) echo '{{"clientVersion": {{"gitVersion": "v{VERSIONS["KUBECTL_VERSION"]}"}}}}' ;;
  create) cp "$3" {record}/job.yaml; echo "job.batch/$(sed -n 's/^  name: //p' "$3" | head -n 1)" ;;
  wait)
    case "$*" in
      *Complete*) [ "$JOB_EXIT" = 0 ] ;;
      *Failed*) [ "$JOB_EXIT" != 0 ] ;;
    esac ;;
  logs) echo "result=the Job's log" ;;
  get) case "$*" in *job-name=*) printf '%s' "$JOB_EXIT" ;; esac ;;
esac""",
    )
    _stub(
        bin_dir,
        "helm",
        f"""
echo "helm $*" >> {record}/commands
case "$1" in
  version) echo "v{VERSIONS["HELM_VERSION"]}" ;;
  get) printf 'model:\\n  storageUri: {SERVED}\\n' ;;
  template) exec {pinned_tool("helm")} "$@" ;;
esac""",
    )
    return tmp_path


def run(cluster: Path, script: str, exit_code: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / script)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{cluster / 'bin'}:{os.environ['PATH']}",
             "JOB_EXIT": str(exit_code), **env},
    )  # fmt: skip


def created_job(cluster: Path) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load((cluster / "record" / "job.yaml").read_text())
    return job


def command_of(job: dict[str, Any]) -> list[str]:
    command: list[str] = job["spec"]["template"]["spec"]["containers"][0]["command"]
    return command


@pytest.mark.parametrize(("exit_code", "outcome"), [(0, "promoted"), (3, "rolled back")])
def test_promote_runs_the_canary_in_the_cluster_and_returns_its_verdict(
    cluster: Path, exit_code: int, outcome: str
) -> None:
    result = run(cluster, "promote.sh", exit_code, MODEL_VERSION=VERSION)
    assert result.returncode == exit_code, (outcome, result.stderr)
    job = created_job(cluster)
    assert job["kind"] == "Job"
    assert command_of(job)[-2:] == ["promote", VERSION]
    # Rendered from the installed release's own values, the registry next to what it serves.
    commands = (cluster / "record" / "commands").read_text()
    # scripts/lib.sh's defaults: project.env's names.
    release, namespace = IDENTITY.release_name, IDENTITY.app_namespace
    assert f"helm get values {release} --namespace {namespace}" in commands
    assert "--show-only templates/rollout-job.yaml" in commands
    prefix = command_of(job)[command_of(job).index("--storage-prefix") + 1]
    assert prefix == SERVED.rsplit("/", 1)[0]
    assert "result=the Job's log" in result.stdout  # the evidence is printed


def test_rollback_runs_the_rollback_action_in_the_cluster(cluster: Path) -> None:
    result = run(cluster, "rollback.sh", 0)
    assert result.returncode == 0, result.stderr
    assert command_of(created_job(cluster))[-1] == "rollback"


def test_the_whole_rollout_settings_reach_the_job(cluster: Path) -> None:
    settings = '{"canary_percent": 10, "max_quality_drop": 0.05}'
    result = run(cluster, "promote.sh", 0, MODEL_VERSION=VERSION, ROLLOUT_SETTINGS=settings)
    assert result.returncode == 0, result.stderr
    command = command_of(created_job(cluster))
    parsed = parse_settings(command[command.index("--settings") + 1])
    assert (parsed.canary_percent, parsed.max_quality_drop) == (10, 0.05)


@pytest.mark.parametrize("script", PROMOTION_PATH)
def test_nothing_in_the_promotion_path_reads_a_local_registry(script: str) -> None:
    text = (REPO_ROOT / "scripts" / script).read_text()
    for local in (".venv", "VENV_BIN", "fraud-detection canary", "fraud-detection generate"):
        assert local not in text, f"scripts/{script} runs {local!r} on this machine"


# >>> kind
# --- make e2e against a stand-in cluster ---------------------------------------------------

# A kubectl that plays the API server, the KServe controller and the rollout Job, over a state
# file; `fault` breaks one behaviour to show that e2e.sh notices.
KUBECTL = r"""
import json, os, sys
import yaml

state_file = os.environ["E2E_STATE"]
state = json.load(open(state_file))
args = sys.argv[1:]
fault = state["fault"]
prefix = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions"
release = "fraud-detection"


def save():
    json.dump(state, open(state_file, "w"))
    # What the Gateway routes by, for the curl stand-in (plain files: it runs 550 times).
    base = os.path.dirname(state_file)
    routed = state["canary"] if fault != "no-weights" else None
    open(os.path.join(base, "canary"), "w").write(routed or "")
    open(os.path.join(base, "serving"), "w").write(state["serving"])


def other(version):
    return state["b"] if version == state["a"] else state["a"]


def status_lines():
    agree = "yes" if state["production"] == state["serving"] else "no"
    return (f"production={state['production']}\nprevious=none\n"
            f"candidate={other(state['production'])}\nserving={state['serving']}\n"
            f"canaries={state['canary'] or 'none'}\nagree={agree}\n")


def run_job(command):
    action = command[-1] if command[-1] in ("status", "rollback") else command[-2]
    version = command[-1]
    log, code = "", 0
    if action == "canary":
        state["canary"] = version
        log = f"canary=v-{version} trafficPercent=20\n"
    elif action == "rollback":
        state["canary"] = None
        log = "result=removed canary\n"
    elif action == "promote":
        state["canary"] = None
        state["serving"], state["predictor"] = version, f"v-{version}"
        if fault != "registry-not-moved":
            state["production"] = version
        log = "result=promoted\n"
    return log + status_lines(), code


if args[0] == "version":
    print(json.dumps({"clientVersion": {"gitVersion": "v" + os.environ["KUBECTL_VERSION"]}}))
elif args[0] == "config":
    print("kind-fraud-detection") if args[1] == "get-contexts" else None
elif args[0] == "wait":
    target = next(a for a in args if "/" in a and not a.startswith("--"))
    if target.startswith("job/"):
        ok = state["jobs"][target[4:]]["code"] == 0
        sys.exit(0 if ("--for=condition=Complete" in args) == ok else 1)
elif args[0] == "create":
    if args[1] == "job":  # the monitor, from its CronJob
        state["jobs"][args[4]] = {"log": "verdict: ok\n", "code": 0}
    else:
        job = yaml.safe_load(open(args[2]))
        name = job["metadata"]["name"]
        log, code = run_job(job["spec"]["template"]["spec"]["containers"][0]["command"])
        state["jobs"][name] = {"log": log, "code": code}
        print(f"job.batch/{name}")
    save()
elif args[0] == "logs":
    job = next(a for a in args if a.startswith("job/"))[4:]
    print(state["jobs"][job]["log"], end="")
elif args[0] == "get":
    path = next((a[len("jsonpath="):] for a in args if a.startswith("jsonpath=")), "")
    path = path or next((a.split("=", 1)[1] for a in args if a.startswith("-o") and "=" in a), "")
    if "-l" in args:  # the Job's pod: its exit code
        job = args[args.index("-l") + 1].split("=", 1)[1]
        print(state["jobs"][job]["code"], end="")
    elif "httproutes" in args:
        stable = f"{release}-{state['predictor']}-predictor"
        if state["canary"] and fault != "no-weights":
            rule = f" {stable}=80 {release}-v-{state['canary']}-predictor=20"
        else:
            rule = f" {stable}=1"
        print(f"{rule}\n{rule}")
    elif path == "{.status.url}":
        print(f"http://{release}.fraud-ml.example.com", end="")
    elif path == "{.spec.predictor.name}":
        print(state["predictor"], end="")
    elif "STORAGE_URI" in path:
        print(f"{prefix}/{state['serving']}", end="")
    elif path == "{.spec.canary}":
        print(json.dumps([{"trafficPercent": 20}]) if state["canary"] else "", end="")
    elif path == "{.spec.canary[0].trafficPercent}":
        print("20" if state["canary"] else "", end="")
"""

# A curl that plays the Gateway: one request in five goes to a running canary, as its weight asks.
CURL = """
dir="$(dirname "$E2E_STATE")"
n=$(($(cat "${dir}/requests") + 1))
echo "$n" >"${dir}/requests"
canary="$(cat "${dir}/canary")"
version="$(cat "${dir}/serving")"
if [ -n "$canary" ] && [ $((n % 5)) -eq 0 ]; then version="$canary"; fi
printf '{"results": [{"fraud_probability": 0.1, "model_version": "%s"}]}\\n' "$version"
"""


def stand_in_cluster(tmp_path: Path, fault: str = "") -> dict[str, str]:
    """A copy of the scripts and chart (so failure logs land in tmp_path) and stand-ins for
    kubectl, helm and curl; returns the environment to run e2e.sh with."""

    for part in ("scripts", "charts", "k8s"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part)
    shutil.copy(REPO_ROOT / "project.env", tmp_path / "project.env")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(f"#!{sys.executable}\n{KUBECTL}")
    (bin_dir / "kubectl").chmod(0o755)
    _stub(bin_dir, "curl", CURL)
    _stub(
        bin_dir,
        "helm",
        f"""
case "$1" in
  version) echo "v{VERSIONS["HELM_VERSION"]}" ;;
  get) printf 'model:\\n  storageUri: {SERVED}\\n' ;;
  template) exec {pinned_tool("helm")} "$@" ;;
esac""",
    )
    a, b = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
    state: dict[str, Any] = {"a": a, "b": b, "production": a, "serving": a, "predictor": f"v-{a}",
             "canary": None, "fault": fault, "jobs": {}}  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(state))
    for name, text in (("canary", ""), ("serving", a), ("requests", "0")):
        (tmp_path / name).write_text(text)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "E2E_STATE": str(tmp_path / "state.json"),
        "KUBECTL_VERSION": VERSIONS["KUBECTL_VERSION"],
        "E2E_ROUTE_TIMEOUT": "1",
        "E2E_ROUTE_SETTLE": "0",
        # Fewer requests than on a real runner (400): the same check, in a quarter of the time.
        "E2E_REQUESTS": "5",
        "E2E_SPLIT_REQUESTS": "100",
    }


def run_e2e(tmp_path: Path, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = stand_in_cluster(tmp_path, fault)
    return subprocess.run(
        ["bash", str(tmp_path / "scripts" / "e2e.sh")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_e2e_canaries_rolls_back_and_promotes_through_the_rollout_job(tmp_path: Path) -> None:
    result = run_e2e(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "canary 20, stable 80 of 100" in result.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["production"] == state["serving"] == "bbbbbbbbbbbb"
    actions = [name.split("-rollout-")[1].split("-")[0] for name in state["jobs"]
               if "-rollout-" in name]  # fmt: skip
    assert actions == ["status", "canary", "rollback", "promote", "status"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        # A controller without weighted HTTPRoutes (KServe v0.20): the split is never applied.
        ("no-weights", "HTTPRoute backends do not match"),
        # A promotion that patches the InferenceService only (the registry keeps the old one).
        ("registry-not-moved", "the registry's production is not bbbbbbbbbbbb"),
    ],
)
def test_e2e_fails_when_the_cluster_does_not_do_its_part(
    tmp_path: Path, fault: str, message: str
) -> None:
    result = run_e2e(tmp_path, fault)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-3000:]
    # <<< kind
