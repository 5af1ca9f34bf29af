"""Shared by the static tests: the version matrix, and the real checkers (helm, kubectl,
checkov, kubernetes-validate, hadolint) installed by `make tools` or the project's venv.

A checker that cannot be had fails the test that needs it; nothing here skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from installed import pinned_tool

from fraud_detection.identity import Identity

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "k8s" / "versions.env"
VENV_BIN = Path(sys.executable).parent
# The project's names, from project.env (tests/static/test_identity.py checks who reads them).
IDENTITY = Identity()
CHART = REPO_ROOT / "charts" / IDENTITY.chart_name
APP_NAMESPACE = IDENTITY.app_namespace
RELEASE = IDENTITY.release_name
# Where the registry's versions live on the workspace volume, as make deploy passes them.
MODEL_URI_PREFIX = f"pvc://fraud-workspace/artifacts/registry/{IDENTITY.model_name}/versions"


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """KEY=value lines; comments and blank lines ignored. Refuses anything else."""
    versions: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and key.isidentifier() and key.isupper(), f"{path}:{number}: not KEY=value"
        assert value and value == value.strip() and not value.startswith(("'", '"')), (
            f"{path}:{number}: the value must be bare (no quotes, no spaces)"
        )
        assert key not in versions, f"{path}:{number}: {key} is set twice"
        versions[key] = value
    return versions


VERSIONS = read_versions()
KUBERNETES_VERSION = VERSIONS["KUBERNETES_VERSION"]


def tool(name: str) -> str:
    """Path of a pinned checker from .tools/bin (`make tools` installs them)."""
    return pinned_tool(name)


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{path} missing: is the project installed with its dev extras?"
    return str(path)


def run(*args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> str:
    """Run a checker; fail with its output when it exits non-zero."""
    result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    output = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}\n{output}"
    return result.stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_chart(values_file: str, *extra: str) -> str:
    """helm template of the chart into the application namespace, as make deploy installs it."""
    return run(
        tool("helm"), "template", RELEASE, str(CHART), "--namespace", APP_NAMESPACE,
        "--kube-version", KUBERNETES_VERSION, "--values", str(CHART / values_file),
        "--set", f"model.storageUri={MODEL_URI_PREFIX}/0123456789ab",
        *extra,
    )  # fmt: skip


def render_platform(overlay: str) -> str:
    env = {**os.environ, "KUBECTL": tool("kubectl")}
    return run(str(REPO_ROOT / "scripts" / "platform-manifests.sh"), overlay, env=env)
