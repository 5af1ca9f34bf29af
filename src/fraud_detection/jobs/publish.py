"""What the monitoring job tells Prometheus, through the Pushgateway
(`fraud_detection.monitoring.push`): each run's verdict metrics, and what each retraining
attempt came to. A push that fails is reported as a Notice; the job goes on."""

from __future__ import annotations

import time
from collections.abc import Callable

from fraud_detection.jobs.events import Notice, Report, Retraining
from fraud_detection.monitoring.job import MonitorResult
from fraud_detection.monitoring.push import MONITOR_GROUP, RETRAINING_GROUP, Pushgateway
from fraud_detection.monitoring.retraining_outcome import retraining_metrics


def publish_verdict(result: MonitorResult, report: Report) -> None:
    """Push the run's metrics.prom (verdict, drifted share, control limits)."""
    _push(MONITOR_GROUP, lambda: (result.out_dir / "metrics.prom").read_text(), report)


def publish_retraining(retraining: Retraining | None, report: Report) -> None:
    """Push what a retraining attempt came to; None means it failed to start or run. A trigger
    that declined (window already done, rate-limited) was no attempt: nothing is pushed."""
    if retraining is not None and retraining.trigger.status != "started":
        return
    outcome = outcome_of(retraining)
    _push(RETRAINING_GROUP, lambda: retraining_metrics(outcome, time.time()), report)


def outcome_of(retraining: Retraining | None) -> str:
    if retraining is None:
        return "failed"
    outcome = retraining.outcome
    if outcome is None:  # on the cluster: submitted to KFP, whose run canaries the model
        return "submitted"
    if not outcome.gate:
        return "refused"
    if outcome.canary is not None and not outcome.canary.promoted:
        return "rolled_back"
    return "promoted" if outcome.promoted else "registered"


def _push(group: str, metrics: Callable[[], str], report: Report) -> None:
    """Push what `metrics` returns, when a Pushgateway is configured (only then is it built)."""
    try:
        gateway = Pushgateway.from_env()
    except ValueError as exc:
        report(Notice(f"metrics not pushed: {exc}"))
        return
    if gateway is None:
        return
    failure = gateway.push(group, metrics())
    if failure:
        report(Notice(f"metrics not pushed: {failure}"))
