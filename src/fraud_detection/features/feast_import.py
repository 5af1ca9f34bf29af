"""Import Feast in a process that only reads the applied registry, without typeguard's
instrumentation of Feast's definition classes.

Feast decorates its definition classes (Entity, FeatureView, Field, the data sources) with
typeguard's `@typechecked`, which recompiles each decorated class's methods from their source
when Feast is imported: about 4 of the 6 s that `import feast` takes on a 2-core machine
(bench/README.md, "Server start-up"; agronholm/typeguard#468). Those checks guard the
arguments a person passes when defining features, and `feast apply` (the CLI, or
`features.store.apply` in `make features`) keeps them. A serving worker or the training-set
step builds the same objects from the registry's protobufs, which were checked when they were
applied: there the checks cost every start and catch nothing.

Hand-written because neither Feast nor typeguard offers a switch for it short of `python -O`,
which would also drop every `assert` of every library in the process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def import_for_reading() -> None:
    """Import Feast's read path uninstrumented, unless Feast is imported already (a process that
    applied definitions keeps its checked classes); typeguard is restored afterwards for anything
    else that uses it."""
    if "feast" in sys.modules:
        return
    import typeguard

    checked = typeguard.typechecked
    typeguard.typechecked = _unchecked  # Feast's modules bind it as they are imported
    try:
        # Every `@typechecked` class the read path uses is imported with the package
        # (tests/integration/test_feature_store.py holds it).
        import feast  # noqa: F401
    finally:
        typeguard.typechecked = checked


def _unchecked(target: Any = None, **options: Any) -> Any:
    """`typechecked` that returns what it decorates: used bare (`@typechecked`) or with
    options (`@typechecked(...)`)."""
    if target is None:
        return _identity
    return target


def _identity(target: Callable[..., Any]) -> Callable[..., Any]:
    return target
