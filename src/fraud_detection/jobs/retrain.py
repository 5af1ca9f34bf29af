"""Retraining: on this machine (new data → features → the training pipeline → canary), or as a
run on the cluster's KFP API; either way started through the workspace's one trigger, once per
monitored window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.jobs.events import (
    CanaryOutcome,
    Report,
    Retraining,
    RetrainOutcome,
    discard,
)
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.jobs.train import train
from fraud_detection.monitoring.job import MonitorResult
from fraud_detection.retraining.launchers import cluster_run_arguments, kfp_launcher, local_launcher
from fraud_detection.retraining.trigger import RetrainingTrigger, Window
from fraud_detection.rollout.embedded import run_canary


@dataclass(frozen=True)
class Embedded:
    """Retrain here, in this process, on the history regenerated with `drift` applied (how the
    demo stands in for a world that changed)."""

    drift: DriftSpec = field(default_factory=DriftSpec)


@dataclass(frozen=True)
class OnCluster:
    """Submit the compiled pipeline at `pipeline_package` to the KFP API at `host`; the run
    canaries its model on the InferenceService. `client_factory` stands in for `kfp.Client`."""

    host: str
    pipeline_package: Path
    client_factory: Callable[[str], Any] | None = None


def retrain(settings: Settings, drift: DriftSpec, report: Report = discard) -> RetrainOutcome:
    """Retrain on the history as it now looks (`drift` applied), then canary the result.

    The pipeline registers a passing model without promoting it (unless there is no production
    model yet); the canary decides.
    """
    report("regenerating the history as the world now looks")
    prepare_data(settings, drift)
    prepare_features(settings, progress=report)
    trained = train(settings, report=report)
    run, production = trained.run, trained.production
    if not run.decision["passed"]:
        report("the gate refused the retrained model; production is unchanged")
        return RetrainOutcome(gate=False, decision=run.decision_file)
    version = run.registered_version()
    if production is None or production.version == version:
        return RetrainOutcome(True, run.decision_file, version, promoted=production is not None)
    canary = CanaryOutcome.of(run_canary(settings, version, report=report))
    return RetrainOutcome(True, run.decision_file, version, canary, canary.promoted)


def start_retraining(
    settings: Settings, result: MonitorResult, how: Embedded | OnCluster,
    report: Report = discard,
) -> Retraining:  # fmt: skip
    """Start retraining for the window `result` judged, through `RetrainingTrigger.of(settings)`
    (once per window, rate-limited); report and return what came of it.

    Embedded, the run is over when this returns; on the cluster it has just been submitted.

    Raises:
        TriggerError: the run could not be started (or, embedded, failed); the trigger records
            it as failed, so a later monitor run may try again.
    """
    trigger = RetrainingTrigger.of(settings)
    window, reason = Window(*result.window), "; ".join(result.verdict.reasons)
    if isinstance(how, OnCluster):
        arguments = cluster_run_arguments(settings)
        launch = kfp_launcher(how.host, how.pipeline_package, arguments, how.client_factory)
        retraining = Retraining(trigger.fire(window, reason, launch))
    else:
        outcomes: list[RetrainOutcome] = []

        def run() -> str:
            outcomes.append(retrain(settings, how.drift, report=report))
            return outcomes[-1].run_id

        fired = trigger.fire(window, reason, local_launcher(run))
        if fired.status == "started":
            trigger.finished(window, succeeded=True)
        retraining = Retraining(fired, outcomes[0] if outcomes else None)
    report(retraining)
    return retraining
