"""The cluster scripts fail fast, naming the problem, when a tool is missing or too old, Docker
is not running or too small, or an input is wrong. Docker, kind and a cluster cannot run here,
so those commands are stand-ins: small scripts that answer the way the real ones do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from toolbox import IDENTITY, REPO_ROOT, VERSIONS

# The system tools the scripts use besides the cluster ones.
SYSTEM_TOOLS = ["bash", "env", "sed", "sort", "head", "date", "basename", "dirname", "cat",
                "grep", "tr", "od", "seq", "find", "wc", "mkdir", "mktemp", "rm",
                "sleep"]  # fmt: skip
GIB = 1024**3
GB = 1000**3
E2E_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "e2e-kind.yml"
CHART_FILE = REPO_ROOT / "charts" / "fraud-detection" / "Chart.yaml"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH holding the system tools and nothing cluster-related."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in SYSTEM_TOOLS:
        found = shutil.which(name)
        assert found, name
        (directory / name).symlink_to(found)
    # A real interpreter (a pyenv shim would need pyenv on PATH).
    (directory / "python3").symlink_to(Path(sys.executable).resolve())
    return directory


def _docker(bin_dir: Path, cpus: int = 8, memory: int = 16 * GIB, running: bool = True) -> None:
    info = f'echo "{cpus} {memory}"' if running else "exit 1"
    _stub(
        bin_dir, "docker", f'case "$1" in version) echo 27.3.1 ;; info) {info} ;; *) exit 0 ;; esac'
    )


def _kind(bin_dir: Path, version: str = VERSIONS["KIND_VERSION"]) -> None:
    _stub(bin_dir, "kind", f'[ "$1" = version ] && echo "kind {version} go1.24.6 linux/amd64"')


def _kubectl(bin_dir: Path) -> None:
    version = VERSIONS["KUBECTL_VERSION"]
    _stub(bin_dir, "kubectl", f'echo \'{{"clientVersion": {{"gitVersion": "v{version}"}}}}\'')


def _helm(bin_dir: Path) -> None:
    _stub(bin_dir, "helm", f'echo "v{VERSIONS["HELM_VERSION"]}"')


def _run(script: str, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "bash"), str(REPO_ROOT / "scripts" / script)],
        capture_output=True, text=True, timeout=60,
        # kind-up filters CRDs with the project's interpreter: this one, wherever the tests run.
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"),
             "KIND_UP_PYTHON": sys.executable, **env},
    )  # fmt: skip


def _assert_fails(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_kind_up_without_docker(bin_dir: Path) -> None:
    _assert_fails(_run("kind-up.sh", bin_dir), "docker is not installed", "step: preflight: tools")


def test_kind_up_with_docker_stopped(bin_dir: Path) -> None:
    _docker(bin_dir, running=False)
    _assert_fails(_run("kind-up.sh", bin_dir), "the Docker daemon is not running")


def test_kind_up_with_an_old_kind(bin_dir: Path) -> None:
    _docker(bin_dir)
    _kind(bin_dir, "v0.20.0")
    _assert_fails(
        _run("kind-up.sh", bin_dir), f"kind v0.20.0 is too old: need {VERSIONS['KIND_VERSION']}"
    )


@pytest.mark.parametrize("missing", ["kubectl", "helm"])
def test_kind_up_without_kubectl_or_helm(bin_dir: Path, missing: str) -> None:
    _docker(bin_dir)
    _kind(bin_dir)
    if missing != "kubectl":
        _kubectl(bin_dir)
    _assert_fails(_run("kind-up.sh", bin_dir), f"{missing} is not installed")


def test_kind_up_refuses_a_docker_too_small_for_the_lite_profile(bin_dir: Path) -> None:
    _docker(bin_dir, cpus=2, memory=4 * GIB)
    _kind(bin_dir)
    _kubectl(bin_dir)
    _helm(bin_dir)
    _assert_fails(_run("kind-up.sh", bin_dir), "Docker has 2 CPUs", "KIND_MIN_CPUS")
    result = _run("kind-up.sh", bin_dir, KIND_MIN_CPUS="2")
    _assert_fails(result, "Docker has 4.3 GB of memory (4294967296 bytes)", "needs 12 GB")


# MemTotal is what the VM's kernel reports: a little under what the VM was set to.
@pytest.mark.parametrize(
    ("memory", "shown"),
    [(12 * GB, "12.0"), (12 * GIB, "12.9"), (12 * GB - 300 * 1000**2, "11.7")],
    ids=["12e9-bytes", "12-GiB", "12-GB-VM-less-its-kernel-reserve"],
)
def test_kind_up_accepts_a_docker_of_exactly_the_minimum_memory(
    bin_dir: Path, memory: int, shown: str
) -> None:
    _docker(bin_dir, memory=memory)
    _kind(bin_dir)  # answers no `get clusters`: the run stops at the cluster step
    _kubectl(bin_dir)
    _helm(bin_dir)
    result = _run("kind-up.sh", bin_dir, KIND_INOTIFY_DIR="/nonexistent")
    _assert_fails(result, "failed during step: kind cluster fraud-detection")
    assert f"Docker has 8 CPUs and {shown} GB of memory" in result.stderr, result.stderr
    assert "the lite profile needs" not in result.stderr, result.stderr


@pytest.mark.parametrize("memory", [11 * GB, 10 * GIB, 8 * GIB])
def test_kind_up_refuses_a_docker_clearly_below_the_minimum_memory(
    bin_dir: Path, memory: int
) -> None:
    _docker(bin_dir, memory=memory)
    _kind(bin_dir)
    _kubectl(bin_dir)
    _helm(bin_dir)
    result = _run("kind-up.sh", bin_dir)
    _assert_fails(result, f"({memory} bytes); the lite profile needs 12 GB", "KIND_MIN_MEMORY_GB")
    assert "failed during step: preflight: Docker resources" in result.stderr


def test_kind_up_refuses_memory_it_cannot_read(bin_dir: Path) -> None:
    _stub(
        bin_dir, "docker", 'case "$1" in version) echo 27.3.1 ;; info) echo "8 <no value>" ;; esac'
    )
    _kind(bin_dir)
    _kubectl(bin_dir)
    _helm(bin_dir)
    _assert_fails(_run("kind-up.sh", bin_dir), "cannot read Docker's CPUs and memory")


def test_deploy_without_a_cluster(bin_dir: Path) -> None:
    _kubectl(bin_dir)
    _helm(bin_dir)
    _assert_fails(_run("deploy.sh", bin_dir), "no kind cluster fraud-detection: run make kind-up")


@pytest.mark.parametrize(
    ("version", "message"),
    [("", "MODEL_VERSION is not set"), ("latest", "is not a registry version")],
)
def test_promote_checks_the_version(bin_dir: Path, version: str, message: str) -> None:
    _assert_fails(_run("promote.sh", bin_dir, MODEL_VERSION=version), message)


# Stand-ins for images.sh: every call is recorded; docker's `save` writes its --output file, and
# kind notes whether the archive it is asked to load exists at that moment.
IMAGES_BENTOML = """echo "bentoml $*" >>"$RECORD"
[ "$1" = list ] && echo '[{"tag": "fraud-detector:0123456789ab"}]'
exit 0"""
IMAGES_DOCKER = """echo "docker $*" >>"$RECORD"
case "$1" in
  version)
    case "$*" in
      *Server.APIVersion*) echo "@CLIENT@ @API@ linux/amd64" ;;
      *) echo @CLIENT@ ;;
    esac ;;
  save) while [ "$#" -gt 0 ]; do [ "$1" = --output ] && echo archive >"$2"; shift; done ;;
esac
exit 0"""
IMAGES_KIND = f"""echo "kind $*" >>"$RECORD"
case "$1" in
  version) echo "kind {VERSIONS["KIND_VERSION"]} go1.24.6 linux/amd64" ;;
  load) [ -f "$3" ] && echo "archive present" >>"$RECORD"; exit @STATUS@ ;;
esac
exit 0"""


def _run_images(
    tmp_path: Path, bin_dir: Path, client: str, api: str, load_status: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """images.sh in a copy of what it reads (the chart's appVersion, the version matrix, the
    scripts), with the venv's bentoml a stand-in too. Returns the run and the recorded calls."""
    root = tmp_path / "project"
    (root / "charts" / "fraud-detection").mkdir(parents=True)
    shutil.copy(CHART_FILE, root / "charts" / "fraud-detection" / "Chart.yaml")
    shutil.copytree(REPO_ROOT / "scripts", root / "scripts")
    shutil.copy(REPO_ROOT / "project.env", root / "project.env")
    (root / "k8s").mkdir()
    shutil.copy(REPO_ROOT / "k8s" / "versions.env", root / "k8s" / "versions.env")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(Path(sys.executable).resolve())
    _stub(venv, "bentoml", IMAGES_BENTOML)
    _stub(bin_dir, "docker", IMAGES_DOCKER.replace("@CLIENT@", client).replace("@API@", api))
    _stub(bin_dir, "kind", IMAGES_KIND.replace("@STATUS@", str(load_status)))
    record = tmp_path / "commands.log"
    record.touch()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = subprocess.run(
        [str(bin_dir / "bash"), str(root / "scripts" / "images.sh")],
        capture_output=True, text=True, timeout=60,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), "RECORD": str(record),
             "TMPDIR": str(scratch)},
    )  # fmt: skip
    assert not list(scratch.iterdir()), "the image archive was left behind"
    return result, record.read_text().splitlines()


def _app_images() -> list[str]:
    """The pipeline and serving images the chart runs (project.env's names, under its registry
    prefix), at the chart's appVersion."""
    version = yaml.safe_load(CHART_FILE.read_text())["appVersion"]
    return [
        IDENTITY.image(IDENTITY.pipeline_image, version),
        IDENTITY.image(IDENTITY.serving_image, version),
    ]


def test_images_load_one_platform_archive_not_kind_load_docker_image(
    tmp_path: Path, bin_dir: Path
) -> None:
    result, commands = _run_images(tmp_path, bin_dir, client="29.1.3", api="1.52")
    assert result.returncode == 0, result.stderr
    (save,) = [c.split() for c in commands if c.startswith("docker save")]
    archive = save[save.index("--output") + 1]
    assert save[:4] == ["docker", "save", "--platform", "linux/amd64"]
    assert save[-2:] == _app_images()
    (load,) = [c for c in commands if c.startswith("kind load")]
    assert load == f"kind load image-archive {archive} --name fraud-detection"
    assert commands[commands.index(load) + 1] == "archive present"
    assert commands.index(" ".join(save)) < commands.index(load)
    assert not [c for c in commands if "docker-image" in c]


def test_images_save_every_platform_where_docker_cannot_choose_one(
    tmp_path: Path, bin_dir: Path
) -> None:
    result, commands = _run_images(tmp_path, bin_dir, client="27.3.1", api="1.47")
    assert result.returncode == 0, result.stderr
    (save,) = [c.split() for c in commands if c.startswith("docker save")]
    assert "--platform" not in save and save[-2:] == _app_images()
    assert "cannot save one platform" in result.stderr
    assert "containerd image store" in result.stderr
    assert [c for c in commands if c.startswith("kind load image-archive ")]


def test_images_report_a_failed_load_and_still_remove_the_archive(
    tmp_path: Path, bin_dir: Path
) -> None:
    result, _ = _run_images(tmp_path, bin_dir, client="29.1.3", api="1.52", load_status=4)
    _assert_fails(result, "failed during step: load into kind cluster fraud-detection (exit 4)")


def _e2e_job() -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(E2E_WORKFLOW.read_text())["jobs"]["e2e"]
    return job


def test_e2e_job_limit_covers_the_limits_of_its_steps() -> None:
    """A timed-out step fails, and the failure() steps after it run; a job that reaches its own
    limit is cancelled instead. So every step is bounded, and the job outlasts them all."""
    job = _e2e_job()
    limits = {}
    for step in job["steps"]:
        name = step.get("name") or step["uses"]
        minutes = step.get("timeout-minutes")
        assert isinstance(minutes, int) and minutes > 0, f"step {name!r} has no timeout-minutes"
        limits[name] = minutes
    total = sum(limits.values())
    margin = max(10, total // 10)
    assert total + margin <= job["timeout-minutes"], (
        f"the steps may take {total} min ({limits}); the job allows {job['timeout-minutes']}, "
        f"which needs to be at least {total + margin}"
    )
    cluster_steps = [s for s in job["steps"] if "make " in s.get("run", "")]
    assert {s["run"].strip() for s in cluster_steps} >= {
        "make kind-up", "make images", "make deploy", "make e2e", "make cluster-logs"
    }  # fmt: skip


def test_e2e_logs_are_collected_on_failure_and_on_cancellation() -> None:
    steps = _e2e_job()["steps"]
    logs = [s for s in steps if "cluster-logs" in s.get("run", "") + s.get("uses", "")
            or "upload-artifact" in s.get("uses", "")]  # fmt: skip
    assert len(logs) == 2, logs
    for step in logs:
        condition = step.get("if", "")
        assert "always()" in condition or (
            "failure()" in condition and "cancelled()" in condition
        ), f"{step['name']!r} runs only if: {condition!r}"
    (delete,) = [s for s in steps if s.get("run", "").strip() == "make kind-down"]
    assert delete.get("if") == "always()"
