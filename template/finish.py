"""The steps that run tools on a project once its files are written: ruff on the changed Python
files, the pipeline recompiled with the project's own code, .secrets.baseline's line numbers.
template/project_generator.py calls them, in that order.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def tidy_python(project_dir: Path, paths: list[str], root: Path) -> str:
    """Sort the imports of the changed Python files, drop those a dropped block left unused, and
    format them: names changed length. The checkout's pinned ruff first, else one nearby."""
    candidates = (root / ".venv" / "bin" / "ruff", Path(sys.executable).parent / "ruff")
    ruff = next((str(c) for c in candidates if os.access(c, os.X_OK)), shutil.which("ruff"))
    if not paths or ruff is None:
        return "ruff not found: run `make format` once" if paths else "no Python file changed"
    for args in (["check", "--fix", "--select", "I,F401"], ["format"]):
        command = [ruff, *args, "--no-cache", "--quiet", *paths]
        result = subprocess.run(command, cwd=project_dir, capture_output=True, text=True)
        if result.returncode != 0:
            return f"ruff {args[0]} failed ({result.stdout.strip()} {result.stderr.strip()})"
    return f"tidied {len(paths)} changed Python files with {ruff}"


def recompile(project_dir: Path, root: Path, package: str) -> str:
    """Compile the pipeline with the new project's code, as `make pipeline` does: kfp wraps long
    lines, so substituted YAML would not be what `compile --check` compiles. Needs a Python with
    kfp: the checkout's, else cookiecutter's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env |= {"PYTHONPATH": f"{project_dir / 'src'}:{project_dir}", "PYTHONDONTWRITEBYTECODE": "1"}
    for python in (str(root / ".venv" / "bin" / "python"), sys.executable):
        probe = [python, "-c", "import kfp.kubernetes"]
        if os.access(python, os.X_OK) and not subprocess.run(probe, capture_output=True).returncode:
            command = [python, "-m", package, "compile"]
            result = subprocess.run(
                command, cwd=project_dir, env=env, capture_output=True, text=True
            )
            if result.returncode:
                return f"compiling failed, run `make pipeline`:\n{result.stderr[-3000:]}"
            return f"recompiled with {python}"
    return "no Python with kfp here: run `make pipeline` once (`make lint` checks it)"


def follow_secrets_baseline(project_dir: Path, source_of: Callable[[str], str | None]) -> None:
    """detect-secrets records each audited finding by file and line: follow the lines the
    markers and ruff moved from the (substituted) source, and drop the findings in files or
    lines left out. `source_of` gives a project file's source text, None for a new file."""
    path = project_dir / ".secrets.baseline"
    if not path.is_file():
        return
    baseline = json.loads(path.read_text())
    kept: dict[str, Any] = {}
    for name, findings in baseline.get("results", {}).items():
        source, current = source_of(name), project_dir / name
        if source is None or not current.is_file():
            continue
        matcher = difflib.SequenceMatcher(
            None, source.splitlines(), current.read_text().splitlines(), autojunk=False
        )
        blocks = matcher.get_matching_blocks()
        moved = {a + k + 1: b + k + 1 for a, b, size in blocks for k in range(size)}
        found = [{**f, "line_number": moved[f["line_number"]]} for f in findings
                 if f.get("line_number") in moved]  # fmt: skip
        kept |= {name: found} if found else {}
    if kept != baseline.get("results"):
        path.write_text(json.dumps({**baseline, "results": kept}, indent=2) + "\n")
