"""Shell scripts pass shellcheck (installed by scripts/tools.sh when missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*REPO_ROOT.glob("scripts/*.sh"), REPO_ROOT / ".ci" / "run"])


def test_every_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck") or str(REPO_ROOT / ".tools" / "bin" / "shellcheck")
    if not Path(shellcheck).exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "tools.sh")], check=True, capture_output=True)
        shellcheck = shutil.which("shellcheck") or shellcheck
    assert len(SCRIPTS) >= 4, SCRIPTS
    result = subprocess.run(
        # -x from the repository root: follow `source k8s/versions.env` as the scripts do.
        [shellcheck, "--severity=style", "-x", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout
