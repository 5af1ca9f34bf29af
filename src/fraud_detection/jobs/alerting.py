"""The demo's alert step: the drifted window's verdict, pushed to a local Pushgateway, fires
its alert in a local Prometheus; Alertmanager delivers it to the webhook receiver. The stack is
`fraud_detection.monitoring.observe` with one-second intervals, up for a few seconds."""

from __future__ import annotations

from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.errors import AlertingStackError
from fraud_detection.jobs.events import Notice, Report
from fraud_detection.jobs.monitor import MonitorRun
from fraud_detection.monitoring import observe
from fraud_detection.monitoring.alert_receiver import wait_for_alert
from fraud_detection.monitoring.push import MONITOR_GROUP, Pushgateway

# The alert each verdict fires (the rules' names).
ALERTS = {"drift": "FraudModelDrift", "quality": "FraudModelQuality"}
WAIT_S = 30.0


def show_alert(settings: Settings, run: MonitorRun, work_dir: Path, report: Report) -> None:
    """Push `run`'s metrics through the local stack and report the alert that fired and where
    it was delivered; without the binaries, a one-line note instead."""
    alertname = ALERTS.get(run.result.verdict.status)
    if alertname is None:
        report(Notice(f"alerting: a {run.result.verdict.status} verdict fires no alert"))
        return
    try:
        observe.find_binaries()
        with observe.running(
            settings.paths.root, work_dir, observe.Ports.free(), fast=True
        ) as stack:
            metrics = (run.result.out_dir / "metrics.prom").read_text()
            failure = Pushgateway(stack.pushgateway_url).push(MONITOR_GROUP, metrics)
            alert = (
                None
                if failure
                else wait_for_alert(stack.notifications, alertname, timeout_s=WAIT_S)
            )
            receiver, delivered_to = stack.receiver.url, stack.notifications
    except AlertingStackError as exc:
        report(Notice(f"alerting skipped: {exc}"))
        return
    if alert is None:
        report(
            Notice(f"alerting: {failure or f'{alertname} did not arrive within {WAIT_S:.0f} s'}")
        )
        return
    labels, summary = alert["labels"], alert["annotations"].get("summary", "")
    report(f"alert {alertname} fired (severity {labels.get('severity')}): {summary}")
    report(f"delivered by Alertmanager to the webhook at {receiver}, recorded in {delivered_to}")
