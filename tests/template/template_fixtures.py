"""Fixtures of the template tests: the work tree as a repository to bake from, and a
cookiecutter and git configuration that leave the developer's own alone.

Test modules import them (`from template_fixtures import ...`): a conftest.py here would share
its module name with tests/integration/conftest.py, which mypy refuses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from baking import REPO_ROOT, git_env


@pytest.fixture(scope="session", name="isolation")
def isolation_fixture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A cookiecutter config that keeps clones and replay files in a temporary directory, and a
    git config without the developer's identity or settings."""
    root = tmp_path_factory.mktemp("cookiecutter")
    config = root / "config.yaml"
    config.write_text(f"cookiecutters_dir: {root / 'clones'}\nreplay_dir: {root / 'replay'}\n")
    gitconfig = root / "gitconfig"
    gitconfig.write_text("")
    return {"config": config, "gitconfig": gitconfig}


@pytest.fixture(scope="session", name="repository")
def repository_fixture(
    tmp_path_factory: pytest.TempPathFactory, isolation: dict[str, Path]
) -> Path:
    """This work tree as its next commit would hold it (tracked files and untracked ones git
    does not ignore, as they are now), committed in a repository of its own: the generator
    reads a commit, and the tests are about the work tree."""
    root = tmp_path_factory.mktemp("repository")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in sorted(set(filter(None, listed.split("\0")))):
        source, target = REPO_ROOT / name, root / name
        if "__pycache__" in source.parts or not (source.is_file() or source.is_symlink()):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    env = {**os.environ, **git_env(isolation)}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root
