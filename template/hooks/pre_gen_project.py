"""Pre-generation hook: refuse invalid answers before anything is generated.

cookiecutter renders this file with Jinja before running it, which embeds the answers below. It
has already created the (empty) project directory; on a non-zero exit it removes it again, so a
refused answer leaves nothing behind. template/answers.py does the work.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

CONTEXT: dict[str, Any] = json.loads(r"""{{ cookiecutter | tojson }}""")


def template_dir(context: dict[str, Any]) -> Path:
    """The template directory, absolute: cookiecutter passes it as given on its command line,
    relative to the directory it was started from (recorded in `__invocation_dir`)."""
    given = Path(str(context["_repo_dir"]))
    for start in (str(context.get("__invocation_dir", "")), os.environ.get("PWD", "")):
        candidate = given if given.is_absolute() else Path(start) / given
        if candidate.is_absolute() and (candidate / "project_generator.py").is_file():
            return candidate.resolve()
    sys.stderr.write(
        f"error: cannot find the template directory {given}; run cookiecutter with an absolute "
        "path to the repository\n"
    )
    raise SystemExit(1)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    templates = template_dir(CONTEXT)
    sys.path.insert(0, str(templates))
    sys.exit(importlib.import_module("answers").pre_generate(CONTEXT))
