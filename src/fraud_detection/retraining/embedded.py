"""Retraining on one machine: new data → features → the training pipeline → canary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.loop import prepare_data, prepare_features
from fraud_detection.registry import ModelRegistry


def retrain(
    settings: Settings, drift: DriftSpec, report: Callable[[str], None] = print
) -> dict[str, Any]:
    """Retrain on the history as it now looks (`drift` applied), then canary the result.

    The pipeline registers a passing model without promoting it; the canary decides.
    """
    from fraud_detection.rollout.embedded import run_canary
    from pipelines import run_local

    report("regenerating the history as the world now looks")
    prepare_data(settings, drift)
    prepare_features(settings, progress=report)
    run = run_local.run(settings, report=report)
    outcome: dict[str, Any] = {"gate": run.decision["passed"], "decision": str(run.decision_file)}
    if not run.decision["passed"]:
        report("the gate refused the retrained model; production is unchanged")
        return outcome
    version = run.registered_version()
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    if production is None or production.version == version:
        return {**outcome, "version": version, "promoted": production is not None}
    result = run_canary(settings, version, report=report)
    return {**outcome, **result.to_dict(), "record": str(result.record)}
