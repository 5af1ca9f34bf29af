"""The embedded loop end to end (`make demo`): data → features → training pipeline → serving →
canary → monitoring, drift and retraining, all on this machine.

Each stage is safe to re-run and skips what did not change; a stage that needs a production
model says so and is skipped when there is none (the gate may refuse the first model), and the
demo goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import NoProductionModelError
from fraud_detection.jobs import alerting
from fraud_detection.jobs.events import (
    CanaryOutcome,
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
from fraud_detection.rollout.embedded import previous_rollout, run_canary
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
    canary: CanaryOutcome | None = None
    monitoring: dict[str, MonitorRun] = field(default_factory=dict)


def run_demo(settings: Settings, force: bool = False, report: Report = discard) -> DemoResult:
    """Every stage in turn; `force` redoes the stages that would be skipped as unchanged."""
    data = _stage(report, "1/6 data", lambda: prepare_data(settings, force=force))
    features = _stage(report, "2/6 features", lambda: prepare_features(settings, progress=report))
    title = "3/6 training pipeline (kfp.local): train, gate, register, package"
    report(Stage(title))
    training, seconds = _timed(lambda: train(settings, force=force, report=report))
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    details = {"log": str(training.run.log_file),
               "evaluation report": str(training.run.evaluation_report(registry))}  # fmt: skip
    report(StageDone(title, training.run.reused, details, seconds))
    report(training)
    return DemoResult(
        data, features, training,
        serving=serving_stage(settings, report),
        canary=canary_stage(settings, force, report),
        monitoring=monitoring_stage(settings, report),
    )  # fmt: skip


def serving_stage(settings: Settings, report: Report = discard) -> ServingLatency | None:
    """Serve production and time sequential scoring over HTTP, one row and 100 rows a request."""
    report(Stage("4/6 serving: the production model behind BentoML on localhost"))
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


def challenger(settings: Settings) -> Settings:
    """The demo's challenger: the same data, a different seed and a slower, longer boosting
    schedule."""
    training = settings.training.model_copy(
        update={"seed": settings.training.seed + 1, "learning_rate": 0.06, "max_iter": 300}
    )
    return settings.model_copy(update={"training": training})


def canary_stage(
    settings: Settings, force: bool = False, report: Report = discard
) -> CanaryOutcome | None:
    """Train the challenger (registered, not promoted) and canary it against production; an
    earlier canary of the same challenger is shown again unless `force`."""
    report(Stage("5/6 canary: a challenger model against production"))
    if _production(settings, "nothing to canary against", report) is None:
        return None
    training, seconds = _timed(
        lambda: train(challenger(settings), promote=False, force=force, report=report)
    )
    run = training.run
    report(StageDone("challenger pipeline", run.reused, {}, seconds))
    if not run.decision["passed"]:
        report(Notice("the gate refused the challenger: no canary needed"))
        return None
    version = run.registered_version()
    production = training.production
    done = previous_rollout(settings, version)
    if done is not None and not force:
        outcome = CanaryOutcome.from_record(done)
        report(StageDone("canary", True, {"record": done["record"]}))
        report(outcome)
        return outcome
    if production is not None and production.version == version:
        report(Notice(f"the challenger {version} is already production"))
        return None
    result, seconds = _timed(lambda: run_canary(settings, version, report=report))
    outcome = CanaryOutcome.of(result)
    report(StageDone("canary", False, {"record": str(result.record)}, seconds))
    report(outcome)
    return outcome


def monitoring_stage(settings: Settings, report: Report = discard) -> dict[str, MonitorRun]:
    """Serve production to normal, then drifted, traffic with the prediction log on; monitor
    each log; the drifted one calls for retraining, which runs here (`DEMO_DRIFT`)."""
    report(Stage("6/6 monitoring: normal traffic, drifted traffic, retraining"))
    production = _production(settings, "nothing to monitor", report)
    if production is None:
        return {}
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = settings.paths.root / "artifacts" / "demo" / started
    runs = {}
    for phase, drift in (("normal", DriftSpec()), ("drifted", DEMO_DRIFT)):
        log_dir, labels_dir = run_dir / phase / "prediction-log", run_dir / phase / "labels"
        with local_server.serve_registered(
            settings, production, run_dir / phase / "server.log",
            extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(log_dir)},
        ) as server:  # fmt: skip
            frame = traffic.fresh_transactions(settings, drift, 1_000, 101)
            answered = traffic.send(server.url, frame)
        traffic.write_labels(labels_dir, frame, phase)
        report(f"{phase} traffic: {answered}/{len(frame)} transactions scored and logged")
        # Labels arrive days later in practice: this check judges the inputs alone.
        runs[phase] = monitor(
            settings, log_dir=log_dir, labels_dir=run_dir / "none", report=report,
            retraining=Embedded(DEMO_DRIFT) if phase == "drifted" else None,
        )  # fmt: skip
    alerting.show_alert(settings, runs["drifted"], run_dir / "alerting", report)
    return runs


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
