"""Helpers of the template tests: bake with cookiecutter, read a project, run its own checks.

The generator reads a repository's HEAD, so the tests bake from a snapshot of this work tree
committed in a temporary repository (conftest.py): they test what the next commit would
generate, edits included.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
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


# The fast suite's share of a baked project's own tests; the nightly whole `make test` bake
# (test_matrix.py) runs them all. Every test module is still collected, so each renamed import
# runs. Of the unit tests, which re-run this checkout's logic under new import lines, those run
# that meet a renamed name at run time:
RENAMED_NAME_UNIT_TESTS = (
    "tests/unit/test_config.py",  # project.env read into the settings' identity
    "tests/unit/test_import_directions.py",  # the package's modules, by name, in their layers
    "tests/unit/pipeline",  # identity from project.env, the package's sources bundled, kfp names
    "tests/unit/jobs",  # the CronJob's retraining submission, the CLI's reports
    "tests/unit/rollout/test_cluster_job.py",  # `python -m <package>.rollout...`, model URIs
    "tests/unit/rollout/test_kserve_rollout.py",  # the chart's InferenceService, image names
)
# Static checks whose run on the baked project repeats, on content the rename leaves alone,
# what this checkout's suite runs; test_bake.py checks what the rename does change in their
# inputs (the secrets baseline's paths and lines, the alert tests' rule file).
LEFT_TO_THE_WHOLE_BAKE = (
    "tests/static/test_chart_jobs.py::test_checkov_finds_nothing_unexplained_in_the_rollout_job",
    "tests/static/test_secrets.py::test_no_secret_beyond_the_audited_baseline",
    "tests/static/test_alert_rules.py::test_the_rule_unit_tests_pass",
)


def fast_deselection(project: Path) -> list[str]:
    """The node ids the fast suite deselects in a baked project: the unit test modules outside
    RENAMED_NAME_UNIT_TESTS, and LEFT_TO_THE_WHOLE_BAKE. Each name must still exist, so that a
    renamed test cannot silently leave the selection."""
    for node in (*RENAMED_NAME_UNIT_TESTS, *LEFT_TO_THE_WHOLE_BAKE):
        path, _, name = node.partition("::")
        assert (project / path).exists(), f"{path} is gone: update baking.py"
        assert not name or f"def {name}(" in (project / path).read_text(), node
    modules = sorted(
        p.relative_to(project).as_posix() for p in project.glob("tests/unit/**/test_*.py")
    )
    kept = [
        m for m in modules if any(m == s or m.startswith(f"{s}/") for s in RENAMED_NAME_UNIT_TESTS)
    ]
    return [m for m in modules if m not in kept] + list(LEFT_TO_THE_WHOLE_BAKE)


def seeded_mypy_cache(target: Path) -> Path:
    """A copy of this checkout's mypy cache (`make lint` leaves it), or an empty directory: the
    standard library's and site-packages' entries are the same files, which mypy revalidates
    and reuses; the project's modules sit at other paths, so mypy checks them afresh. SQLite's
    backup copies each database as one consistent state, even while a mypy run writes it."""
    source = REPO_ROOT / ".mypy_cache"
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        copy = target / path.relative_to(source)
        if path.is_dir():
            copy.mkdir(exist_ok=True)
        elif path.suffix == ".db":
            _backup(path, copy)
        elif not path.name.endswith(("-journal", "-wal", "-shm")):
            shutil.copy2(path, copy)
    return target


def _backup(database: Path, copy: Path) -> None:
    source, target = sqlite3.connect(f"file:{database}?mode=ro", uri=True), sqlite3.connect(copy)
    with closing(source), closing(target):
        source.backup(target)


def run_project_checks(
    project: Path, suites: tuple[str, ...] = ("unit", "static"), deselect: Sequence[str] = ()
) -> None:
    """What the project's `make lint` and `make test` run, from its own directory with its own
    code: ruff, mypy, the compiled pipeline's check, then its test suites (in one pytest run, as
    `make test` does), less the `deselect` node ids."""
    env = project_env(project)
    run(VENV_BIN / "ruff", "check", "--no-cache", ".", cwd=project)
    run(VENV_BIN / "ruff", "format", "--no-cache", "--check", ".", cwd=project)
    cache = seeded_mypy_cache(project.parent / "mypy-cache")
    run(VENV_BIN / "mypy", "--cache-dir", cache, cwd=project, env=env)
    package = read_env_file((project / "project.env").read_text())["PACKAGE_NAME"]
    run(sys.executable, "-m", package, "compile", "--check", cwd=project, env=env)
    paths = [f"tests/{s}" for s in suites if (project / "tests" / s).is_dir()]
    result = run(
        sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-m", "not slow",
        *(f"--deselect={node}" for node in deselect), cwd=project, env=env,
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
