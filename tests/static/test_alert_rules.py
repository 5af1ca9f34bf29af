"""The alert rules (charts/fraud-detection/files/alert-rules.yaml): promtool checks them and
runs their unit tests (tests/alerts/), every alert has a case that fires it and one that does
not, every alert links a runbook section that exists, and the chart renders the same rules as
a PrometheusRule only when asked. promtool and amtool come from Debian's prometheus and
prometheus-alertmanager packages (`make tools`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from installed import installed
from toolbox import CHART, REPO_ROOT, documents, render_chart

RULES = CHART / "files" / "alert-rules.yaml"
UNIT_TESTS = sorted((REPO_ROOT / "tests" / "alerts").glob("*.test.yaml"))
RUNBOOKS = REPO_ROOT / "docs" / "runbooks.md"
SEVERITIES = {"page", "ticket"}


def _groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def _alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in _groups() for r in g["rules"] if "alert" in r}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([installed("promtool"), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)  # fmt: skip


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading (as tests/static/test_docs.py computes it)."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in _groups())} rules found" in result.stdout


def test_a_broken_rule_fails_the_check_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "alert-rules.yaml"
    text = RULES.read_text()
    good = 'fraud_monitor_status{status="drift"} == 1'
    assert good in text
    broken.write_text(text.replace(good, 'fraud_monitor_status{status="drift" == 1'))
    result = _promtool("check", "rules", str(broken))
    assert result.returncode != 0
    assert "FraudModelDrift" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_rule_unit_tests_pass() -> None:
    assert UNIT_TESTS, "no promtool unit tests under tests/alerts/"
    result = _promtool("test", "rules", *map(str, UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert not alerts - firing, f"no case fires {sorted(alerts - firing)}"
    assert not alerts - quiet, f"no case keeps quiet {sorted(alerts - quiet)}"
    assert not (firing | quiet) - alerts, f"tests of unknown alerts {(firing | quiet) - alerts}"


def _runbook_problem(name: str, runbook_url: str, runbooks: Path = RUNBOOKS) -> str | None:
    """Why `runbook_url` does not resolve to a heading of `runbooks`, or None."""
    path, _, anchor = runbook_url.partition("#")
    if (REPO_ROOT / path).resolve() != RUNBOOKS:
        return f"{name}: runbook_url {path} is not docs/runbooks.md"
    headings = {_slug(line.lstrip("#")) for line in runbooks.read_text().splitlines()
                if line.startswith("#")}  # fmt: skip
    return None if anchor in headings else f"{name}: docs/runbooks.md has no heading #{anchor}"


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_every_alert_says_how_urgent_what_and_where_its_runbook_is(name: str) -> None:
    rule = _alerts()[name]
    assert rule["labels"]["severity"] in SEVERITIES, rule["labels"]
    assert rule["annotations"]["summary"].strip()
    assert _runbook_problem(name, rule["annotations"]["runbook_url"]) is None


def test_the_checks_see_a_missing_runbook_section(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks.md"
    runbooks.write_text("# Runbooks\n\n## FraudModelQuality\n")
    url = "docs/runbooks.md#fraudmodeldrift"
    assert _runbook_problem("FraudModelDrift", url, runbooks) == (
        "FraudModelDrift: docs/runbooks.md has no heading #fraudmodeldrift"
    )
    assert (
        _runbook_problem("FraudModelQuality", "docs/runbooks.md#fraudmodelquality", runbooks)
        is None
    )
    assert "is not docs/runbooks.md" in str(_runbook_problem("X", "docs/monitoring.md#x"))


def _prometheus_rule(*extra: str) -> list[dict[str, Any]]:
    docs = documents(render_chart("values.yaml", *extra))
    return [d for d in docs if d["kind"] == "PrometheusRule"]


def test_the_chart_renders_no_prometheus_rule_by_default() -> None:
    assert _prometheus_rule() == []


def test_the_prometheus_rule_holds_the_rules_file_without_the_kube_state_metrics_group() -> None:
    (rule,) = _prometheus_rule(
        "--set", "alerting.prometheusRule.enabled=true",
        "--set", "alerting.prometheusRule.labels.release=monitoring",
    )  # fmt: skip
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "monitoring"
    expected = [g for g in _groups() if g["name"] != "fraud-jobs"]
    assert rule["spec"]["groups"] == expected


def test_kube_state_metrics_adds_the_jobs_group_and_a_base_url_prefixes_the_runbooks() -> None:
    (rule,) = _prometheus_rule(
        "--set", "alerting.prometheusRule.enabled=true",
        "--set", "alerting.kubeStateMetrics.enabled=true",
        "--set", "alerting.runbookBaseUrl=https://git.example.com/ml/blob/main/",
    )  # fmt: skip
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in _groups()]
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]
            if "alert" in r]  # fmt: skip
    assert len(urls) == len(_alerts())
    assert all(u.startswith("https://git.example.com/ml/blob/main/docs/runbooks.md#") for u in urls)


def test_the_observe_configs_are_valid() -> None:
    config = REPO_ROOT / "observe" / "prometheus.yml"
    result = _promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    alertmanager = REPO_ROOT / "observe" / "alertmanager.yml"
    result = subprocess.run([installed("amtool"), "check-config", str(alertmanager)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
