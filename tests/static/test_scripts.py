"""Shell scripts pass shellcheck (`make tools` installs it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from installed import installed

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*REPO_ROOT.glob("scripts/*.sh"), REPO_ROOT / ".ci" / "run"])


def test_every_script_passes_shellcheck() -> None:
    shellcheck = installed("shellcheck")
    assert len(SCRIPTS) >= 4, SCRIPTS
    result = subprocess.run(
        # -x from the repository root: follow `source k8s/versions.env` as the scripts do.
        [shellcheck, "--severity=style", "-x", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout
