"""Baking projects with cookiecutter, as a user does (template/, docs/template.md).

One project with every answer changed (new names, a registry prefix, no kind path, the SQLite
cluster profile, an author) is held to what the repository holds itself to: its exact file set,
no old name anywhere, ruff, mypy, the compiled pipeline's check, its own static tests and the
unit tests a rename can break (all of its tests run in the nightly whole `make test` bake,
test_matrix.py). It is never installed: its code runs from its directory, and a test checks
that it is its own code that gets imported. Then: a bake from a relative path without a git
identity; a bake from a git URL of a clone whose README and tests were edited as anyone edits
them; and refused answers.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from baking import (
    ANSWERS,
    IDENTITY,
    KIND_PATHS,
    REPO_ROOT,
    TEMPLATE_ONLY,
    VENV_BIN,
    Answers,
    bake,
    camel,
    expected_paths,
    fast_deselection,
    git_env,
    old_names,
    project_env,
    project_paths,
    read_env_file,
    repository_files,
    run,
    run_project_checks,
    seeded_mypy_cache,
    survivors,
    text_files,
)
from cookiecutter.exceptions import FailedHookException
from template_fixtures import isolation_fixture, repository_fixture  # noqa: F401 (fixtures, by name)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, isolation: dict[str, Path], repository: Path
) -> Path:
    made = bake(str(repository), tmp_path_factory.mktemp("renamed"), isolation, ANSWERS)
    assert made.name == "card-risk"
    # The static tests find helm, kubectl and actionlint in .tools (ignored by git), as in a
    # checkout where scripts/tools.sh has run.
    (made / ".tools").symlink_to(REPO_ROOT / ".tools")
    return made


def test_the_file_set_is_the_repositorys_less_the_options(project: Path, repository: Path) -> None:
    expected = expected_paths(set(repository_files(repository, "HEAD")), ANSWERS)
    assert project_paths(project) == expected
    assert (project / "src/card_risk/__init__.py").is_file()
    assert (project / "charts/card-risk/Chart.yaml").is_file()
    assert not [path for path in (*KIND_PATHS, *TEMPLATE_ONLY) if (project / path).exists()]
    for path in ("scripts/promote.sh", "docs/cluster.md"):
        assert os.access(project / path, os.R_OK), path
    assert os.access(project / "scripts/promote.sh", os.X_OK)


def test_no_old_name_survives(project: Path, repository: Path) -> None:
    keep = {*Answers.of(ANSWERS).identity().values(), ANSWERS["project_name"]}
    assert not survivors(dict(text_files(project)), old_names(repository), keep)


def test_the_identity_file_holds_the_answers(project: Path) -> None:
    assert read_env_file((project / "project.env").read_text()) == {
        "PROJECT_SLUG": "card-risk", "PACKAGE_NAME": "card_risk", "MODEL_NAME": "risk-model",
        "APP_NAMESPACE": "risk-ns", "IMAGE_REGISTRY": "ghcr.io/acme",
        "SERVING_IMAGE": "card-risk-serving", "PIPELINE_IMAGE": "card-risk-pipeline",
        "PIPELINE_NAME": "card-risk-training", "FEAST_PROJECT": "risk_store",
        "FEATURE_SERVICE": "risk_store_v2", "CHART_NAME": "card-risk",
        "RELEASE_NAME": "card-risk", "CLUSTER_NAME": "card-risk",
    }  # fmt: skip
    pyproject = (project / "pyproject.toml").read_text()
    assert 'authors = [{ name = "Jane Doe", email = "jane@example.com" }]' in pyproject
    assert "class RiskModel" in (project / "serving/service.py").read_text()
    assert "class CardRiskError" in (project / "src/card_risk/errors.py").read_text()


def test_nothing_runs_what_the_options_left_out(project: Path) -> None:
    """Without the kind path, no Makefile recipe, workflow or script names a missing file or
    calls a missing target, and the README no longer sends anyone to the kind guide."""
    makefile = (project / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z0-9][\w.-]*)[ \t]*:(?![:=])", makefile, re.M))
    assert not targets & {"kind-up", "kind-down", "images", "deploy", "e2e", "verify-cluster"}
    phony = " ".join(re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", makefile, re.M))
    assert set(phony.replace("\\", " ").split()) <= targets
    for path, text in text_files(project):
        if path != "Makefile" and not path.startswith((".github/workflows/", "scripts/", ".ci/")):
            continue
        for line in (line for line in text.splitlines() if not line.lstrip().startswith("#")):
            for script in re.findall(r"scripts/[\w-]+\.\w+|k8s/[\w/.-]+\w", line):
                assert (project / script).exists(), (path, line)
            for target in re.findall(r"(?:^|[;&|(])\s*make\s+([a-z][\w-]*)", line):
                assert target in targets, (path, line)
    readme = (project / "README.md").read_text()
    assert "make kind-up" not in readme and "kind.md" not in readme


def test_the_projects_own_code_is_imported(project: Path) -> None:
    """This checkout's packages are installed (editable) here, under the same top-level names
    for serving and monitoring: the project's must win."""
    probe = "import card_risk, serving, monitoring\n"
    probe += "for m in (card_risk, serving, monitoring): print(m.__file__)"
    out = run(sys.executable, "-c", probe, cwd=project, env=project_env(project)).stdout
    assert all(Path(line).is_relative_to(project) for line in out.split()), out


def test_the_served_class_is_the_renamed_one_named_after_the_model(project: Path) -> None:
    """`bentoml serve` is given the service as a string (local_server.SERVICE), and the service
    takes its name from project.env: both must reach the renamed class."""
    probe = "import importlib\nfrom card_risk.serving.local_server import SERVICE\n"
    probe += "module, _, name = SERVICE.partition(':')\n"
    probe += "print(SERVICE, getattr(importlib.import_module(module), name).name)"
    out = run(sys.executable, "-c", probe, cwd=project, env=project_env(project)).stdout
    assert out.split() == ["serving.service:RiskModel", "risk-model"], out


def test_the_project_passes_its_own_checks(project: Path) -> None:
    """ruff, mypy, the compiled pipeline against a fresh compile, then its static tests (chart,
    shell scripts, workflows, versions, docs' links, project.env's consumers) and the unit tests
    that meet a renamed name at run time, every test module imported. The rest of its tests
    run in the nightly whole `make test` bake (baking.fast_deselection says what)."""
    run_project_checks(project, deselect=fast_deselection(project))


def test_mypy_with_the_seeded_cache_reports_what_the_rename_broke(
    project: Path, tmp_path: Path
) -> None:
    """The seeded cache (baking.seeded_mypy_cache) holds this checkout's `serving.service`
    under the same module name: mypy must judge the project's own one, which has no
    example's class, and still type-check the renamed package."""
    example_class = camel(read_env_file((REPO_ROOT / "project.env").read_text())["MODEL_NAME"])
    planted = tmp_path / "planted_error.py"
    planted.write_text(
        f"from card_risk.config import Settings\nfrom serving.service import {example_class}\n\n"
        "width: int = Settings().identity.model_name\n"
    )
    cache = seeded_mypy_cache(tmp_path / "mypy-cache")
    args = (VENV_BIN / "mypy", "--cache-dir", cache, planted)
    out = run(*args, cwd=project, env=project_env(project), check=False).stdout
    assert f'"serving.service" has no attribute "{example_class}"' in out, out
    assert 'expression has type "str", variable has type "int"' in out, out


def test_the_secrets_baseline_holds_for_the_files_it_names(project: Path, tmp_path: Path) -> None:
    """The generator rewrites .secrets.baseline (renamed paths, lines moved by the options):
    detect-secrets' hook over the files it names must find exactly the audited findings (exit 3
    when their lines are stale, 1 for one the baseline misses). The scan of every file is the
    nightly bake's."""
    names = sorted(json.loads((project / ".secrets.baseline").read_text())["results"])
    assert "charts/card-risk/values.yaml" in names, names
    baseline = tmp_path / "baseline.json"
    shutil.copy(project / ".secrets.baseline", baseline)
    run(VENV_BIN / "detect-secrets-hook", "--baseline", baseline, *names, cwd=project)


def test_the_alert_rule_tests_read_the_renamed_charts_rules(project: Path) -> None:
    """promtool's unit tests name the chart's rule file by path; running them is the nightly
    bake's (the rules and cases are the example's, which this checkout's suite runs)."""
    rules = project / "charts/card-risk/files/alert-rules.yaml"
    cases = sorted((project / "tests" / "alerts").glob("*.test.yaml"))
    assert cases
    for case in cases:
        named = [
            (case.parent / f).resolve() for f in yaml.safe_load(case.read_text())["rule_files"]
        ]
        assert named == [rules.resolve()], (case.name, named)


def test_the_project_is_a_git_repository_with_one_commit(project: Path) -> None:
    assert run("git", "rev-list", "--count", "HEAD", cwd=project).stdout.strip() == "1"
    assert run("git", "status", "--porcelain", cwd=project).stdout.splitlines() == []


# --- other ways in --------------------------------------------------------------------------

DEFAULTS = {"project_slug": "fraud-detection", "package_name": "fraud_detection",
            "include_kind_platform": "yes", "cluster_online_store": "redis"}  # fmt: skip


def test_a_relative_path_without_a_git_identity(
    repository: Path, isolation: dict[str, Path], tmp_path: Path
) -> None:
    """`cookiecutter . --directory template` from the repository (template/local_extensions.py
    resolves the relative path) with the defaults: the example reproduced, initialised without
    a commit since git has no identity."""
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY}
    env |= git_env(isolation, identity=False)
    result = run(
        VENV_BIN / "cookiecutter", ".", "--directory", "template", "--no-input",
        "--output-dir", tmp_path, "--config-file", isolation["config"], cwd=repository, env=env,
    )  # fmt: skip
    assert "without a commit" in result.stdout, result.stdout
    made = tmp_path / "fraud-detection"
    assert run("git", "rev-parse", "--verify", "HEAD", cwd=made, check=False).returncode != 0
    files = repository_files(repository, "HEAD")
    assert project_paths(made) == expected_paths(set(files), DEFAULTS)
    for path in ("src/fraud_detection/cli.py", "scripts/lib.sh", "project.env"):
        assert (made / path).read_bytes() == files[path].data, path


def _edit_a_test_body(repository: Path) -> Path:
    """Append a statement to the first test function of the first unit test module."""
    path = sorted((repository / "tests" / "unit").glob("test_*.py"))[0]
    source = path.read_text()
    function = next(
        node for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )  # fmt: skip
    lines = source.splitlines(keepends=True)
    indent = " " * function.body[-1].col_offset
    assert function.end_lineno is not None
    lines.insert(function.end_lineno, f"{indent}assert True, 'an ordinary edit'\n")
    path.write_text("".join(lines))
    return path


def test_edited_prose_and_tests_bake_cleanly_from_a_git_url(
    repository: Path, isolation: dict[str, Path], tmp_path: Path
) -> None:
    """The generator edits no sentence and no test body, so ordinary edits of either cannot
    break it (an edited README sentence used to). cookiecutter clones the URL; the hook reads
    the clone."""
    origin = tmp_path / "origin"
    env = {**os.environ, **git_env(isolation)}
    run("git", "clone", "--quiet", repository, origin, cwd=tmp_path, env=env)
    readme = origin / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    # The first line of prose: rewritten the way anyone edits a sentence.
    first = next(i for i, line in enumerate(lines) if line[:1].isalpha())
    lines[first] = f"Rewritten, as sentences are: {lines[first].lower()}"
    readme.write_text("".join(lines))
    edited = _edit_a_test_body(origin)
    run("git", "commit", "--quiet", "--no-verify", "-am", "edits", cwd=origin, env=env)
    made = bake(f"git+file://{origin}", tmp_path / "out", isolation, {"project_name": "Url Risk"})
    assert lines[first] in (made / "README.md").read_text()
    assert "an ordinary edit" in (made / edited.relative_to(origin)).read_text()
    assert (made / "src" / "url_risk" / "__init__.py").is_file()
    message = run("git", "log", "-1", "--format=%B", cwd=made).stdout
    commit = run("git", "rev-parse", "HEAD", cwd=origin).stdout.strip()
    assert f"generated from git+file://{origin} at {commit}" in message


# --- refused answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_slug", "Card Risk"),
        ("project_slug", "card-risk-"),
        ("project_slug", "acme/card-risk"),
        ("package_name", "card-risk"),
        ("package_name", "json"),
        ("package_name", "pipelines"),
        ("k8s_namespace", "Risk_NS"),
        ("k8s_namespace", "kube-system"),
        ("image_registry", "https://ghcr.io/acme"),
        ("image_registry", "ghcr.io/acme/"),
        ("image_registry", "ghcr.io/acme:latest"),
        ("feast_project", "card-risk"),
        ("model_name", "Risk Model"),
        ("author", "Jane <not an email>"),
    ],
)
def test_an_invalid_answer_is_refused_and_nothing_is_written(
    repository: Path,
    tmp_path: Path,
    isolation: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    field: str,
    value: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(str(repository), out, isolation, {**ANSWERS, field: value})
    errors = capfd.readouterr().err
    assert f"error: {field} {value!r}" in errors, errors
    assert list(out.iterdir()) == []


def test_valid_registry_prefixes_are_accepted(
    repository: Path, tmp_path: Path, isolation: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """Only the pre-generation hook runs: a bad package name stops the bake right after it."""
    for registry in ("ghcr.io/acme", "localhost:5000/team", "acme", "registry.example.com"):
        with pytest.raises(FailedHookException):
            answers = {**ANSWERS, "image_registry": registry, "package_name": "json"}
            bake(str(repository), tmp_path, isolation, answers)
        assert "image_registry" not in capfd.readouterr().err, registry
