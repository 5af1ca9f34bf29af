"""The cluster scripts fail fast, naming the problem, when a tool is missing or too old, Docker
is not running or too small, or an input is wrong. Docker, kind and a cluster cannot run here,
so those commands are stand-ins: small scripts that answer the way the real ones do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from toolbox import REPO_ROOT, VERSIONS

# The system tools the scripts use besides the cluster ones.
SYSTEM_TOOLS = ["bash", "env", "sed", "sort", "head", "date", "basename", "dirname", "cat",
                "grep", "tr", "od", "seq", "find", "wc", "mkdir", "sleep"]  # fmt: skip
GIB = 1024**3


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
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), **env},
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
    _assert_fails(result, "Docker has 4 GB of memory")


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
