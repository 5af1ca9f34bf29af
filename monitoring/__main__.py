"""Run the monitor once; on a failing verdict, submit retraining to KFP.

Configuration comes from the environment (`FRAUD_*` settings, see fraud_detection.config),
plus `FRAUD_MONITOR_KFP_HOST` (the KFP API; without it no retraining is submitted) and
`FRAUD_MONITOR_PIPELINE` (the compiled pipeline; default: the one in this image).
Exit code: the verdict's (0 ok, 10 drift, 11 quality, 12 insufficient data), 2 on a domain
error, which includes failing to reach KFP (the trigger's state stays consistent).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.errors import FraudDetectionError
from fraud_detection.monitoring.job import run_monitor
from fraud_detection.retraining.launchers import cluster_run_arguments, kfp_launcher
from fraud_detection.retraining.trigger import RetrainingTrigger, Window


def main() -> int:
    settings = Settings()
    try:
        result = run_monitor(settings)
        print(f"verdict: {result.verdict.status}: {'; '.join(result.verdict.reasons)}")
        print(f"reports: {result.out_dir}")
        host = os.environ.get("FRAUD_MONITOR_KFP_HOST")
        if result.verdict.retrain and host:
            package = Path(
                os.environ.get("FRAUD_MONITOR_PIPELINE", str(settings.paths.compiled_pipeline))
            )
            trigger = RetrainingTrigger(
                settings.paths.monitoring,
                timedelta(hours=settings.monitor.retrain_min_interval_hours),
            )
            fired = trigger.fire(
                Window(*result.window), "; ".join(result.verdict.reasons),
                kfp_launcher(host, package, arguments=cluster_run_arguments(settings)),
            )  # fmt: skip
            print(f"retraining: {fired.status} {fired.run_id or ''} {fired.detail}")
        return result.verdict.exit_code
    except FraudDetectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
