"""The demo's alert step: the drifted window's verdict, pushed to a local Pushgateway, fires
its alert in a local Prometheus; Alertmanager delivers it to the webhook receiver. The stack is
`fraud_detection.monitoring.observe` with one-second intervals.

The demo starts the stack when its monitoring stage starts, long before the verdict is pushed:
a freshly started Prometheus scrapes its targets only after its target discovery's first update,
some five seconds in: pushed to a stack just started, the alert arrived after 6-7 s; pushed to
one already up, after about 3 s (a scrape, an evaluation and Alertmanager's grouping wait, a
second each).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from fraud_detection.errors import AlertingStackError, PackagingError
from fraud_detection.jobs.events import Notice, Report
from fraud_detection.jobs.monitor import MonitorRun
from fraud_detection.monitoring import observe
from fraud_detection.monitoring.alert_receiver import wait_for_alert
from fraud_detection.monitoring.push import MONITOR_GROUP, Pushgateway
from fraud_detection.pipeline.parameters import source_root

# The alert each verdict fires (the rules' names).
ALERTS = {"drift": "FraudModelDrift", "quality": "FraudModelQuality"}
WAIT_S = 30.0


def start_stack(work_dir: Path, running: ExitStack, report: Report) -> observe.Stack | None:
    """Start the local stack, to be stopped with `running`; without the binaries, or when a
    component does not start, None and a one-line note instead.

    Its configuration (observe/, the chart's alert rules) is the project's, read from the
    checkout this package runs from: a workspace elsewhere (`FRAUD_WORKSPACE`) has no copy.
    """
    try:
        observe.find_binaries()
        return running.enter_context(
            observe.running(source_root(), work_dir, observe.Ports.free(), fast=True)
        )
    except (AlertingStackError, PackagingError) as exc:
        report(Notice(f"alerting skipped: {exc}"))
        return None


def show_alert(stack: observe.Stack | None, run: MonitorRun, report: Report) -> None:
    """Push `run`'s metrics through the running `stack` and report the alert that fired and
    where it was delivered (nothing when there is no stack: `start_stack` said why)."""
    alertname = ALERTS.get(run.result.verdict.status)
    if alertname is None:
        report(Notice(f"alerting: a {run.result.verdict.status} verdict fires no alert"))
        return
    if stack is None:
        return
    metrics = (run.result.out_dir / "metrics.prom").read_text()
    failure = Pushgateway(stack.pushgateway_url).push(MONITOR_GROUP, metrics)
    alert = None if failure else wait_for_alert(stack.notifications, alertname, timeout_s=WAIT_S)
    if alert is None:
        report(
            Notice(f"alerting: {failure or f'{alertname} did not arrive within {WAIT_S:.0f} s'}")
        )
        return
    labels, summary = alert["labels"], alert["annotations"].get("summary", "")
    report(f"alert {alertname} fired (severity {labels.get('severity')}): {summary}")
    report(f"delivered by Alertmanager to the webhook at {stack.receiver.url}, "
           f"recorded in {stack.notifications}")  # fmt: skip
