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

from fraud_detection.config import MonitorSettings, Settings
from fraud_detection.monitoring.checks import (
    CARD,
    PREDICTION,
    CheckLimits,
    Judgement,
    Reference,
    judge,
    matured,
    whole_days,
)
from fraud_detection.monitoring.control_limits import judgement_metrics
from fraud_detection.monitoring.log_reader import read_labels, read_window
from fraud_detection.monitoring.reports import check_columns, drift_report, quality_report
from fraud_detection.monitoring.verdict import Verdict, decide
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REFERENCE_FILE


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
    reference (`checks.judge`: every check at its share of `monitor.family_alpha`; quality on
    the labels matured by `end`); write reports, verdict.json and metrics.prom under
    artifacts/monitoring/."""
    paths, limits = settings.paths, settings.monitor
    end = end or datetime.now(UTC)
    start = end - timedelta(hours=limits.window_hours)
    production = ModelRegistry(paths.registry, settings.model_name).require_production(
        hint="nothing to monitor (run `make demo`)"
    )
    model = production.load()
    columns = model.feature_columns
    raw_reference = whole_days(pd.read_parquet(production.path / REFERENCE_FILE))
    reference = model.inputs(raw_reference).assign(
        **{PREDICTION: raw_reference["prediction"].to_numpy(),
           "is_fraud": raw_reference["is_fraud"].to_numpy()}
    )  # fmt: skip
    if CARD in raw_reference:
        reference[CARD] = raw_reference[CARD].to_numpy()
    window = read_window(log_dir or paths.prediction_log, start, end)
    out_dir = paths.monitoring / end.strftime("%Y%m%dT%H%M%S")
    drift = quality = judgement = None
    if len(window.frame) >= limits.min_rows:
        current = window.frame
        check_columns(reference, current, columns)
        labels = matured(read_labels(labels_dir or paths.labels), end)
        labelled = current.merge(labels[["transaction_id", "is_fraud"]], on="transaction_id",
                                 how="left")  # fmt: skip
        prepared = Reference.of(reference, columns, model.threshold, per_card=model.looked_up)
        judgement = judge(prepared, labelled, columns,
                          check_limits(limits))  # fmt: skip
        drift = drift_report(reference, current, columns, limits.max_drifted_share, out_dir,
                             judgement)  # fmt: skip
        (quality_check,) = judgement.of("quality")
        quality = quality_report(labelled, reference, model.threshold, out_dir, quality_check)
    verdict = decide(len(window.frame), window.skipped, judgement, limits)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        **verdict.to_dict(), "window": [start.isoformat(), end.isoformat()],
        "model_version": production.version, "drift": drift, "quality": quality,
        "checks": None if judgement is None else judgement.to_dict(),
    }  # fmt: skip
    (out_dir / "verdict.json").write_text(json.dumps(record, indent=2, default=str))
    (out_dir / "metrics.prom").write_text(prometheus(verdict, drift, judgement))
    return MonitorResult(verdict, (start, end), production.version, out_dir, drift, quality)


def check_limits(limits: MonitorSettings) -> CheckLimits:
    """The knobs of `checks.judge` from the monitor's settings."""
    return CheckLimits(
        family_alpha=limits.family_alpha, min_segment_rows=limits.min_segment_rows,
        min_fraud_labels=limits.min_fraud_labels, max_pr_auc_drop=limits.max_pr_auc_drop,
        resamples=limits.quality_resamples,
    )  # fmt: skip


def prometheus(
    verdict: Verdict, drift: dict[str, Any] | None, judgement: Judgement | None = None
) -> str:
    """The verdict in Prometheus text format (for a textfile collector or a pushgateway), with
    every check of `judgement` (`control_limits.judgement_metrics`) when the window was
    judged."""
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
    text = "\n".join(lines) + "\n"
    return text + judgement_metrics(judgement) if judgement is not None else text
