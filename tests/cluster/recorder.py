"""Run the real cluster scripts end to end against the recording stand-ins (standin.py).

The scripts run in a copy of the repository's cluster files (so that the project's venv tools
they call, .venv/bin/fraud-detection and bentoml, are stand-ins too), with a bin directory of
stand-ins first on PATH and a BASH_ENV file whose DEBUG trap exports the bash call stack, so
each recorded command knows which script line and which lib.sh helper ran it.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installed import REPO_ROOT, pinned_tool

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
# What the cluster scripts read, and what the checks read beside the recording.
COPIED = [
    "project.env",
    "scripts",
    "k8s",
    "charts",
    "docs",
    ".github",
    "pipelines/compiled",
    "Makefile",
]
STANDINS = ["docker", "kind", "kubectl", "helm"]
VENV_STANDINS = ["bentoml", "fraud-detection"]
# The simulated registry's two model versions (standin.py): workspace-init's and the pipeline's.
FIRST_MODEL, SECOND_MODEL = "0123456789ab", "ba9876543210"  # pragma: allowlist secret (versions)
# The order a user (and e2e-kind.yml) runs them in; optional ones only when they exist.
SCRIPTS: list[tuple[str, dict[str, str]]] = [
    ("kind-up.sh", {}),
    ("images.sh", {}),
    ("deploy.sh", {}),
    ("e2e.sh", {}),
    ("promote.sh", {"MODEL_VERSION": SECOND_MODEL}),
    ("rollback.sh", {"MODEL_VERSION": SECOND_MODEL}),
]
# Exported before every command: the function stack, each frame's call site, and each frame's
# arguments as the function received them (caught at its first command, before any `shift`).
TRAP = r"""
set -T
__rec_frames=()
__rec_args=()
trap '__rec_s="${BASH_SOURCE[0]:-}:${LINENO}" __rec_f="" __rec_a=""
if [ -n "${FUNCNAME+set}" ]; then
  __rec_f="${FUNCNAME[*]}"
  __rec_d=${#FUNCNAME[@]}
  if [ "${__rec_frames[__rec_d]:-}" != "${FUNCNAME[0]}@${BASH_LINENO[0]}" ]; then
    __rec_frames[__rec_d]="${FUNCNAME[0]}@${BASH_LINENO[0]}"
    __rec_args[__rec_d]="$*"
  fi
  for ((__rec_i = 0; __rec_i + 1 < ${#FUNCNAME[@]}; __rec_i++)); do
    __rec_s+=" ${BASH_SOURCE[__rec_i + 1]}:${BASH_LINENO[__rec_i]}"
    __rec_a+="${__rec_args[__rec_d - __rec_i]:-}"$'"'"'\x1f'"'"'
  done
fi
export REC_STACK="$__rec_f" REC_SITES="$__rec_s" REC_ARGS="$__rec_a" REC_PID="$$"' DEBUG
"""


@dataclass(frozen=True)
class ScriptRun:
    script: str
    returncode: int
    stderr: str


@dataclass(frozen=True)
class Recording:
    root: Path  # the copy the scripts ran in; recorded paths start with it
    events: list[dict[str, Any]]
    runs: list[ScriptRun]
    state: Path  # the stand-ins' cluster state when the last script ended


def copy_repo(target: Path, source: Path = REPO_ROOT) -> Path:
    """The files the scripts and checks read, copied (mutation tests edit the copy)."""
    for name in COPIED:
        src, dst = source / name, target / name
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".render.*", "__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return target


def _install_standins(bin_dir: Path, names: list[str]) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = bin_dir / name
        start = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); "
            "import standin; sys.exit(standin.main())"
        )
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S -c "{start}" "${{0##*/}}" "$@"\n')
        path.chmod(0o755)


def read_versions(root: Path = REPO_ROOT) -> dict[str, str]:
    """k8s/versions.env's KEY=value lines (tests/static/test_versions.py checks its form)."""
    pairs = (
        line.split("=", 1)
        for line in (root / "k8s" / "versions.env").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


VERSIONS = read_versions()


def _environment(work: Path, root: Path) -> dict[str, str]:
    """The stand-ins (work/bin, root/.venv/bin), the trap, and the environment to run with."""
    rec_dir = work / "rec"
    rec_dir.mkdir(parents=True)
    _install_standins(work / "bin", STANDINS)
    for name in ("curl", "sleep"):
        path = work / "bin" / name
        path.write_text(f"#!{shutil.which('bash')} -p\n" + (HERE / "bash_standins.sh").read_text())
        path.chmod(0o755)
    venv_bin = root / ".venv" / "bin"
    _install_standins(venv_bin, VENV_STANDINS)
    (venv_bin / "python").symlink_to(sys.executable)
    (work / "bash_env.sh").write_text(TRAP)
    # kind-up.sh reads the host's inotify limits from here: the ones it asks for.
    inotify = work / "inotify"
    inotify.mkdir()
    (inotify / "max_user_watches").write_text("524288\n")
    (inotify / "max_user_instances").write_text("512\n")
    return {
        "PATH": f"{work / 'bin'}:{os.environ['PATH']}",
        "HOME": str(work),
        "BASH_ENV": str(work / "bash_env.sh"),
        "REC_DIR": str(rec_dir),
        "REC_ROOT": str(root),
        "REC_SITE_PACKAGES": os.pathsep.join(
            [sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("-packages"))]
        ),
        "REC_FIXTURES": str(FIXTURES),
        "REC_REAL_HELM": pinned_tool("helm"),
        "REC_REAL_KUBECTL": pinned_tool("kubectl"),
        "REC_KUBE_VERSION": VERSIONS["KUBERNETES_VERSION"],
        "REC_KUBECTL_VERSION": VERSIONS["KUBECTL_VERSION"],
        "REC_HELM_VERSION": VERSIONS["HELM_VERSION"],
        "REC_KIND_VERSION": VERSIONS["KIND_VERSION"],
        "REC_FORWARD_SECONDS": "60",
        "KIND_INOTIFY_DIR": str(inotify),
        "REC_REAL_SLEEP": shutil.which("sleep") or "/bin/sleep",
    }


def _run(root: Path, env: dict[str, str], scripts: list[tuple[str, dict[str, str]]]) -> Recording:
    runs = []
    for script, extra in scripts:
        path = root / "scripts" / script
        if not path.exists():
            continue
        result = subprocess.run(
            [str(path)],
            cwd=root,
            env={**env, **extra, "REC_RUN": script},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        runs.append(ScriptRun(script, result.returncode, result.stderr))
    rec_dir = Path(env["REC_DIR"])
    events = [json.loads(line) for line in (rec_dir / "events.jsonl").read_text().splitlines()]
    return Recording(root, events, runs, rec_dir / "state.json")


def record(work: Path) -> Recording:
    """Copy the repository into work/root, run every cluster script there, return the calls."""
    root = copy_repo(work / "root")
    return _run(root, _environment(work, root), SCRIPTS)


def rerun(recording: Recording, work: Path, root: Path, script: str) -> Recording:
    """One script again, from an edited copy `root`, on the cluster state the recording ended
    with (for mutations of the scripts themselves; a second or two, not a whole recording)."""
    env = _environment(work, root)
    shutil.copy(recording.state, Path(env["REC_DIR"]) / "state.json")
    extra = dict(SCRIPTS)[script]
    return _run(root, env, [(script, extra)])


@functools.cache
def recorded() -> Recording:
    """The one recording of a test session: the whole-install checks and every mutation test
    read it (a recording takes seconds; the checks on it, milliseconds)."""
    work = Path(tempfile.mkdtemp(prefix="verify-cluster-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    return record(work)
