"""The monitoring check: reference = the production model's training snapshot, current = a
window of the prediction log; drift and quality reports; a verdict. The job around it (verdict
reported, retraining started when called for) is `fraud_detection.jobs.monitor`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from fraud_detection.config import Settings
from fraud_detection.monitoring.control_limits import control_metrics
from fraud_detection.monitoring.log_reader import read_labels, read_window
from fraud_detection.monitoring.reports import PREDICTION, drift_report, quality_report
from fraud_detection.monitoring.verdict import Verdict, decide
from fraud_detection.registry import ModelRegistry


@dataclass(frozen=True)
class MonitorResult:
    verdict: Verdict
    window: tuple[datetime, datetime]
    model_version: str
    out_dir: Path
    drift: dict[str, Any] | None
    quality: dict[str, Any] | None


def run_monitor(
    settings: Settings, end: datetime | None = None, log_dir: Path | None = None,
    labels_dir: Path | None = None,
) -> MonitorResult:  # fmt: skip
    """Check the last `monitor.window_hours` of the prediction log against production's
    reference; write reports, verdict.json and metrics.prom under artifacts/monitoring/."""
    paths, limits = settings.paths, settings.monitor
    end = end or datetime.now(UTC)
    start = end - timedelta(hours=limits.window_hours)
    production = ModelRegistry(paths.registry, settings.model_name).require_production(
        hint="nothing to monitor (run `make demo`)"
    )
    model = production.load()
    columns = model.feature_columns
    raw_reference = pd.read_parquet(production.path / "reference.parquet")
    reference = model.inputs(raw_reference).assign(
        **{PREDICTION: raw_reference["prediction"].to_numpy(),
           "is_fraud": raw_reference["is_fraud"].to_numpy()}
    )  # fmt: skip
    window = read_window(log_dir or paths.prediction_log, start, end)
    out_dir = paths.monitoring / end.strftime("%Y%m%dT%H%M%S")
    drift = quality = None
    if len(window.frame) >= limits.min_rows:
        current = window.frame
        drift = drift_report(reference, current, columns, limits.max_drifted_share, out_dir)
        labels = read_labels(labels_dir or paths.labels)
        labelled = current.merge(labels, on="transaction_id", how="left")
        quality = quality_report(labelled, reference, model.threshold, out_dir)
    verdict = decide(len(window.frame), window.skipped, drift, quality, limits)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        **verdict.to_dict(), "window": [start.isoformat(), end.isoformat()],
        "model_version": production.version, "drift": drift, "quality": quality,
    }  # fmt: skip
    (out_dir / "verdict.json").write_text(json.dumps(record, indent=2, default=str))
    metrics = prometheus(verdict, drift)
    if drift is not None:  # a window large enough to judge: its decisions against the limits
        metrics += control_metrics(window.frame[PREDICTION], reference[PREDICTION], model.threshold)
    (out_dir / "metrics.prom").write_text(metrics)
    return MonitorResult(verdict, (start, end), production.version, out_dir, drift, quality)


def prometheus(verdict: Verdict, drift: dict[str, Any] | None) -> str:
    """The verdict in Prometheus text format (for a textfile collector or a pushgateway)."""
    lines = [
        "# HELP fraud_monitor_rows Scored rows in the monitored window.",
        "# TYPE fraud_monitor_rows gauge",
        f"fraud_monitor_rows {verdict.rows}",
        "# HELP fraud_monitor_skipped_records Corrupt prediction-log records skipped.",
        "# TYPE fraud_monitor_skipped_records gauge",
        f"fraud_monitor_skipped_records {verdict.skipped_records}",
        "# HELP fraud_monitor_status 1 for the current verdict status.",
        "# TYPE fraud_monitor_status gauge",
        *(f'fraud_monitor_status{{status="{s}"}} {int(s == verdict.status)}'
          for s in ("ok", "drift", "quality", "insufficient_data")),
    ]  # fmt: skip
    if drift is not None:
        lines += [
            "# HELP fraud_monitor_drifted_share Share of model inputs that drifted.",
            "# TYPE fraud_monitor_drifted_share gauge",
            f"fraud_monitor_drifted_share {drift['drifted_share']}",
        ]
    return "\n".join(lines) + "\n"
