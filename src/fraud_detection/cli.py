"""Command line for the embedded loop: `fraud-detection {generate,features,train,compile,demo}`.

Domain errors print a message and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from fraud_detection.config import Settings
from fraud_detection.errors import FraudDetectionError

console = Console(highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings(workspace=args.workspace) if args.workspace else Settings()
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except FraudDetectionError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return exc.exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fraud-detection", description=__doc__)
    parser.add_argument("--workspace", type=Path, help="project root (default: current dir)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="generate synthetic transactions")
    generate.add_argument("--drift", default="", help="e.g. amount_scale=2,night_share=0.3")
    generate.add_argument("--force", action="store_true", help="regenerate even if unchanged")
    generate.set_defaults(handler=_generate)

    features = commands.add_parser("features", help="build feature tables, apply, materialize")
    features.set_defaults(handler=_features)

    train = commands.add_parser("train", help="run the training pipeline locally (kfp.local)")
    train.add_argument("--force", action="store_true", help="run even if nothing changed")
    train.set_defaults(handler=_train)

    compile_ = commands.add_parser("compile", help="compile the pipeline to YAML")
    compile_.add_argument("--out", type=Path, help="default: pipelines/compiled/...yaml")
    compile_.add_argument(
        "--check", action="store_true", help="fail if the compiled file differs from the code"
    )
    compile_.set_defaults(handler=_compile)

    demo = commands.add_parser("demo", help="data → features → pipeline → summary")
    demo.add_argument("--force", action="store_true", help="redo every stage")
    demo.set_defaults(handler=_demo)
    return parser


def _generate(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.data.generate import DriftSpec
    from fraud_detection.loop import prepare_data

    result = prepare_data(settings, DriftSpec.parse(args.drift), force=args.force)
    _report(result.name, result.skipped, result.details)
    return 0


def _features(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.loop import prepare_features

    result = prepare_features(settings, progress=_progress)
    _report(result.name, result.skipped, result.details)
    return 0


def _train(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.summary import print_summary
    from pipelines import run_local

    run = run_local.run(settings, force=args.force, report=_progress)
    print_summary(console, settings, run)
    return 0


def _compile(settings: Settings, args: argparse.Namespace) -> int:
    import tempfile

    from pipelines.training_pipeline import compile_pipeline

    target: Path = args.out or settings.paths.compiled_pipeline
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = compile_pipeline(Path(tmp) / target.name).read_text()
        if not target.exists() or target.read_text() != fresh:
            raise FraudDetectionError(f"{target} is stale: run `make pipeline` and commit it")
        console.print(f"{target} is up to date")
        return 0
    out = compile_pipeline(target)
    console.print(f"compiled the training pipeline to {out}")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.loop import prepare_data, prepare_features
    from fraud_detection.summary import print_summary
    from pipelines import run_local

    stages: list[tuple[str, Callable[[], Any]]] = [
        ("1/3 data", lambda: prepare_data(settings, force=args.force)),
        ("2/3 features", lambda: prepare_features(settings, progress=_progress)),
    ]
    for title, stage in stages:
        console.rule(f"[bold]{title}")
        started = time.perf_counter()
        result = stage()
        _report(title, result.skipped, result.details, time.perf_counter() - started)
    title = "3/3 training pipeline (kfp.local)"
    console.rule(f"[bold]{title}")
    started = time.perf_counter()
    run = run_local.run(settings, force=args.force, report=_progress)
    _report(title, run.reused, {"log": str(run.log_file)}, time.perf_counter() - started)
    print_summary(console, settings, run)
    return 0


def _progress(message: str) -> None:
    console.print(f"  [dim]·[/] {message}")


def _report(
    name: str, skipped: bool, details: dict[str, Any], seconds: float | None = None
) -> None:
    state = "[yellow]unchanged, skipped[/]" if skipped else "[green]done[/]"
    took = f" in {seconds:.1f}s" if seconds is not None else ""
    extra = ", ".join(f"{k}={v}" for k, v in details.items())
    console.print(f"[bold]{name}[/]: {state}{took}" + (f" ({extra})" if extra else ""))


if __name__ == "__main__":
    sys.exit(main())
