"""Canary a registered candidate against production on two local servers, then promote it or
roll it back (`fraud-detection canary`; on the cluster, the chart's rollout Job does this)."""

from __future__ import annotations

from fraud_detection.config import Settings
from fraud_detection.errors import NoCandidateError
from fraud_detection.jobs.events import CanaryOutcome, Report, discard
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout.embedded import run_canary


def canary(
    settings: Settings, version: str | None = None, report: Report = discard
) -> CanaryOutcome:
    """Canary `version` (default: the newest registered version that is not production).

    Raises:
        NoCandidateError: every registered version is production.
        NoProductionModelError: there is no production model to compare with.
    """
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    candidate = registry.get(version) if version else registry.newest_candidate()
    if candidate is None:
        raise NoCandidateError("no candidate: every registered version is production")
    return CanaryOutcome.of(run_canary(settings, candidate.version, report=report))
