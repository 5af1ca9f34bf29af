"""The monitoring job: judge a window of the prediction log and, on a verdict that calls for it,
start retraining. The CLI (`fraud-detection monitor`), the demo and the CronJob's entry point
(`python -m monitoring`) all run this one function."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.errors import TriggerError
from fraud_detection.jobs.events import MonitorVerdict, Report, Retraining, discard
from fraud_detection.jobs.publish import publish_retraining, publish_verdict
from fraud_detection.jobs.retrain import Embedded, OnCluster, start_retraining
from fraud_detection.monitoring.job import MonitorResult, run_monitor


@dataclass(frozen=True)
class MonitorRun:
    result: MonitorResult
    retraining: Retraining | None = None  # None: not called for, or not asked to


def monitor(
    settings: Settings, *, retraining: Embedded | OnCluster | None = None,
    log_dir: Path | None = None, labels_dir: Path | None = None, report: Report = discard,
) -> MonitorRun:  # fmt: skip
    """Check the last `monitor.window_hours` of the prediction log (default: the workspace's
    log and labels) against production's reference, report the verdict, and if it calls for
    retraining and `retraining` says how, start it (`start_retraining`).

    Raises:
        NoProductionModelError: there is no model to monitor.
        TriggerError: retraining was called for but could not be started.
    """
    result = run_monitor(settings, log_dir=log_dir, labels_dir=labels_dir)
    report(MonitorVerdict(result))
    publish_verdict(result, report)  # to the Pushgateway, if one is set; never fails the job
    if not result.verdict.retrain or retraining is None:
        return MonitorRun(result)
    try:
        started = start_retraining(settings, result, retraining, report)
    except TriggerError:
        publish_retraining(None, report)
        raise
    publish_retraining(started, report)
    return MonitorRun(result, started)
