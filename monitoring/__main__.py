"""Run the monitor once; on a failing verdict, submit retraining to KFP (the CronJob's command).

Configuration comes from the environment (`FRAUD_*` settings, see fraud_detection.config),
plus `FRAUD_MONITOR_KFP_HOST` (the KFP API; without it no retraining is submitted) and
`FRAUD_MONITOR_PIPELINE` (the compiled pipeline; default: the one in this image).
Exit code: the verdict's (0 ok, 10 drift, 11 quality, 12 insufficient data), 2 on a domain
error, which includes failing to reach KFP (the trigger's state stays consistent).

The work is `fraud_detection.jobs.monitor.monitor`, the job `fraud-detection monitor` runs too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.errors import FraudDetectionError
from fraud_detection.jobs.events import Event, MonitorVerdict, Notice, Retraining
from fraud_detection.jobs.monitor import monitor
from fraud_detection.jobs.retrain import OnCluster
from fraud_detection.process_exit import exit_with


def main() -> int:
    settings = Settings()
    host = os.environ.get("FRAUD_MONITOR_KFP_HOST")
    package = Path(os.environ.get("FRAUD_MONITOR_PIPELINE", str(settings.paths.compiled_pipeline)))
    try:
        run = monitor(settings, retraining=OnCluster(host, package) if host else None, report=_log)
    except FraudDetectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return run.result.verdict.exit_code


def _log(event: Event) -> None:
    """The CronJob's log: the verdict and its reports, then what retraining did."""
    if isinstance(event, MonitorVerdict):
        verdict = event.result.verdict
        print(f"verdict: {verdict.status}: {'; '.join(verdict.reasons)}")
        print(f"reports: {event.result.out_dir}")
    elif isinstance(event, Retraining):
        fired = event.trigger
        print(f"retraining: {fired.status} {fired.run_id or ''} {fired.detail}")
    elif isinstance(event, Notice):  # e.g. metrics not pushed: the run goes on
        print(f"note: {event.text}", file=sys.stderr)


if __name__ == "__main__":
    exit_with(main())
