"""Helpers of the template tests: bake with cookiecutter, read a project, run its own checks.

The generator reads a repository's HEAD, so the tests bake from a snapshot of this work tree
committed in a temporary repository (conftest.py): they test what the next commit would
generate, edits included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template"
VENV_BIN = Path(sys.executable).parent
# The generator's modules import each other by name, as the hooks load them; the tests import
# them from here.
sys.path.insert(0, str(TEMPLATE))

from answers import Answers, TemplateError, camel  # noqa: E402
from options import OPTIONS  # noqa: E402
from project_generator import (  # noqa: E402
    File,
    apply_markers,
    generate,
    renamer,
    repository_files,
    token_map,
)

__all__ = [
    "OPTIONS",
    "Answers",
    "File",
    "TemplateError",
    "apply_markers",
    "camel",
    "generate",
    "renamer",
    "repository_files",
    "token_map",
]

# Every answer differs from the example's, and each from the others (the Feast project from
# the package, the namespace from the slug), so a name substituted by the wrong answer shows.
ANSWERS = {
    "project_name": "Card Risk",
    "project_slug": "card-risk",
    "package_name": "card_risk",
    "k8s_namespace": "risk-ns",
    "image_registry": "ghcr.io/acme",
    "feast_project": "risk_store",
    "model_name": "risk-model",
    "author": "Jane Doe <jane@example.com>",
    "include_kind_platform": "no",
    "cluster_online_store": "sqlite",
}
# What include_kind_platform=no leaves out, spelled out here rather than read from the manifest.
KIND_PATHS = (
    "k8s/kind",
    "k8s/platform",
    "k8s/jobs",
    "scripts/kind-up.sh",
    "scripts/kind-down.sh",
    "scripts/images.sh",
    "scripts/deploy.sh",
    "scripts/e2e.sh",
    "scripts/platform-manifests.sh",
    ".github/workflows/e2e-kind.yml",
    "docs/kind.md",
    "tests/cluster",
    "tests/static/test_platform.py",
    "tests/static/test_cluster_scripts.py",
    "tests/static/test_kind_up.py",
    "tests/unit/rollout/test_deploy_challenger.py",
)
TEMPLATE_ONLY = ("template", "docs/template.md", "tests/template")
IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
MARKER_LINE = re.compile(r"^[ \t]*(?:#|<!--) (?:>>>|<<<) |<!-- >>> [a-z-]+ <<< -->", re.MULTILINE)


def git_env(isolation: Mapping[str, Path], identity: bool = True) -> dict[str, str]:
    """A git configuration without the developer's settings, with or without an identity."""
    env = {"GIT_CONFIG_GLOBAL": str(isolation["gitconfig"]), "GIT_CONFIG_NOSYSTEM": "1"}
    if identity:
        for name in IDENTITY:
            env[name] = "template@example.com" if name.endswith("EMAIL") else "Template Test"
    return env


def bake(
    template: str,
    out: Path,
    isolation: Mapping[str, Path],
    answers: Mapping[str, str] | None = None,
    identity: bool = True,
) -> Path:
    """cookiecutter's Python API, as `cookiecutter <template> --directory template`."""
    with pytest.MonkeyPatch.context() as patch:
        for name in IDENTITY:
            patch.delenv(name, raising=False)
        for name, value in git_env(isolation, identity).items():
            patch.setenv(name, value)
        made = cookiecutter(
            template,
            no_input=True,
            extra_context=dict(answers or {}),
            output_dir=str(out),
            directory="template",
            config_file=str(isolation["config"]),
        )
    return Path(made)


def run(
    *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n" + (
            result.stdout[-6000:] + result.stderr[-6000:]
        )
    return result


def project_env(project: Path) -> dict[str, str]:
    """The project's own code first on the path (this checkout's is installed in the
    environment under the same top-level names), nothing written beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    return env | {
        "PYTHONPATH": f"{project / 'src'}{os.pathsep}{project}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def text_files(project: Path) -> Iterator[tuple[str, str]]:
    """(path, text) of every text file, outside .git and the tools link."""
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if relative.startswith((".git/", ".tools")) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\x00" not in data:
            yield relative, data.decode("utf-8", errors="replace")


def read_env_file(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    )


def old_names(repository: Path) -> set[str]:
    """The example's names: every value of its project.env, and the CamelCase forms the code
    spells (the package's, in FraudDetectionError, and the model's, the service class)."""
    identity = read_env_file((repository / "project.env").read_text())
    camels = {camel(identity["PACKAGE_NAME"]), camel(identity["MODEL_NAME"])}
    return {value for value in identity.values() if value} | camels


def survivors(files: Mapping[str, str], names: set[str], keep: set[str]) -> dict[str, list[str]]:
    """Old names left in paths or contents, wherever they start a word (a right boundary
    is not required: fraud_features_v2 counts), except those the answers contain."""
    looked_for = sorted(n for n in names if not any(n in kept for kept in keep))
    if not looked_for:
        return {}
    pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{'|'.join(map(re.escape, looked_for))})")
    found = {path: sorted(set(pattern.findall(f"{path}\n{text}"))) for path, text in files.items()}
    return {path: names for path, names in found.items() if names}


def expected_paths(repository_paths: set[str], answers: Mapping[str, str]) -> set[str]:
    """The repository's files less the template's and what the options' manifest leaves out,
    with the package and the chart directories renamed."""
    parsed = Answers.of(answers)
    dropped = [*TEMPLATE_ONLY]
    dropped += [p.rstrip("/") for o in OPTIONS.values() if not o.keep(parsed) for p in o.paths]
    kept = {
        p for p in repository_paths if not any(p == d or p.startswith(f"{d}/") for d in dropped)
    }
    renames = {"src/fraud_detection/": f"src/{parsed.package}/",
               "charts/fraud-detection/": f"charts/{parsed.slug}/"}  # fmt: skip
    for old, new in renames.items():
        kept = {new + p[len(old) :] if p.startswith(old) else p for p in kept}
    return kept


def project_paths(project: Path) -> set[str]:
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if (p.is_file() or p.is_symlink())
        and not p.relative_to(project).as_posix().startswith((".git/", ".tools"))
    }


def run_project_checks(project: Path, suites: tuple[str, ...] = ("unit", "static")) -> None:
    """What the project's `make lint` and `make test` run, from its own directory with its own
    code: ruff, mypy, the compiled pipeline's check, then its test suites."""
    env = project_env(project)
    run(VENV_BIN / "ruff", "check", "--no-cache", ".", cwd=project)
    run(VENV_BIN / "ruff", "format", "--no-cache", "--check", ".", cwd=project)
    run(VENV_BIN / "mypy", "--cache-dir", project.parent / "mypy-cache", cwd=project, env=env)
    package = read_env_file((project / "project.env").read_text())["PACKAGE_NAME"]
    run(sys.executable, "-m", package, "compile", "--check", cwd=project, env=env)
    for suite in [s for s in suites if (project / "tests" / s).is_dir()]:
        result = run(
            sys.executable, "-m", "pytest", f"tests/{suite}", "-q", "-p", "no:cacheprovider",
            "-m", "not slow", cwd=project, env=env,
        )  # fmt: skip
        assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]


def project_venv(project: Path) -> Path:
    """The project's `.venv`, as `make` would bootstrap it, without a download: this
    checkout's packages (a .pth file), the project installed editable, and this checkout's
    commands run by the new environment's Python."""
    venv = project / ".venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=project)
    ours = next(VENV_BIN.parent.glob("lib/python*/site-packages"))
    (next(venv.glob("lib/python*/site-packages")) / "checkout.pth").write_text(f"{ours}\n")
    shebang = f"#!{VENV_BIN}/python"
    for tool in sorted(p for p in VENV_BIN.iterdir() if p.is_file()):
        target = venv / "bin" / tool.name
        if target.exists():
            continue
        text = tool.read_bytes().decode(errors="replace")
        if text.startswith(f"{shebang}\n"):  # a console script: run it with the new Python
            target.write_text(f"#!{venv / 'bin' / 'python'}\n" + text.split("\n", 1)[1])
            target.chmod(0o755)
        else:  # a binary (ruff) or a script of its own
            target.symlink_to(tool)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
        "--no-build-isolation", "--no-index", "-e", ".", cwd=project)  # fmt: skip
    (venv / ".installed").touch()
    return venv
