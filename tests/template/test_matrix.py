"""Every combination of the options, baked (as cookiecutter-data-science does).

In the default suite each combination is generated in memory (the generator's `generate`, on
the committed snapshot) and held to the exact file set and the absence of every old name;
under `-m slow`, each is baked through cookiecutter and passes its own checks, and one runs
its whole `make test`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import yaml
from baking import (
    ANSWERS,
    KIND_PATHS,
    MARKER_LINE,
    REPO_ROOT,
    Answers,
    bake,
    expected_paths,
    generate,
    old_names,
    project_paths,
    project_venv,
    read_env_file,
    repository_files,
    run,
    run_project_checks,
    survivors,
)
from template_fixtures import isolation_fixture, repository_fixture  # noqa: F401 (fixtures, by name)

COMBINATIONS = [
    {**ANSWERS, "include_kind_platform": kind, "cluster_online_store": store, "author": author}
    for kind, store, author in itertools.product(
        ("yes", "no"), ("redis", "sqlite"), ("", "Jane Doe <jane@example.com>")
    )
]


def label(answers: dict[str, str]) -> str:
    author = "author" if answers["author"] else "anonymous"
    kind = "kind" if answers["include_kind_platform"] == "yes" else "no-kind"
    return f"{kind}-{answers['cluster_online_store']}-{author}"


@pytest.mark.parametrize("answers", COMBINATIONS, ids=label)
def test_each_combination_has_its_files_and_no_old_name(
    repository: Path, answers: dict[str, str]
) -> None:
    files = repository_files(repository, "HEAD")
    project = generate(files, Answers.of(answers)).files
    assert set(project) == expected_paths(set(files), answers)
    kind = answers["include_kind_platform"] == "yes"
    for path in KIND_PATHS:
        assert any(p == path or p.startswith(f"{path}/") for p in project) == kind, path
    texts = {path: file.text() or "" for path, file in project.items()}
    keep = {*Answers.of(answers).identity().values(), answers["project_name"]}
    assert not survivors(texts, old_names(repository), keep)
    assert not [path for path, text in texts.items() if MARKER_LINE.search(text)]
    assert read_env_file(texts["project.env"]) == Answers.of(answers).identity()

    profile = yaml.safe_load(texts["feature_repo/feature_store.cluster.yaml"])
    assert profile["online_store"]["type"] == answers["cluster_online_store"]
    values = yaml.safe_load(texts["charts/card-risk/values.yaml"])
    assert values["featureServer"]["enabled"] is (answers["cluster_online_store"] == "redis")
    assert ("authors = [" in texts["pyproject.toml"]) is bool(answers["author"])
    assert texts["README.md"].startswith("# Card Risk — ")


@pytest.mark.slow
@pytest.mark.parametrize("answers", COMBINATIONS, ids=label)
def test_each_combination_passes_its_own_checks(
    repository: Path,
    isolation: dict[str, Path],
    tmp_path: Path,
    answers: dict[str, str],
) -> None:
    project = bake(str(repository), tmp_path, isolation, answers)
    assert project_paths(project) == expected_paths(set(repository_files(repository, "HEAD")),
                                                    answers)  # fmt: skip
    (project / ".tools").symlink_to(REPO_ROOT / ".tools")
    run_project_checks(project, ("unit", "static", "data", "model"))


@pytest.mark.slow
def test_a_project_passes_its_whole_make_test(
    repository: Path, isolation: dict[str, Path], tmp_path: Path
) -> None:
    """`make test` in a baked project with the kind path, in an environment that reuses this
    checkout's packages (baking.project_venv), so that nothing is downloaded."""
    answers = {**ANSWERS, "include_kind_platform": "yes"}
    project = bake(str(repository), tmp_path, isolation, answers)
    (project / ".tools").symlink_to(REPO_ROOT / ".tools")
    project_venv(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRAUD_", "VIRTUAL_ENV"))}
    run("make", "test", cwd=project, env=env)
