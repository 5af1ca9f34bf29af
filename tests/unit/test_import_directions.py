"""Imports point one way: adapters → jobs → stages → core (docs/architecture.md, "Packages and
their imports"). Read from the source with `ast`, every import counted, function-local and
type-checking-only ones included."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "fraud_detection": REPO_ROOT / "src" / "fraud_detection",
    "serving": REPO_ROOT / "serving",  # the Bento service
    "monitoring": REPO_ROOT / "monitoring",  # the CronJob's entry point
}
# Lowest first: a module may import its own layer and those below it, never one above.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "fraud_detection", "fraud_detection.config", "fraud_detection.identity",
        "fraud_detection.errors", "fraud_detection.fingerprint",
        "fraud_detection.third_party_warnings", "fraud_detection.background_import",
        "fraud_detection.data", "fraud_detection.features", "fraud_detection.training",
        "fraud_detection.registry",
    ),
    "stages": (
        "fraud_detection.pipeline", "fraud_detection.serving", "fraud_detection.rollout",
        "fraud_detection.monitoring", "fraud_detection.retraining", "fraud_detection.loadtest",
        "fraud_detection.kfp_submit",
    ),
    "jobs": ("fraud_detection.jobs",),
    "adapters": (
        "fraud_detection.cli", "fraud_detection.summary", "fraud_detection.__main__", "serving",
        "monitoring",
    ),
}  # fmt: skip
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    for package, root in SOURCES.items():
        if path.is_relative_to(root):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise AssertionError(path)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for root in SOURCES.values()
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def layer_of(name: str) -> str | None:
    """The layer of a module: the one whose longest prefix names it."""
    matches = [
        (len(prefix), layer)
        for layer, prefixes in LAYERS.items()
        for prefix in prefixes
        if name == prefix or name.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def imports_of(name: str) -> set[str]:
    """Every module `name` imports; `from package import submodule` names the submodule."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return parse_imports(path.read_text(), package)


def parse_imports(source: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` packages up
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules() else base)
    return found


def upward(name: str, imports: set[str]) -> list[tuple[str, str]]:
    """The imports of `name` from a higher layer than its own, with that layer."""
    rank = RANK[str(layer_of(name))]
    return sorted(
        (imported, str(layer_of(imported)))
        for imported in own(imports)
        if layer_of(imported) is not None and RANK[str(layer_of(imported))] > rank
    )


def own(imports: set[str]) -> set[str]:
    """The imports of the project's own modules (and of the old `pipelines` package)."""
    tops = {*SOURCES, "pipelines"}
    return {name for name in imports if name.split(".")[0] in tops}


def test_every_module_has_a_layer() -> None:
    assert [name for name in modules() if layer_of(name) is None] == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_point_down(name: str) -> None:
    """Core never imports a stage, a job or an adapter; stages never import jobs or adapters;
    jobs never import adapters (the CLI among them)."""
    assert upward(name, imports_of(name)) == [], f"{name} ({layer_of(name)}) imports upwards"


def test_nothing_imports_the_old_pipelines_package() -> None:
    sources = {**modules(), **{f"bench/{p.name}": p for p in (REPO_ROOT / "bench").glob("*.py")}}
    offenders = []
    for name, path in sources.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )  # fmt: skip
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] == "pipelines"]
    assert offenders == []


def test_only_the_entry_point_imports_the_cli() -> None:
    importers = sorted(n for n in modules() if "fraud_detection.cli" in imports_of(n))
    assert importers == ["fraud_detection.__main__"]


def test_the_cli_and_the_cronjob_run_the_same_monitoring_job() -> None:
    for adapter in ("fraud_detection.cli", "monitoring.__main__"):
        assert "fraud_detection.jobs.monitor" in imports_of(adapter), adapter


def test_the_checks_see_an_upward_import() -> None:
    """What the checks must refuse, however it is imported: inside a function, relative, or a
    submodule named by `from package import ...`."""
    source = """
from fraud_detection import cli
from ..jobs import demo

def f():
    import fraud_detection.serving.local_server
"""
    imports = parse_imports(source, "fraud_detection.registry")
    assert upward("fraud_detection.registry.local", imports) == [
        ("fraud_detection.cli", "adapters"),
        ("fraud_detection.jobs.demo", "jobs"),
        ("fraud_detection.serving.local_server", "stages"),
    ]
    assert upward("fraud_detection.jobs.demo", imports) == [("fraud_detection.cli", "adapters")]
