"""How the cluster's metrics reach Prometheus: the monitor CronJob and the rollout Job push to
the Pushgateway alerting.pushgateway names, through egress their NetworkPolicies allow, and a
PodMonitor scrapes the predictors, whose policy admits Prometheus on the port it scrapes.

References across objects are checked (policy selector ↔ pod labels, port name ↔ container
port), since each object alone can be valid while the path between them is closed. The
PodMonitor's fields were checked against prometheus-operator v0.93.0's CRD schema; no
Prometheus Operator runs here."""

from __future__ import annotations

from typing import Any

import pytest
from toolbox import documents, render_chart

URL = "http://prometheus-pushgateway.monitoring.svc.cluster.local:9091"
PUSH = ("--set", f"alerting.pushgateway.url={URL}")
ROLLOUT_JOB = ("--set", "rolloutJob.enabled=true", "--set", "rolloutJob.action=rollback")
PUSH_ENV = "FRAUD_MONITOR_PUSHGATEWAY_URL"
PUSHGATEWAY_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus-pushgateway"}},
}


def _render(*extra: str) -> list[dict[str, Any]]:
    return documents(render_chart("values.yaml", *extra))


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


def _env(obj: dict[str, Any]) -> dict[str, str]:
    (container,) = _pod(obj)["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def _policy_for(docs: list[dict[str, Any]], pod_labels: dict[str, str]) -> dict[str, Any]:
    """The one non-default NetworkPolicy whose podSelector selects pods with `pod_labels`."""
    selecting = [
        d for d in docs if d["kind"] == "NetworkPolicy"
        and d["spec"]["podSelector"].get("matchLabels")
        and d["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    ]  # fmt: skip
    assert len(selecting) == 1, [d["metadata"]["name"] for d in selecting]
    return selecting[0]


def _allows_pushgateway(policy: dict[str, Any]) -> bool:
    return any(
        PUSHGATEWAY_PEER in rule.get("to", [])
        and {"port": 9091, "protocol": "TCP"} in rule.get("ports", [])
        for rule in policy["spec"].get("egress", [])
    )


def _job(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    (job,) = [
        d for d in docs if d["kind"] in ("CronJob", "Job")
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]  # fmt: skip
    return job


def test_without_a_pushgateway_nothing_pushes_and_no_egress_opens() -> None:
    docs = _render(*ROLLOUT_JOB)
    for component in ("monitor", "rollout-job"):
        job = _job(docs, component)
        assert PUSH_ENV not in _env(job)
        assert not _allows_pushgateway(_policy_for(docs, _pod(job)["metadata"]["labels"]))
    assert not [d for d in docs if d["kind"] == "PodMonitor"]


@pytest.mark.parametrize("component", ["monitor", "rollout-job"])
def test_the_jobs_push_where_their_policy_lets_them(component: str) -> None:
    docs = _render(*PUSH, *ROLLOUT_JOB)
    job = _job(docs, component)
    assert _env(job)[PUSH_ENV] == URL
    assert _allows_pushgateway(_policy_for(docs, _pod(job)["metadata"]["labels"]))


def test_the_pod_monitor_scrapes_the_predictors_on_a_port_their_policy_admits() -> None:
    docs = _render("--set", "alerting.podMonitor.enabled=true",
                   "--set", "alerting.podMonitor.labels.release=monitoring")  # fmt: skip
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "monitoring"
    (isvc,) = [d for d in docs if d["kind"] == "InferenceService"]
    # KServe labels each predictor pod with its InferenceService's name.
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": isvc["metadata"]["name"]
    }
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    (container,) = isvc["spec"]["predictor"]["containers"]
    (port,) = [p for p in container["ports"] if p["name"] == endpoint["port"]]
    policy = _policy_for(docs, monitor["spec"]["selector"]["matchLabels"])
    prometheus = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    assert any(
        prometheus in rule.get("from", [])
        and {"port": port["containerPort"], "protocol": "TCP"} in rule.get("ports", [])
        for rule in policy["spec"]["ingress"]
    )


def test_a_pushgateway_url_that_is_not_http_is_refused_at_render() -> None:
    with pytest.raises(Exception, match=r"alerting\.pushgateway\.url"):
        render_chart("values.yaml", "--set", "alerting.pushgateway.url=pushgateway:9091")
