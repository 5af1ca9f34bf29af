"""Where the tests find the system packages and checkers that `make tools` installs.

`make test` runs scripts/tools.sh before pytest starts, so nothing here installs anything: a
missing tool fails the test that needs it, with the command that installs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
INSTALL_HINT = "run `make tools` (make test runs it first), or scripts/tools.sh"


def installed(name: str, *patterns: str) -> str:
    """Path of command `name`: on PATH, in .tools/bin, or at the first absolute glob `patterns`
    match (newest first, e.g. Debian's /usr/lib/postgresql/*/bin/initdb)."""
    found = shutil.which(name) or shutil.which(name, path=str(TOOLS_BIN))
    for pattern in patterns:
        if found:
            break
        matches = sorted(Path("/").glob(pattern.lstrip("/")), reverse=True)
        found = str(matches[0]) if matches else None
    assert found, f"{name} is not installed: {INSTALL_HINT}"
    return found


def pinned_tool(name: str) -> str:
    """A checker scripts/tools.sh installs at its pinned version into .tools/bin."""
    path = TOOLS_BIN / name
    assert path.exists(), f"{path} is missing: {INSTALL_HINT}"
    return str(path)
