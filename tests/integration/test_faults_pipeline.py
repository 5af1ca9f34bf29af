"""Fault injection in training: the pipeline or a registration killed part-way (SIGKILL).

A kill must never leave a half-registered model (a version without its files, or a production
pointer to a version that does not exist), and running again must finish with exactly one
complete version, as if the killed run had never happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import workspace_environment

from fraud_detection.config import Settings
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.pipeline import local_run
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import CARD_FILE, MODEL_FILE

pytestmark = pytest.mark.integration

CLI = Path(sys.executable).with_name("fraud-detection")
# The CLI reads its settings from the environment: the workspace's, as `make_workspace` sets them
# (its 40-day history cannot spare the default 30-day feature warm-up).
CLI_ENV = {**os.environ, **workspace_environment()}


def registry_of(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings.paths.registry, settings.model_name)


def kill_when(
    command: list[str], condition: Callable[[], bool], log: Path, timeout_s: float = 240.0
) -> float:
    """Start `command` in its own process group, SIGKILL the whole group as soon as
    `condition()` holds, and return the seconds it ran. Fails if it ends before that."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=CLI_ENV
        )
    started = time.monotonic()
    try:
        while not condition():
            if process.poll() is not None:
                pytest.fail(f"ended ({process.returncode}) before the kill point:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")  # fmt: skip
            if time.monotonic() - started > timeout_s:
                pytest.fail(f"kill point not reached in {timeout_s:.0f}s")
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        return time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def published(registry: ModelRegistry) -> list[Path]:
    """Every directory under `versions/` that is not a staging directory."""
    if not registry.versions_dir.exists():
        return []
    return sorted(p for p in registry.versions_dir.iterdir() if not p.name.startswith("."))


def assert_consistent(registry: ModelRegistry) -> None:
    """No version without its complete files; production names an existing, complete version."""
    for path in published(registry):
        assert (path / CARD_FILE).is_file() and (path / MODEL_FILE).is_file(), path
        card = registry.get(path.name).card  # raises if the card is unreadable
        assert card["version"] == path.name
        assert all((path / name).is_file() for name in card["files"]), card["files"]
        registry.get(path.name).load()  # the model file is whole
    assert {m.version for m in registry.versions()} == {p.name for p in published(registry)}
    if registry.production_file.exists():
        production = registry.production()  # raises if it names a missing version
        assert production is not None and production.path in published(registry)


@pytest.mark.slow
def test_pipeline_killed_mid_run_leaves_no_half_registered_model_and_reruns_cleanly(
    new_workspace: Callable[..., Settings], tmp_path: Path
) -> None:
    """`fraud-detection train` killed (SIGKILL, whole process group) once the train step has
    started, then again the moment its version appears in the registry: after each kill the
    registry is consistent, and a third run completes with exactly one complete version that
    production points to, packaged as a Bento of the same version."""
    settings = new_workspace()
    prepare_data(settings)
    prepare_features(settings, progress=lambda _: None)
    registry = registry_of(settings)
    train = [str(CLI), "--workspace", str(settings.paths.root), "train"]

    ran = kill_when(
        train, lambda: any(settings.paths.pipeline_root.glob("*/train-model")), tmp_path / "1.log"
    )
    print(f"run 1 killed {ran:.1f}s in, once train-model started")
    assert published(registry) == [] and registry.production() is None
    assert_consistent(registry)

    ran = kill_when(train, lambda: bool(published(registry)), tmp_path / "2.log")
    print(f"run 2 killed {ran:.1f}s in, as its version appeared; production: "
          f"{registry.production_file.exists()}")  # fmt: skip
    assert len(published(registry)) == 1
    assert_consistent(registry)

    started = time.monotonic()
    run = local_run.run(settings, report=lambda _: None)
    print(f"run 3 completed in {time.monotonic() - started:.1f}s")

    assert run.decision["passed"], run.decision["reasons"]
    assert not run.reused  # the killed runs left no stamp to reuse
    assert_consistent(registry)
    (version,) = registry.versions()
    production = registry.production()
    assert production is not None and production.version == version.version
    assert run.registered_version() == version.version
    bentos = settings.paths.bentoml_home / "bentos" / "fraud-detector"
    assert {p.parent.name for p in bentos.glob("*/bento.yaml")} == {version.version}


REGISTER_UNTIL_RENAME = """
import sys, time
from pathlib import Path

from fraud_detection.registry import ModelRegistry

root, model_file, reference, reached = map(Path, sys.argv[1:5])


def rename(self: Path, target: Path) -> None:
    reached.write_text(str(self))
    time.sleep(600)


Path.rename = rename
ModelRegistry(root, "fraud-detector").register(
    model_file, {"threshold": 0.5}, {"reference.parquet": reference}
)
"""


def test_registration_killed_before_publishing_leaves_no_version(tmp_path: Path) -> None:
    """A registration killed at its last instant (every file and the card staged, the rename
    not done) leaves no version and no production pointer: the staged directory is not listed.
    Registering again publishes exactly one complete version."""
    model_file, reference = tmp_path / "model.joblib", tmp_path / "reference.parquet"
    model_file.write_bytes(b"model bytes")
    reference.write_bytes(b"reference bytes")
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    reached = tmp_path / "reached"
    command = [sys.executable, "-c", REGISTER_UNTIL_RENAME, str(registry.root), str(model_file),
               str(reference), str(reached)]  # fmt: skip

    kill_when(command, reached.exists, tmp_path / "register.log", timeout_s=60)

    staged = Path(reached.read_text())
    assert staged.parent == registry.versions_dir and (staged / CARD_FILE).is_file()
    assert registry.versions() == [] and registry.production() is None
    assert published(registry) == []

    registered = registry.register(model_file, {"threshold": 0.5}, {"reference.parquet": reference})
    assert [m.version for m in registry.versions()] == [registered.version]
    assert sorted(registered.card["files"]) == sorted(p.name for p in registered.path.iterdir())
