"""Alerting end to end on this machine: a drifted monitor verdict pushed to a real Pushgateway
fires FraudModelDrift in a real Prometheus, Alertmanager delivers it to the webhook receiver
with the rule's labels, and an ok verdict resolves it. With Prometheus and Alertmanager down,
the monitor's push still lands (the Pushgateway is all it talks to). A canary rolled back on
the cluster pushes its outcome the same way and fires FraudCanaryRolledBack. The stack runs with
one-second scrape, evaluation and grouping intervals (`observe.running(fast=True)`)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed import REPO_ROOT, installed

from fraud_detection.monitoring import observe
from fraud_detection.monitoring.alert_receiver import wait_for_alert
from fraud_detection.monitoring.job import prometheus
from fraud_detection.monitoring.push import (
    MONITOR_GROUP,
    RETRAINING_GROUP,
    URL_VARIABLE,
    Pushgateway,
)
from fraud_detection.monitoring.verdict import Verdict
from fraud_detection.rollout.analysis import CanaryVerdict, Check
from fraud_detection.rollout.cluster_job import publish_outcome

pytestmark = pytest.mark.integration

DRIFT = Verdict("drift", ["40% of input columns drifted (amount; limit 30%)"], 1_000, 0)
OK = Verdict("ok", ["within limits"], 1_000, 0)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[observe.Stack]:
    for name in ("prometheus", "prometheus-alertmanager", "prometheus-pushgateway"):
        installed(name)  # fails naming `make tools` when missing
    with observe.running(REPO_ROOT, tmp_path / "observe", observe.Ports.free(), fast=True) as s:
        yield s


def test_a_drift_verdict_is_delivered_with_its_labels_and_resolves_after_recovery(
    stack: observe.Stack,
) -> None:
    gateway = Pushgateway(stack.pushgateway_url)
    assert gateway.push(MONITOR_GROUP, prometheus(DRIFT, {"drifted_share": 0.4})) is None
    fired = wait_for_alert(stack.notifications, "FraudModelDrift", "firing", timeout_s=30)
    assert fired is not None, f"no firing FraudModelDrift in {stack.notifications}"
    assert fired["labels"] == {
        "alertname": "FraudModelDrift", "severity": "ticket", "area": "model",
        "job": "fraud_monitor", "status": "drift",
    }  # fmt: skip
    assert fired["annotations"]["runbook_url"] == "docs/runbooks.md#fraudmodeldrift"

    assert gateway.push(MONITOR_GROUP, prometheus(OK, {"drifted_share": 0.0})) is None
    resolved = wait_for_alert(stack.notifications, "FraudModelDrift", "resolved", timeout_s=30)
    assert resolved is not None, f"FraudModelDrift never resolved in {stack.notifications}"
    assert resolved["fingerprint"] == fired["fingerprint"]


def test_with_prometheus_and_alertmanager_down_the_monitor_still_pushes(
    stack: observe.Stack,
) -> None:
    stack.stop("prometheus")
    stack.stop("alertmanager")
    gateway = Pushgateway(stack.pushgateway_url, timeout_s=5)
    assert gateway.push(MONITOR_GROUP, prometheus(DRIFT, {"drifted_share": 0.4})) is None
    with urllib.request.urlopen(f"{stack.pushgateway_url}/metrics", timeout=5) as response:
        exposed = response.read().decode()
    assert 'fraud_monitor_status{instance="",job="fraud_monitor",status="drift"} 1' in exposed


def test_a_new_stack_starts_with_nothing_pushed(tmp_path: Path) -> None:
    """One stack's verdicts never reach the next: otherwise a stack would fire the alerts of a
    verdict pushed before it started (Debian's Pushgateway keeps its metrics in one file for the
    whole machine unless told otherwise)."""
    for run in ("first", "second"):
        with observe.running(REPO_ROOT, tmp_path / run, observe.Ports.free(), fast=True) as s:
            with urllib.request.urlopen(f"{s.pushgateway_url}/metrics", timeout=5) as response:
                assert "fraud_monitor_status" not in response.read().decode(), run
            assert (
                Pushgateway(s.pushgateway_url).push(
                    MONITOR_GROUP, prometheus(DRIFT, {"drifted_share": 0.4})
                )
                is None
            )


def test_a_cluster_canary_rolled_back_is_delivered(
    stack: observe.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the rollout Job and KFP's rollout step run after a canary (`publish_outcome`)."""
    monkeypatch.setenv(URL_VARIABLE, stack.pushgateway_url)
    publish_outcome(CanaryVerdict(False, (Check("probe_pr_auc", False, "worse"),), {}, {}))
    fired = wait_for_alert(stack.notifications, "FraudCanaryRolledBack", "firing", timeout_s=30)
    assert fired is not None, f"no firing FraudCanaryRolledBack in {stack.notifications}"
    assert fired["labels"]["job"] == RETRAINING_GROUP
    assert fired["labels"]["outcome"] == "rolled_back"
