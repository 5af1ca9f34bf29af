"""Importing a slow library on a spare core while the caller does other work.

Evidently takes 5-8 s to import on a 2-core machine (it builds hundreds of pydantic models).
The demo's process needs it for its monitoring stage, after waiting a minute on the pipeline's
step processes with a core to spare: imported in a thread meanwhile, that time comes off the
critical path. (Where the caller computes on both cores meanwhile, the thread gains nothing:
measured so in a pipeline step that scored its holdout before drawing a report.) Python's
per-module import locks make the thread and a later `import` of the same module in the caller
safe: the caller waits for the thread's import to finish, or imports again if it failed.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Sequence

# What the Evidently reports and checks import (`monitoring.reports`, `data.distribution`):
# the package builds all of its models when first imported.
EVIDENTLY = ("evidently", "evidently.presets")


def import_meanwhile(modules: Sequence[str]) -> threading.Thread:
    """Start importing `modules` in a daemon thread and return it (`join` it before the work
    that needs them, for timings that do not include the import). A failed import is left for
    the code that uses the module to raise."""

    def import_all() -> None:
        for name in modules:
            with contextlib.suppress(Exception):  # raised again where the module is used
                importlib.import_module(name)

    thread = threading.Thread(target=import_all, name=f"import-{modules[0]}", daemon=True)
    thread.start()
    return thread
