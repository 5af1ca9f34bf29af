"""Run a short program in a fresh interpreter at the repository root, for tests of what a
module does at import (which modules it loads, how it configures BentoML for the process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def last_line_printed(program: str, bentoml_home: Path) -> str:
    """The last line `program` prints, run with its own BentoML store; fails if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "BENTOML_HOME": str(bentoml_home)}, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]
