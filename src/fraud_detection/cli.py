"""Command line: `fraud-detection {generate,features,train,compile,submit,serve,canary,...}`.

Domain errors print a message and exit with status 2; a canary that rolls back exits 3;
stopped by Ctrl-C (SIGINT) or SIGTERM, a command stops the servers it started and exits with
130 or 143; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraud_detection import third_party_warnings
from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.errors import FraudDetectionError
from fraud_detection.identity import Identity
from fraud_detection.jobs.events import (
    CanaryOutcome,
    Event,
    MonitorVerdict,
    Notice,
    Retraining,
    ServingLatency,
    Stage,
    StageDone,
    TrainingRun,
)
from fraud_detection.process_exit import exit_with
from fraud_detection.summary import print_summary

# soft_wrap: rich never breaks a line of ours (the terminal may fold it visually), so a path
# in a message always reaches the user, and a copy of it, whole. Tables still fit the width.
console = Console(highlight=False, soft_wrap=True)


def run() -> NoReturn:
    """The console script: `main`, leaving with its status (see `process_exit`)."""
    exit_with(main())


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    third_party_warnings.quiet()
    with _exit_on_sigterm(), _plain_stdout():
        try:
            settings = Settings(workspace=args.workspace) if args.workspace else Settings()
            handler: Callable[[Settings, argparse.Namespace], int] = args.handler
            return handler(settings, args)
        except FraudDetectionError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            return exc.exit_code
        except KeyboardInterrupt:  # the servers' context managers have stopped them by now
            return 128 + signal.SIGINT


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143), as Ctrl-C already is KeyboardInterrupt.

    SIGTERM's default action ends the interpreter without unwinding, so the `finally` blocks
    that stop the scoring servers (`local_server.serve`) would not run and the servers, in
    their own sessions, would keep running. A SIGTERM the caller chose to ignore stays ignored.
    """
    installable = threading.current_thread() is threading.main_thread()
    if not installable or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _import_feast() -> None:
    """Import Feast (the caller is about to) and put our warning filters back in front."""
    import fraud_detection.features.store  # noqa: F401  (Feast's import sets its filter)

    third_party_warnings.quiet()


# CSI sequences: colours, cursor movement, erasing.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


class _StripAnsi:
    """A text stream that drops ANSI escape sequences on their way to `stream` (and passes
    anything else, such as `.buffer`, through)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.encoding = stream.encoding  # rich picks its characters by the encoding

    def write(self, text: str) -> int:
        self._stream.write(_ANSI_ESCAPE.sub("", text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _plain_stdout() -> Iterator[None]:
    """When our output has no colour (not a terminal), strip the colour codes that libraries
    print unconditionally: Feast's materialize writes colorama codes to stdout either way."""
    if console.color_system is not None:
        yield
        return
    with redirect_stdout(_StripAnsi(sys.stdout)):
        yield


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=Identity().project_slug, description=__doc__)
    parser.add_argument("--workspace", type=Path, help="project root (default: current dir)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="generate synthetic transactions")
    generate.add_argument("--drift", default="", help="e.g. amount_scale=2,night_share=0.3")
    generate.add_argument("--force", action="store_true", help="regenerate even if unchanged")
    generate.set_defaults(handler=_generate)

    features = commands.add_parser("features", help="build feature tables, apply, materialize")
    features.set_defaults(handler=_features)

    card_events = commands.add_parser(
        "card-events",
        help="record the history's last 30 days in the card events beside an online store",
    )
    card_events.add_argument(
        "--feature-store-yaml", type=Path, required=True,
        help="the Feast config whose online store holds them (e.g. the cluster profile's)",
    )  # fmt: skip
    card_events.set_defaults(handler=_card_events)

    train = commands.add_parser("train", help="run the training pipeline locally (kfp.local)")
    train.add_argument("--force", action="store_true", help="run even if nothing changed")
    train.set_defaults(handler=_train)

    backtest = commands.add_parser(
        "backtest",
        help="replay split, fit and holdout at past cutoffs: PR-AUC and recall, mean ± SD",
    )
    backtest.add_argument("--windows", type=int, default=3, help="cutoffs to replay (>= 2)")
    backtest.add_argument(
        "--holdout-days", type=int, default=5,
        help="each window's holdout (5: three disjoint ones fit the default 90-day history)",
    )  # fmt: skip
    backtest.add_argument("--step-days", type=float, help="between cutoffs (default: holdout)")
    backtest.set_defaults(handler=_backtest)

    compile_ = commands.add_parser("compile", help="compile the pipeline to YAML")
    compile_.add_argument("--out", type=Path, help="default: pipelines/compiled/...yaml")
    compile_.add_argument(
        "--check", action="store_true", help="fail if the compiled file differs from the code"
    )
    compile_.set_defaults(handler=_compile)

    serve = commands.add_parser("serve", help="serve the production model with BentoML")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(handler=_serve)

    # On the cluster the canary runs inside it, as the chart's rollout Job: `make promote`.
    canary = commands.add_parser(
        "canary",
        help="canary a registered candidate against production on local servers, then promote "
        "or roll back (on the cluster: make promote)",
    )
    canary.add_argument("--version", help="candidate version (default: newest non-production)")
    canary.set_defaults(handler=_canary)

    monitor = commands.add_parser(
        "monitor", help="check the prediction log for drift and quality loss (exit 10/11/12)"
    )
    monitor.add_argument(
        "--window-hours", type=float, help="default: settings monitor.window_hours"
    )
    monitor.add_argument(
        "--retrain",
        metavar="DRIFT",
        nargs="?",
        const="",
        help="on a failing verdict, retrain (embedded) and canary the result",
    )
    monitor.set_defaults(handler=_monitor)

    submit = commands.add_parser(
        "submit", help="upload the compiled pipeline to a KFP API server, run it and wait"
    )
    submit.add_argument("--host", required=True, help="KFP API, e.g. http://localhost:8888")
    submit.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a pipeline argument"
    )
    submit.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the run")
    submit.set_defaults(handler=_submit)

    production = commands.add_parser(
        "production", help="print the production model version (exit 2 when there is none)"
    )
    production.set_defaults(handler=_production)

    demo = commands.add_parser("demo", help="data → features → pipeline → summary")
    demo.add_argument("--force", action="store_true", help="redo every stage")
    demo.set_defaults(handler=_demo)
    return parser


# Each command imports its job when it runs: kfp, Feast, BentoML and Evidently are slow to
# import, and some of them warn when imported (`third_party_warnings` hides those).


def _generate(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.prepare import prepare_data

    result = prepare_data(settings, DriftSpec.parse(args.drift), force=args.force)
    _show(StageDone(result.name, result.skipped, result.details))
    return 0


def _features(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.prepare import prepare_features

    _import_feast()
    result = prepare_features(settings, progress=_show)
    _show(StageDone(result.name, result.skipped, result.details))
    return 0


def _card_events(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.prepare import backfill_card_events

    _import_feast()
    result = backfill_card_events(settings, args.feature_store_yaml)
    _show(StageDone(result.name, result.skipped, result.details))
    return 0


def _train(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.train import train

    _show(train(settings, force=args.force, report=_show))
    return 0


def _backtest(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.backtest import from_workspace

    _import_feast()
    done = from_workspace(settings, args.windows, args.step_days, args.holdout_days, _show)
    table = Table("cutoff", "train rows", "holdout rows", "frauds", "PR-AUC", "recall@FPR")
    for w in done.windows:
        row = (f"{w.train_rows:,}", f"{w.holdout_rows:,}", str(w.holdout_frauds))
        table.add_row(w.cutoff[:16], *row, f"{w.pr_auc:.3f}", f"{w.recall_at_fpr:.3f}")
    console.print(table)
    for metric, s in done.as_dict()["summary"].items():
        console.print(
            f"{metric}: {s['mean']:.3f} ± {s['sd']:.3f} (SD over {len(done.windows)} windows; "
            f"95 % t interval of the mean {s['low']:.3f} to {s['high']:.3f})"
        )
    return 0


def _compile(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.train import check_compiled, compile_to

    if args.check:
        _print_path("up to date:", check_compiled(settings, args.out))
    else:
        _print_path("compiled the training pipeline:", compile_to(settings, args.out))
    return 0


def _submit(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.train import submit

    run = submit(settings, args.host, args.param, args.timeout, report=_show)
    console.print(f"run {run.run_id} ({run.pipeline_version}): {run.state}")
    return 0


def _production(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.registry import ModelRegistry

    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    current = registry.require_production(hint="run the training pipeline first")
    console.print(f"production={current.version}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.serve import serve

    return serve(settings, args.port, report=_show)


def _canary(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.canary import canary

    outcome = canary(settings, args.version, report=_show)
    _show(outcome)
    return 0 if outcome.promoted else 3


def _monitor(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.monitor import monitor
    from fraud_detection.jobs.retrain import Embedded

    if args.window_hours:
        window = settings.monitor.model_copy(update={"window_hours": args.window_hours})
        settings = settings.model_copy(update={"monitor": window})
    retraining = None
    if args.retrain is not None:
        retraining = Embedded(DriftSpec.parse(args.retrain))
        _import_feast()  # retraining rebuilds the features
    return monitor(settings, retraining=retraining, report=_show).result.verdict.exit_code


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.jobs.demo import run_demo

    _import_feast()
    run_demo(settings, force=args.force, report=_show)
    return 0


# --- presenting what the jobs report ----------------------------------------------------------


def _show(event: Event) -> None:
    """Print one event of a job (`fraud_detection.jobs.events`) as the console shows it."""
    if isinstance(event, str):
        console.print(f"  [dim]·[/] {event}")
    elif isinstance(event, Stage):
        console.rule(f"[bold]{event.title}")
    elif isinstance(event, StageDone):
        _print_stage(event)
    elif isinstance(event, Notice):
        console.print(escape(event.text))
    elif isinstance(event, TrainingRun):
        print_summary(console, event)
    elif isinstance(event, ServingLatency):
        _print_latency(event)
    elif isinstance(event, CanaryOutcome):
        _print_verdict(event)
    elif isinstance(event, MonitorVerdict):
        _print_monitor(event)
    elif isinstance(event, Retraining):
        _print_retraining(event)


def _print_stage(stage: StageDone) -> None:
    """One line for the stage, then one line for each path among its details."""
    state = "[yellow]unchanged, skipped[/]" if stage.skipped else "[green]done[/]"
    took = f" in {stage.seconds:.1f}s" if stage.seconds is not None else ""
    paths = {k: v for k, v in stage.details.items() if _is_path(v)}
    extra = ", ".join(f"{k}={v}" for k, v in stage.details.items() if k not in paths)
    console.print(
        f"[bold]{stage.name}[/]: {state}{took}" + (f" ({escape(extra)})" if extra else "")
    )
    for key, path in paths.items():
        _print_path(f"  {key}:", path)


def _print_latency(latency: ServingLatency) -> None:
    table = Table(title="Scoring latency over HTTP (sequential requests)", title_justify="left")
    table.add_column("traffic")
    for column in ("requests", "rows", "errors", "p50 ms", "p95 ms", "p99 ms", "rows/s"):
        table.add_column(column, justify="right")
    for name, result in (
        ("1 row per request", latency.single), ("100 rows per request", latency.batched)
    ):  # fmt: skip
        s = result.summary()
        table.add_row(
            name,
            *[str(s[k]) for k in ("requests", "rows", "errors", "p50_ms", "p95_ms", "p99_ms")],
            str(s["rows_per_second"]),
        )
    console.print(table)


def _print_verdict(outcome: CanaryOutcome) -> None:
    title = f"Canary: candidate {outcome.candidate_version} vs stable {outcome.stable_version}"
    table = Table(title=title, title_justify="left")
    for column in ("check", "ok", "evidence"):
        table.add_column(column)
    for check in outcome.checks:
        table.add_row(check["name"], "yes" if check["ok"] else "[red]no[/]", check["detail"])
    console.print(table)
    if outcome.promoted:
        console.print(f"[bold green]Promoted[/] {outcome.candidate_version} to production.")
    else:
        console.print(
            f"[bold red]Rolled back[/]: {outcome.stable_version} keeps all traffic "
            f"({'; '.join(outcome.reasons)})."
        )
    _print_path("Evidence:", outcome.record)


def _print_monitor(event: MonitorVerdict) -> None:
    result = event.result
    verdict = result.verdict
    colour = {"ok": "green", "insufficient_data": "yellow"}.get(verdict.status, "red")
    console.print(
        f"monitor: [bold {colour}]{verdict.status}[/] — {verdict.rows} scored rows of model "
        f"{result.model_version}, {verdict.skipped_records} corrupt records skipped"
    )
    for reason in verdict.reasons:
        _show(reason)
    for name in ("drift", "quality"):
        summary = getattr(result, name)
        if summary and summary.get("html"):
            _print_path(f"  [dim]·[/] {name} report:", summary["html"])
    _print_path("  [dim]·[/] verdict:", result.out_dir / "verdict.json")


def _print_retraining(retraining: Retraining) -> None:
    fired, outcome = retraining.trigger, retraining.outcome
    if fired.status != "started":
        console.print(escape(f"retraining not started: {fired.status} ({fired.detail})"))
    elif outcome is not None and outcome.canary is not None:
        _print_verdict(outcome.canary)
    elif outcome is not None and not outcome.gate:
        console.print("[bold red]retrained model refused by the gate[/]: production unchanged")


def _print_path(label: str, path: str | Path) -> None:
    """`label` (markup) and then `path`, whole and verbatim, on one line of its own."""
    console.print(f"{label} {escape(str(path))}", soft_wrap=True)


def _is_path(value: object) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and Path(value).is_absolute())


if __name__ == "__main__":
    run()
