"""A module imported meanwhile is there once the thread is joined; one that fails to import
fails again, with its own error, where the caller imports it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraud_detection.background_import import import_meanwhile


@pytest.fixture
def modules_dir(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("slow_to_import", "broken_on_import"):
        sys.modules.pop(name, None)


def test_the_module_is_imported_by_the_time_the_thread_is_joined(modules_dir: Path) -> None:
    (modules_dir / "slow_to_import.py").write_text("import time\ntime.sleep(0.2)\nVALUE = 42\n")
    thread = import_meanwhile(["slow_to_import"])
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert sys.modules["slow_to_import"].VALUE == 42


def test_a_failed_import_is_raised_where_the_module_is_used(modules_dir: Path) -> None:
    (modules_dir / "broken_on_import.py").write_text("raise ValueError('needs a setting')\n")
    import_meanwhile(["broken_on_import"]).join(timeout=10)
    assert "broken_on_import" not in sys.modules
    with pytest.raises(ValueError, match="needs a setting"):
        importlib.import_module("broken_on_import")
