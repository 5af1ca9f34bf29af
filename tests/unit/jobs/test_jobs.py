"""The jobs and their adapters, without servers: the monitoring job's retraining goes through the
workspace's one trigger whoever calls it (the CronJob here), and the CLI presents what the jobs
report as it always has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import monitoring.__main__ as cronjob
from fraud_detection import cli
from fraud_detection.config import Settings
from fraud_detection.jobs import monitor as monitor_job
from fraud_detection.jobs.events import (
    CanaryOutcome,
    Notice,
    Retraining,
    RetrainOutcome,
    StageDone,
)
from fraud_detection.monitoring.job import MonitorResult
from fraud_detection.monitoring.verdict import Verdict
from fraud_detection.retraining.trigger import RetrainingTrigger, TriggerResult, Window

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)


@dataclass
class FakeRun:
    run_id: str


class FakeKfpClient:
    """Stands in for kfp.Client: no KFP API can run here."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.submitted: list[dict[str, Any]] = []

    def create_run_from_pipeline_package(self, package: str, **kwargs: Any) -> FakeRun:
        self.submitted.append({"package": package, **kwargs})
        return FakeRun(f"kfp-run-{len(self.submitted)}")


def drifted(out_dir: Path) -> MonitorResult:
    verdict = Verdict("drift", ["40% of input columns drifted (amount; limit 30%)"], 500, 0)
    return MonitorResult(verdict, (NOON - timedelta(hours=24), NOON), "v1", out_dir, None, None)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FRAUD_WORKSPACE", str(tmp_path))
    for name in ("FRAUD_MONITOR_KFP_HOST", "FRAUD_MONITOR_PIPELINE", "FRAUD_SETTINGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def test_the_cronjob_submits_retraining_once_per_window_through_the_workspace_trigger(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients: list[FakeKfpClient] = []

    def connect(host: str) -> FakeKfpClient:
        clients.append(FakeKfpClient(host))
        return clients[-1]

    monkeypatch.setattr("kfp.Client", connect)
    result = drifted(workspace.paths.monitoring / "run")
    monkeypatch.setattr(monitor_job, "run_monitor", lambda settings, **_: result)
    monkeypatch.setenv("FRAUD_MONITOR_KFP_HOST", "http://kfp:8888")

    assert cronjob.main() == 10
    assert cronjob.main() == 10  # the same window again: no second run

    assert capsys.readouterr().out.splitlines() == [
        "verdict: drift: 40% of input columns drifted (amount; limit 30%)",
        f"reports: {result.out_dir}",
        "retraining: started kfp-run-1 40% of input columns drifted (amount; limit 30%)",
        "verdict: drift: 40% of input columns drifted (amount; limit 30%)",
        f"reports: {result.out_dir}",
        "retraining: already_running kfp-run-1 this window has a run",
    ]
    (client,) = clients
    assert client.host == "http://kfp:8888"
    assert client.submitted[0]["package"] == str(workspace.paths.compiled_pipeline)
    # The state the embedded loop reads too: artifacts/retraining/ of the workspace.
    runs = RetrainingTrigger.of(workspace).runs()
    assert runs[Window(*result.window).key]["run_id"] == "kfp-run-1"
    assert (workspace.paths.root / "artifacts" / "retraining" / "retraining.json").is_file()


def test_without_a_kfp_host_the_cronjob_only_judges(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = drifted(workspace.paths.monitoring / "run")
    monkeypatch.setattr(monitor_job, "run_monitor", lambda settings, **_: result)
    assert cronjob.main() == 10
    assert "retraining" not in capsys.readouterr().out
    assert RetrainingTrigger.of(workspace).runs() == {}


def outcome(promoted: bool) -> CanaryOutcome:
    return CanaryOutcome.from_record({
        "stable_version": "aaa", "candidate_version": "bbb", "promoted": promoted,
        "verdict": {
            "checks": [{"name": "ready", "ok": True, "detail": "candidate ready"},
                       {"name": "latency_p95", "ok": promoted, "detail": "p95 40 ms vs 12 ms"}],
            "reasons": ["every check passed"] if promoted else ["latency_p95: p95 40 ms vs 12 ms"],
        },
        "record": "/tmp/rollouts/x-bbb/rollout.json",
    })  # fmt: skip


@pytest.mark.parametrize(
    ("event", "lines"),
    [
        (
            StageDone("1/6 data", False, {"path": "/w/data/raw/t.parquet", "rows": 10}, 1.25),
            ["1/6 data: done in 1.2s (rows=10)", "  path: /w/data/raw/t.parquet"],
        ),
        (StageDone("features", True, {}), ["features: unchanged, skipped"]),
        ("feast apply", ["  · feast apply"]),
        (Notice("no production model in [registry]: nothing to serve"),
         ["no production model in [registry]: nothing to serve"]),
        (
            Retraining(TriggerResult("rate_limited", None, "last retraining started at t")),
            ["retraining not started: rate_limited (last retraining started at t)"],
        ),
        (
            Retraining(TriggerResult("started", "d"), RetrainOutcome(False, Path("/d.json"))),
            ["retrained model refused by the gate: production unchanged"],
        ),
    ],
    ids=["stage", "skipped-stage", "progress", "notice", "not-started", "gate-refused"],
)  # fmt: skip
def test_the_cli_prints_what_the_jobs_report(
    event: Any, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cli._show(event)
    assert capsys.readouterr().out.splitlines() == lines


@pytest.mark.parametrize("promoted", [True, False])
def test_the_cli_prints_a_canary_verdict(
    promoted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    cli._show(outcome(promoted))
    out = capsys.readouterr().out
    assert "Canary: candidate bbb vs stable aaa" in out
    last = out.splitlines()[-2:]
    if promoted:
        assert last[0] == "Promoted bbb to production."
    else:
        assert last[0] == "Rolled back: aaa keeps all traffic (latency_p95: p95 40 ms vs 12 ms)."
    assert last[1] == "Evidence: /tmp/rollouts/x-bbb/rollout.json"
