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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraud_detection import third_party_warnings
from fraud_detection.config import Settings
from fraud_detection.errors import FraudDetectionError, NoProductionModelError

if TYPE_CHECKING:
    from fraud_detection.monitoring.job import MonitorResult

# soft_wrap: rich never breaks a line of ours (the terminal may fold it visually), so a path
# in a message always reaches the user, and a copy of it, whole. Tables still fit the width.
console = Console(highlight=False, soft_wrap=True)


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


def _generate(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.data.generate import DriftSpec
    from fraud_detection.loop import prepare_data

    result = prepare_data(settings, DriftSpec.parse(args.drift), force=args.force)
    _report(result.name, result.skipped, result.details)
    return 0


def _features(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.loop import prepare_features

    _import_feast()
    result = prepare_features(settings, progress=_progress)
    _report(result.name, result.skipped, result.details)
    return 0


def _train(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.summary import print_summary
    from pipelines import run_local

    run = run_local.run(settings, force=args.force, report=_progress)
    print_summary(console, settings, run)
    return 0


def _submit(settings: Settings, args: argparse.Namespace) -> int:
    import kfp
    import yaml

    from fraud_detection.kfp_submit import PipelineRunError, upload_and_run
    from pipelines.training_pipeline import PIPELINE_NAME

    arguments: dict[str, Any] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise PipelineRunError(f"--param {item!r}: expected NAME=VALUE")
        # Typed as YAML reads it (7 → int, false → bool), as the KFP API checks parameter types.
        arguments[name] = yaml.safe_load(value) if value else value
    try:
        client = kfp.Client(host=args.host)
    except Exception as exc:  # connection and auth errors surface here as many types
        raise PipelineRunError(f"cannot reach the KFP API at {args.host}: {exc}") from exc
    run = upload_and_run(
        client, settings.paths.compiled_pipeline, PIPELINE_NAME, arguments, args.timeout,
        report=_progress,
    )  # fmt: skip
    console.print(f"run {run.run_id} ({run.pipeline_version}): {run.state}")
    return 0


def _production(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.registry.local import ModelRegistry

    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    current = registry.require_production(hint="run the training pipeline first")
    console.print(f"production={current.version}")
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
        _print_path("up to date:", target)
        return 0
    out = compile_pipeline(target)
    _print_path("compiled the training pipeline:", out)
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.loop import prepare_data, prepare_features
    from fraud_detection.summary import print_summary
    from pipelines import run_local

    _import_feast()
    stages: list[tuple[str, Callable[[], Any]]] = [
        ("1/6 data", lambda: prepare_data(settings, force=args.force)),
        ("2/6 features", lambda: prepare_features(settings, progress=_progress)),
    ]
    for title, stage in stages:
        console.rule(f"[bold]{title}")
        started = time.perf_counter()
        result = stage()
        _report(title, result.skipped, result.details, time.perf_counter() - started)
    title = "3/6 training pipeline (kfp.local): train, gate, register, package"
    console.rule(f"[bold]{title}")
    started = time.perf_counter()
    run = run_local.run(settings, force=args.force, report=_progress)
    _report(title, run.reused, {"log": str(run.log_file)}, time.perf_counter() - started)
    print_summary(console, settings, run)
    _demo_serving(settings)
    _demo_canary(settings, force=args.force)
    _demo_monitoring(settings)
    return 0


# How the world changes in the demo: larger amounts, farther from home, more at night.
DEMO_DRIFT = "amount_scale=2.5,distance_scale=3,night_share=0.3"


def _demo_monitoring(settings: Settings) -> None:
    from datetime import UTC, datetime

    from fraud_detection.data.generate import DriftSpec
    from fraud_detection.monitoring import traffic
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.serving import local_server
    from fraud_detection.serving.model_store import save_to_bentoml

    console.rule("[bold]6/6 monitoring: normal traffic, drifted traffic, retraining")
    paths = settings.paths
    try:
        production = ModelRegistry(paths.registry, settings.model_name).require_production(
            hint="nothing to monitor"
        )
    except NoProductionModelError as exc:  # a demo stage skips; the demo goes on
        console.print(escape(str(exc)))
        return
    run_dir = paths.root / "artifacts" / "demo" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    results = {}
    for phase, drift_text in (("normal", ""), ("drifted", DEMO_DRIFT)):
        log_dir, labels_dir = run_dir / phase / "prediction-log", run_dir / phase / "labels"
        with local_server.serve(
            project_root=paths.root, bentoml_home=paths.bentoml_home,
            model_tag=save_to_bentoml(production, paths.bentoml_home),
            feature_repo=paths.feature_repo, log_file=run_dir / phase / "server.log",
            extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(log_dir)},
        ) as server:  # fmt: skip
            frame = traffic.fresh_transactions(settings, DriftSpec.parse(drift_text), 1_000, 101)
            answered = traffic.send(server.url, frame)
        traffic.write_labels(labels_dir, frame, phase)
        _progress(f"{phase} traffic: {answered}/{len(frame)} transactions scored and logged")
        # Labels arrive days later in practice: this check judges the inputs alone.
        results[phase] = _run_monitor(settings, log_dir=log_dir, labels_dir=run_dir / "none")
    drifted = results["drifted"]
    if drifted.verdict.retrain:
        _retrain(settings, drifted, DEMO_DRIFT)


def _demo_serving(settings: Settings) -> None:
    from fraud_detection.data.io import load_transactions
    from fraud_detection.loadtest import generator as load
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.rollout.traffic import payloads
    from fraud_detection.serving import local_server
    from fraud_detection.serving.model_store import save_to_bentoml

    console.rule("[bold]4/6 serving: the production model behind BentoML on localhost")
    paths = settings.paths
    try:
        production = ModelRegistry(paths.registry, settings.model_name).require_production(
            hint="the gate refused the first model, nothing to serve"
        )
    except NoProductionModelError as exc:  # a demo stage skips; the demo goes on
        console.print(escape(str(exc)))
        return
    recent = load_transactions(paths.transactions).sort_values("event_timestamp").tail(2_000)
    rows = payloads(recent)
    with local_server.serve(
        project_root=paths.root,
        bentoml_home=paths.bentoml_home,
        model_tag=save_to_bentoml(production, paths.bentoml_home),
        feature_repo=paths.feature_repo,
        log_file=paths.root / "artifacts" / "serving" / "demo-server.log",
    ) as server:
        _progress(f"serving {production.version} at {server.url} (POST /score, GET /metrics)")
        load.burst(server.url, rows[:20])  # warm-up
        single = load.burst(server.url, rows[:300], batch_size=1)
        batched = load.burst(server.url, rows, batch_size=100)
    table = Table(title="Scoring latency over HTTP (sequential requests)", title_justify="left")
    table.add_column("traffic")
    for column in ("requests", "rows", "errors", "p50 ms", "p95 ms", "p99 ms", "rows/s"):
        table.add_column(column, justify="right")
    for name, result in (("1 row per request", single), ("100 rows per request", batched)):
        s = result.summary()
        table.add_row(
            name,
            *[str(s[k]) for k in ("requests", "rows", "errors", "p50_ms", "p95_ms", "p99_ms")],
            str(s["rows_per_second"]),
        )
    console.print(table)


def _demo_canary(settings: Settings, force: bool) -> None:
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.rollout.embedded import previous_rollout, run_canary
    from pipelines import run_local

    console.rule("[bold]5/6 canary: a challenger model against production")
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    try:
        registry.require_production(hint="nothing to canary against")
    except NoProductionModelError as exc:  # a demo stage skips; the demo goes on
        console.print(escape(str(exc)))
        return
    # The challenger: the same data, a different seed and a slower, longer boosting schedule.
    challenger = settings.model_copy(
        update={
            "training": settings.training.model_copy(
                update={"seed": settings.training.seed + 1, "learning_rate": 0.06, "max_iter": 300}
            )
        }
    )
    started = time.perf_counter()
    run = run_local.run(challenger, promote=False, force=force, report=_progress)
    _report("challenger pipeline", run.reused, {}, time.perf_counter() - started)
    if not run.decision["passed"]:
        console.print("the gate refused the challenger: no canary needed")
        return
    version = run.registered_version()
    production = registry.production()
    done = previous_rollout(settings, version)
    if done is not None and not force:
        _report("canary", True, {"record": done["record"]})
        _print_verdict(done)
        return
    if production is not None and production.version == version:
        console.print(f"the challenger {version} is already production")
        return
    started = time.perf_counter()
    result = run_canary(settings, version, report=_progress)
    _report("canary", False, {"record": str(result.record)}, time.perf_counter() - started)
    _print_verdict({**result.to_dict(), "record": str(result.record)})


def _print_verdict(record: dict[str, Any]) -> None:
    verdict = record["verdict"]
    title = f"Canary: candidate {record['candidate_version']} vs stable {record['stable_version']}"
    table = Table(title=title, title_justify="left")
    for column in ("check", "ok", "evidence"):
        table.add_column(column)
    for check in verdict["checks"]:
        table.add_row(check["name"], "yes" if check["ok"] else "[red]no[/]", check["detail"])
    console.print(table)
    if record["promoted"]:
        console.print(f"[bold green]Promoted[/] {record['candidate_version']} to production.")
    else:
        console.print(
            f"[bold red]Rolled back[/]: {record['stable_version']} keeps all traffic "
            f"({'; '.join(verdict['reasons'])})."
        )
    _print_path("Evidence:", record["record"])


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.serving import local_server
    from fraud_detection.serving.model_store import save_to_bentoml

    paths = settings.paths
    production = ModelRegistry(paths.registry, settings.model_name).require_production()
    tag = save_to_bentoml(production, paths.bentoml_home)
    env = local_server.bentoml_environment(paths.bentoml_home, paths.feature_repo)
    console.print(f"serving {tag} on http://127.0.0.1:{args.port} (Ctrl-C stops)")
    # Ctrl-C and SIGTERM reach us alone, as exceptions (see main): leaving, this stops the
    # server's whole process group, then the exception sets our exit status (130 or 143).
    return local_server.run_in_foreground(local_server.serve_command(tag, args.port), env)


def _canary(settings: Settings, args: argparse.Namespace) -> int:
    from fraud_detection.registry import ModelRegistry
    from fraud_detection.rollout.embedded import run_canary

    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    candidate = registry.get(args.version) if args.version else registry.newest_candidate()
    if candidate is None:
        raise FraudDetectionError("no candidate: every registered version is production")
    result = run_canary(settings, candidate.version, report=_progress)
    _print_verdict({**result.to_dict(), "record": str(result.record)})
    return 0 if result.promoted else 3


def _monitor(settings: Settings, args: argparse.Namespace) -> int:
    if args.window_hours:
        settings = settings.model_copy(
            update={
                "monitor": settings.monitor.model_copy(update={"window_hours": args.window_hours})
            }
        )
    result = _run_monitor(settings)
    if result.verdict.retrain and args.retrain is not None:
        _retrain(settings, result, args.retrain)
    return result.verdict.exit_code


def _run_monitor(
    settings: Settings, log_dir: Path | None = None, labels_dir: Path | None = None
) -> MonitorResult:
    from fraud_detection.monitoring.job import run_monitor

    result = run_monitor(settings, log_dir=log_dir, labels_dir=labels_dir)
    verdict = result.verdict
    colour = {"ok": "green", "insufficient_data": "yellow"}.get(verdict.status, "red")
    console.print(
        f"monitor: [bold {colour}]{verdict.status}[/] — {verdict.rows} scored rows of model "
        f"{result.model_version}, {verdict.skipped_records} corrupt records skipped"
    )
    for reason in verdict.reasons:
        _progress(reason)
    for name in ("drift", "quality"):
        summary = getattr(result, name)
        if summary and summary.get("html"):
            _print_path(f"  [dim]·[/] {name} report:", summary["html"])
    _print_path("  [dim]·[/] verdict:", result.out_dir / "verdict.json")
    return result


def _retrain(settings: Settings, result: MonitorResult, drift_text: str) -> None:
    from datetime import timedelta

    from fraud_detection.data.generate import DriftSpec
    from fraud_detection.retraining.embedded import retrain
    from fraud_detection.retraining.launchers import local_launcher
    from fraud_detection.retraining.trigger import RetrainingTrigger, Window

    _import_feast()  # retraining rebuilds the features
    trigger = RetrainingTrigger(
        settings.paths.root / "artifacts" / "retraining",
        min_interval=timedelta(hours=settings.monitor.retrain_min_interval_hours),
    )
    window = Window(*result.window)
    outcome: dict[str, Any] = {}

    def run() -> str:
        outcome.update(retrain(settings, DriftSpec.parse(drift_text), report=_progress))
        return str(outcome.get("record") or outcome.get("decision"))

    fired = trigger.fire(window, "; ".join(result.verdict.reasons), local_launcher(run))
    if fired.status != "started":
        console.print(f"retraining not started: {fired.status} ({fired.detail})")
        return
    trigger.finished(window, succeeded=True)
    if "verdict" in outcome:
        _print_verdict(outcome)
    elif not outcome.get("gate"):
        console.print("[bold red]retrained model refused by the gate[/]: production unchanged")


def _progress(message: str) -> None:
    console.print(f"  [dim]·[/] {message}")


def _report(
    name: str, skipped: bool, details: dict[str, Any], seconds: float | None = None
) -> None:
    """One line for the stage, then one line for each path among its details."""
    state = "[yellow]unchanged, skipped[/]" if skipped else "[green]done[/]"
    took = f" in {seconds:.1f}s" if seconds is not None else ""
    paths = {k: v for k, v in details.items() if _is_path(v)}
    extra = ", ".join(f"{k}={v}" for k, v in details.items() if k not in paths)
    console.print(f"[bold]{name}[/]: {state}{took}" + (f" ({escape(extra)})" if extra else ""))
    for key, path in paths.items():
        _print_path(f"  {key}:", path)


def _print_path(label: str, path: str | Path) -> None:
    """`label` (markup) and then `path`, whole and verbatim, on one line of its own."""
    console.print(f"{label} {escape(str(path))}", soft_wrap=True)


def _is_path(value: object) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and Path(value).is_absolute())


if __name__ == "__main__":
    sys.exit(main())
