"""The retraining trigger: once per window, rate-limited, and consistent when launching fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraud_detection.config import RolloutSettings, Settings, TrainingSettings
from fraud_detection.errors import TriggerError
from fraud_detection.retraining.launchers import cluster_run_arguments, kfp_launcher
from fraud_detection.retraining.trigger import RetrainingTrigger, Window

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)
WINDOW = Window(NOON - timedelta(hours=1), NOON)


class Clock:
    def __init__(self) -> None:
        self.at = NOON

    def __call__(self) -> datetime:
        return self.at


def launcher(calls: list[str]) -> Any:
    def launch(window: Window, reason: str) -> str:
        calls.append(window.key)
        return f"run-{len(calls)}"

    return launch


def test_a_window_gets_one_run_even_when_the_monitor_fires_again(tmp_path: Path) -> None:
    calls: list[str] = []
    trigger = RetrainingTrigger(tmp_path, min_interval=timedelta(0))
    assert trigger.fire(WINDOW, "drift", launcher(calls)).status == "started"
    again = trigger.fire(WINDOW, "drift", launcher(calls))
    assert again.status == "already_running" and again.run_id == "run-1"
    trigger.finished(WINDOW, succeeded=True)
    assert trigger.fire(WINDOW, "drift", launcher(calls)).status == "already_done"
    assert calls == [WINDOW.key]


def test_runs_are_rate_limited(tmp_path: Path) -> None:
    clock, calls = Clock(), list[str]()
    trigger = RetrainingTrigger(tmp_path, min_interval=timedelta(hours=6), now=clock)
    trigger.fire(WINDOW, "drift", launcher(calls))
    later = Window(WINDOW.end, WINDOW.end + timedelta(hours=1))
    clock.at = NOON + timedelta(hours=2)
    assert trigger.fire(later, "drift", launcher(calls)).status == "rate_limited"
    clock.at = NOON + timedelta(hours=7)
    assert trigger.fire(later, "drift", launcher(calls)).status == "started"
    assert len(calls) == 2


def test_a_launch_failure_is_loud_recorded_and_retryable(tmp_path: Path) -> None:
    trigger = RetrainingTrigger(tmp_path, min_interval=timedelta(0))

    def unreachable(window: Window, reason: str) -> str:
        raise ConnectionError("KFP API at http://ml-pipeline:8888 refused the connection")

    with pytest.raises(TriggerError, match="refused the connection"):
        trigger.fire(WINDOW, "drift", unreachable)
    assert trigger.runs()[WINDOW.key]["status"] == "failed"
    assert not trigger.lock_file.exists()
    assert trigger.fire(WINDOW, "drift", launcher([])).status == "started"


def test_a_held_lock_refuses_a_concurrent_trigger(tmp_path: Path) -> None:
    trigger = RetrainingTrigger(tmp_path)
    trigger.lock_file.write_text("12345")
    with pytest.raises(TriggerError, match="another retraining trigger"):
        trigger.fire(WINDOW, "drift", launcher([]))


@dataclass
class FakeRun:
    run_id: str


class FakeKfpClient:
    """Stands in for kfp.Client: no KFP API can run here."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []

    def create_run_from_pipeline_package(self, package: str, **kwargs: Any) -> FakeRun:
        self.submitted.append({"package": package, **kwargs})
        return FakeRun("kfp-run-1")


@pytest.mark.parametrize("pushgateway", ["", "http://pushgateway.monitoring:9091"])
def test_kfp_launcher_submits_the_compiled_pipeline_with_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pushgateway: str
) -> None:
    monkeypatch.setenv("FRAUD_MONITOR_PUSHGATEWAY_URL", pushgateway)
    client = FakeKfpClient()
    launch = kfp_launcher("http://kfp", tmp_path / "p.yaml", {"max_iter": 250},
                          client_factory=lambda host: client)  # fmt: skip
    assert RetrainingTrigger(tmp_path).fire(WINDOW, "drift", launch).run_id == "kfp-run-1"
    (submitted,) = client.submitted
    # The run pushes its canary's outcome where the monitor pushes its verdict.
    assert submitted["arguments"] == {"max_iter": 250, "rollout": "kserve", "promote": False,
                                      "pushgateway_url": pushgateway}  # fmt: skip
    assert submitted["experiment_name"] == "retraining"


def test_the_retraining_run_carries_the_monitors_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_ROLLOUT__CANARY_PERCENT", "35")
    monkeypatch.setenv("FRAUD_TRAINING__MAX_ITER", "180")
    arguments = cluster_run_arguments(Settings())
    assert TrainingSettings.model_validate(arguments["training_settings"]).max_iter == 180
    assert RolloutSettings.model_validate(arguments["rollout_settings"]).canary_percent == 35
    # Every argument names a parameter of the compiled pipeline the CronJob submits.
    compiled = next(yaml.safe_load_all(Settings().paths.compiled_pipeline.read_text()))
    parameters = compiled["root"]["inputDefinitions"]["parameters"]
    assert set(arguments) <= set(parameters), set(arguments) - set(parameters)
