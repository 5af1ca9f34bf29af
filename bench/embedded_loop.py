"""Time the embedded loop (data → features → KFP pipeline) at two dataset sizes.

What is measured, per size, each in a fresh workspace in a temporary directory (a copy of
`feature_repo/` plus settings pointing there):

* first run, forced where the stage allows it:
  - generate: `prepare_data` (synthetic transactions and customers written as Parquet);
  - features: `prepare_features` (feature tables, `feast apply`, materialize online);
  - pipeline: `fraud_detection.pipeline.local_run.run(force=True)` (the whole KFP pipeline via
    `kfp.local`);
  - total: wall time of the three;
* re-run: the same three calls again, not forced, on the unchanged workspace. Data generation
  and the feature tables are skipped and the pipeline's previous decision is reused; what is
  left is the fixed cost of checking fingerprints plus `feast apply` and materialization, which
  `prepare_features` always does.

Imports of Feast and kfp are done once before any timing ("imports" in the output), so the
first size measured does not pay for them.

How to read the ratios:

* `default/small` divides each stage's seconds at the default size by the small size's (the
  baseline). The default size has 6× the customer-days of the small one (2,000 × 60 against
  500 × 40), so a stage whose ratio is near 6 scales with the data, and one near 1 is dominated
  by fixed costs (process start-up, imports, Feast registry writes, kfp.local bookkeeping).
* `re-run/first` divides the re-run's seconds by the first run's for the same size: near 0 means
  the skip logic works; the re-run seconds are what an unchanged `make demo` costs.

Run: `.venv/bin/python bench/embedded_loop.py [--sizes small,default] [--out artifacts/bench]`
(or `make bench`). Figures are printed as tables and written to `<out>/embedded_loop.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from fraud_detection.config import DataSettings, Settings
from fraud_detection.errors import FraudDetectionError
from fraud_detection.jobs.prepare import prepare_data, prepare_features

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "artifacts" / "bench"
BASELINE = "small"
SIZES: dict[str, dict[str, int]] = {
    "small": {"n_customers": 500, "days": 40},
    "default": {"n_customers": DataSettings().n_customers, "days": DataSettings().days},
}
STAGES = ("generate", "features", "pipeline", "total")

# Bound to the real stdout now: local_run redirects sys.stdout into its log file while the
# pipeline runs, and a console that looks sys.stdout up at print time would write there.
console = Console(file=sys.stdout, highlight=False)

T = TypeVar("T")


@dataclass
class SizeResult:
    """Figures for one dataset size."""

    name: str
    n_customers: int
    days: int
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    rerun_seconds: dict[str, float] = field(default_factory=dict)
    rerun_skipped: dict[str, bool] = field(default_factory=dict)
    gate_passed: bool | None = None

    def rows_per_second(self) -> dict[str, float]:
        return {stage: self.rows / self.seconds[stage] for stage in ("generate", "features")}


# --- timing -----------------------------------------------------------------------------------


def progress(size: str) -> Callable[[str], None]:
    """A progress callback for the loop's own messages (feast apply, pipeline steps)."""
    return lambda message: console.print(f"  [dim]{size}: · {message}[/]")


def timed(size: str, stage: str, action: Callable[[], T]) -> tuple[T, float]:
    """Run `action`, printing a line when it starts and when it ends; return (result, s)."""
    console.print(f"[bold]{size}[/]: {stage} …")
    started = time.perf_counter()
    try:
        result = action()
    except BaseException:
        took = time.perf_counter() - started
        console.print(f"[bold]{size}[/]: {stage} [red]failed[/] after {took:.1f}s")
        raise
    took = time.perf_counter() - started
    console.print(f"[bold]{size}[/]: {stage} [green]done[/] in {took:.1f}s")
    return result, took


def warm_imports() -> float:
    """Import Feast and kfp once, so neither size's first stage pays for them."""
    console.print("imports (feast, kfp) …")
    started = time.perf_counter()
    # Feast (slow, imported lazily by jobs.prepare) and kfp.
    import fraud_detection.features.store
    import fraud_detection.pipeline.local_run  # noqa: F401

    took = time.perf_counter() - started
    console.print(f"imports [green]done[/] in {took:.1f}s")
    return took


# --- one size ---------------------------------------------------------------------------------


@contextmanager
def fresh_workspace(size: str) -> Iterator[Settings]:
    """A temporary workspace holding a copy of the feature repo, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-embedded-{size}-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO_ROOT / "feature_repo", root / "feature_repo")
        # A fixed end day (as the integration tests use) keeps the data's fingerprint the same
        # for the re-run even if it starts after midnight UTC.
        end = datetime.now(UTC).date() + timedelta(days=1)
        yield Settings(workspace=root, data=DataSettings(**SIZES[size], end=end))


def row_count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def first_run(size: str, settings: Settings, result: SizeResult) -> None:
    from fraud_detection.pipeline import local_run

    report = progress(size)
    started = time.perf_counter()
    _, result.seconds["generate"] = timed(size, "generate", lambda: prepare_data(settings))
    result.rows = row_count(settings.paths.transactions)
    console.print(f"  [dim]{size}: · {result.rows:,} transactions[/]")
    _, result.seconds["features"] = timed(
        size, "features", lambda: prepare_features(settings, progress=report)
    )
    run, result.seconds["pipeline"] = timed(
        size, "pipeline", lambda: local_run.run(settings, force=True, report=report)
    )
    result.seconds["total"] = time.perf_counter() - started
    result.gate_passed = bool(run.decision.get("passed"))


def rerun(size: str, settings: Settings, result: SizeResult) -> None:
    from fraud_detection.pipeline import local_run

    report = progress(size)
    seconds, skipped = result.rerun_seconds, result.rerun_skipped
    started = time.perf_counter()
    data, seconds["generate"] = timed(size, "re-run generate", lambda: prepare_data(settings))
    features, seconds["features"] = timed(
        size, "re-run features", lambda: prepare_features(settings, progress=report)
    )
    run, seconds["pipeline"] = timed(
        size, "re-run pipeline", lambda: local_run.run(settings, report=report)
    )
    seconds["total"] = time.perf_counter() - started
    skipped.update(generate=data.skipped, features=features.skipped, pipeline=run.reused)
    if not all(skipped.values()):
        redone = ", ".join(stage for stage, was in skipped.items() if not was)
        console.print(f"[yellow]{size}: the re-run redid {redone} on an unchanged workspace[/]")


def measure(size: str) -> SizeResult:
    spec = SIZES[size]
    result = SizeResult(size, spec["n_customers"], spec["days"])
    console.rule(f"[bold]{size}: {result.n_customers:,} customers × {result.days} days")
    with fresh_workspace(size) as settings:
        first_run(size, settings, result)
        rerun(size, settings, result)
    return result


# --- reporting --------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator > 0 else "–"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def stage_table(results: Sequence[SizeResult]) -> Table:
    """Seconds per stage for each size side by side, plus each size against the baseline."""
    base = next((r for r in results if r.name == BASELINE), None)
    others = [r for r in results if base is not None and r is not base]

    def row(label: str, values: list[float], fmt: str) -> None:
        by_name = dict(zip([r.name for r in results], values, strict=True))
        ratios = [ratio(by_name[r.name], by_name[BASELINE]) for r in others]
        table.add_row(label, *[format(v, fmt) for v in values], *ratios)

    table = Table(title="First run: seconds per stage")
    table.add_column("stage")
    for r in results:
        table.add_column(f"{r.name} ({r.n_customers:,}×{r.days}d)", justify="right")
    for r in others:
        table.add_column(f"{r.name}/{BASELINE}", justify="right")
    for stage in STAGES:
        row(stage, [r.seconds[stage] for r in results], ".1f")
    table.add_section()
    row("rows", [r.rows for r in results], ",")
    for stage in ("generate", "features"):
        row(f"{stage} rows/s", [r.rows_per_second()[stage] for r in results], ",.0f")
    return table


def rerun_table(results: Sequence[SizeResult]) -> Table:
    """The unchanged re-run against the first run, per size and stage."""
    table = Table(title="Re-run on the unchanged workspace")
    for name in ("size", "stage", "first run s", "re-run s", "re-run/first", "skipped"):
        table.add_column(name, justify="left" if name in ("size", "stage") else "right")
    for r in results:
        for stage in STAGES:
            skipped = r.rerun_skipped.get(stage)
            table.add_row(
                r.name,
                stage,
                f"{r.seconds[stage]:.1f}",
                f"{r.rerun_seconds[stage]:.1f}",
                ratio(r.rerun_seconds[stage], r.seconds[stage]),
                "" if skipped is None else ("yes" if skipped else "[yellow]no[/]"),
            )
        table.add_section()
    return table


def write_json(out_dir: Path, results: Sequence[SizeResult], imports_s: float) -> Path:
    base = next((r for r in results if r.name == BASELINE), None)
    figures = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **machine(),
        "baseline": BASELINE,
        "imports_seconds": round(imports_s, 3),
        "sizes": {
            r.name: {
                **asdict(r),
                "rows_per_second": r.rows_per_second(),
                "rerun_over_first": {s: r.rerun_seconds[s] / r.seconds[s] for s in STAGES},
            }
            for r in results
        },
        "ratios_vs_baseline": {
            r.name: {s: r.seconds[s] / base.seconds[s] for s in STAGES}
            for r in results
            if base is not None and r is not base
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "embedded_loop.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path


# --- entry point ------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SIZES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown size(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SIZES)}"
        )
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the embedded loop at two dataset sizes.")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(SIZES), help="comma-separated: small,default"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    cpus, python = info["cpu_count"], info["python"]
    console.print(f"[bold]machine:[/] {cpus} CPUs, {info['platform']}, Python {python}")
    try:
        imports_s = warm_imports()
        results = [measure(size) for size in args.sizes]
    except FraudDetectionError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return exc.exit_code
    console.print(stage_table(results))
    console.print(rerun_table(results))
    console.print(f"figures written to {write_json(args.out, results, imports_s)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
