"""The embedded loop end to end (`make demo`): data → features → training pipeline → serving →
monitoring, drift, retraining and the retrained model's canary, all on this machine.

Each mechanism runs once: the retrained model is the challenger the canary judges. A challenger
of your own (another seed or schedule) goes through the same gate and canary with `make train`
and then `make canary` (docs/serving-rollout.md).

Each stage is safe to re-run and skips what did not change; a stage that needs a production
model says so and is skipped when there is none (the gate may refuse the first model), and the
demo goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from fraud_detection.background_import import EVIDENTLY, import_meanwhile
from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import NoProductionModelError
from fraud_detection.jobs import alerting
from fraud_detection.jobs.events import (
    Notice,
    Report,
    ServingLatency,
    Stage,
    StageDone,
    TrainingRun,
    discard,
)
from fraud_detection.jobs.monitor import MonitorRun, monitor
from fraud_detection.jobs.prepare import StageResult, prepare_data, prepare_features
from fraud_detection.jobs.retrain import Embedded
from fraud_detection.jobs.train import train
from fraud_detection.loadtest import generator as load
from fraud_detection.monitoring import traffic
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.rollout.traffic import payloads
from fraud_detection.serving import local_server

# How the world changes in the demo: larger amounts, farther from home, more at night.
DEMO_DRIFT = DriftSpec(amount_scale=2.5, distance_scale=3.0, night_share=0.3)

T = TypeVar("T")


@dataclass(frozen=True)
class DemoResult:
    """Each stage's result; None (or empty) for a stage that was skipped or ended early."""

    data: StageResult
    features: StageResult
    training: TrainingRun
    serving: ServingLatency | None = None
    monitoring: dict[str, MonitorRun] = field(default_factory=dict)


def run_demo(settings: Settings, force: bool = False, report: Report = discard) -> DemoResult:
    """Every stage in turn; `force` redoes the stages that would be skipped as unchanged."""
    data = _stage(report, "1/5 data", lambda: prepare_data(settings, force=force))
    features = _stage(report, "2/5 features", lambda: prepare_features(settings, progress=report))
    title = "3/5 training pipeline (kfp.local): train, gate, register, package"
    report(Stage(title))
    # The monitoring stage's reports need Evidently; this process only waits on the steps.
    warming = import_meanwhile(EVIDENTLY)
    training, seconds = _timed(lambda: train(settings, force=force, report=report))
    warming.join()  # before the serving stage, whose load generator shares this process
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    details = {"log": str(training.run.log_file),
               "evaluation report": str(training.run.evaluation_report(registry))}  # fmt: skip
    report(StageDone(title, training.run.reused, details, seconds))
    report(training)
    return DemoResult(
        data, features, training,
        serving=serving_stage(settings, report),
        monitoring=monitoring_stage(settings, report),
    )  # fmt: skip


def serving_stage(settings: Settings, report: Report = discard) -> ServingLatency | None:
    """Serve production and time sequential scoring over HTTP, one row and 100 rows a request."""
    report(Stage("4/5 serving: the production model behind BentoML on localhost"))
    production = _production(settings, "the gate refused the first model, nothing to serve", report)
    if production is None:
        return None
    paths = settings.paths
    recent = load_transactions(paths.transactions).sort_values("event_timestamp").tail(2_000)
    rows = payloads(recent)
    log_file = paths.root / "artifacts" / "serving" / "demo-server.log"
    with local_server.serve_registered(settings, production, log_file) as server:
        report(f"serving {production.version} at {server.url} (POST /score, GET /metrics)")
        load.burst(server.url, rows[:20])  # warm-up
        single = load.burst(server.url, rows[:300], batch_size=1)
        batched = load.burst(server.url, rows, batch_size=100)
    latency = ServingLatency(single, batched)
    report(latency)
    return latency


def monitoring_stage(settings: Settings, report: Report = discard) -> dict[str, MonitorRun]:
    """Serve production to normal, then drifted, traffic with the prediction log on; monitor
    each log; the drifted one calls for retraining, which runs here (`DEMO_DRIFT`): the
    retrained model is gated, registered and canaried against production, as the cluster's
    retraining run does."""
    report(Stage("5/5 monitoring: normal traffic, drifted traffic, retraining, canary"))
    production = _production(settings, "nothing to monitor", report)
    if production is None:
        return {}
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = settings.paths.root / "artifacts" / "demo" / started
    phases = {"normal": DriftSpec(), "drifted": DEMO_DRIFT}
    runs = {}
    with ExitStack() as running:
        # One server per phase, each with its own prediction log, both started at once (a
        # start is mostly imports and loading, a core each); each is stopped, its log flushed,
        # before its log is monitored. The alerting stack starts meanwhile, to be up and
        # scraping by the time the drifted verdict is pushed (`jobs.alerting`).
        started_servers = {
            phase: running.enter_context(local_server.serve_registered(
                settings, production, run_dir / phase / "server.log", wait_for=None,
                extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(_log_dir(run_dir, phase))},
            ))
            for phase in phases
        }  # fmt: skip
        stack = alerting.start_stack(run_dir / "alerting", running, report)
        for phase, drift in phases.items():
            server = started_servers[phase]
            local_server.wait_until_ready(server, local_server.READY_TIMEOUT_S)
            frame = traffic.fresh_transactions(settings, drift, 1_000, 101)
            answered = traffic.send(server.url, frame)
            local_server.stop(server.process)
            traffic.write_labels(run_dir / phase / "labels", frame, phase)
            report(f"{phase} traffic: {answered}/{len(frame)} transactions scored and logged")
            # Labels arrive days later in practice: this check judges the inputs alone.
            runs[phase] = monitor(
                settings, log_dir=_log_dir(run_dir, phase), labels_dir=run_dir / "none",
                report=report, retraining=Embedded(DEMO_DRIFT) if phase == "drifted" else None,
            )  # fmt: skip
        alerting.show_alert(stack, runs["drifted"], report)
    return runs


def _log_dir(run_dir: Path, phase: str) -> Path:
    return run_dir / phase / "prediction-log"


def _production(settings: Settings, hint: str, report: Report) -> RegisteredModel | None:
    """The production model; without one, the reason the stage is skipped, reported."""
    try:
        return ModelRegistry(settings.paths.registry, settings.model_name).require_production(
            hint=hint
        )
    except NoProductionModelError as exc:  # a demo stage skips; the demo goes on
        report(Notice(str(exc)))
        return None


def _stage(report: Report, title: str, action: Callable[[], StageResult]) -> StageResult:
    report(Stage(title))
    result, seconds = _timed(action)
    report(StageDone(title, result.skipped, result.details, seconds))
    return result


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started
