"""The scorer every baseline server wraps: same model, same feature stores, same code path."""

from __future__ import annotations

from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.errors import FeatureRepoError
from fraud_detection.registry import ModelRegistry
from fraud_detection.serving.model_features import open_model_features
from fraud_detection.serving.model_store import load_servable
from fraud_detection.serving.scoring import Scorer
from fraud_detection.serving.settings import ServingSettings


def production_scorer(workspace: Path) -> Scorer:
    settings = Settings(workspace=workspace)
    production = ModelRegistry(settings.paths.registry, settings.model_name).require_production()
    servable = load_servable(production.path)
    features = open_model_features(
        servable.model.looked_up, servable.card,
        ServingSettings(feature_repo=settings.paths.feature_repo),
    )  # fmt: skip
    # What the service's readiness probe does before its first request: the first lookup opens
    # Feast's registry and connection, and one that overruns its deadline degrades the next 5 s.
    if not features.online.reachable():
        raise FeatureRepoError("the online store does not answer")
    return Scorer(
        servable.model, features.online, servable.version,
        compiled=servable.compiled, real_time=features.real_time,
    )  # fmt: skip
