"""The canary's readiness deadline covers what the chart lets a predictor take to start: a
deadline shorter than the startup probe rolls back a slow but healthy candidate."""

from __future__ import annotations

import yaml
from toolbox import CHART

from fraud_detection.config import RolloutSettings

# Scheduling, KServe's reconcile and any init container, before the container starts.
BEFORE_START_S = 60


def test_ready_timeout_covers_the_predictors_startup_allowance() -> None:
    probes = yaml.safe_load((CHART / "values.yaml").read_text())["probes"]
    startup, readiness = probes["startup"], probes["readiness"]
    allowance = (
        startup["periodSeconds"] * startup["failureThreshold"]
        + readiness["periodSeconds"] + readiness["timeoutSeconds"]
        + BEFORE_START_S
    )  # fmt: skip
    deadline = RolloutSettings().ready_timeout_s
    assert deadline >= allowance, (
        f"rollout.ready_timeout_s {deadline:g} s is shorter than the predictor may take to "
        f"become ready ({allowance} s: charts/fraud-detection/values.yaml probes)"
    )
