"""The scorer every baseline server wraps: same model, same feature store, same code path."""

from __future__ import annotations

from pathlib import Path

from fraud_detection.config import Settings
from fraud_detection.registry import ModelRegistry
from fraud_detection.serving.online_features import OnlineFeatures
from fraud_detection.serving.scoring import Scorer


def production_scorer(workspace: Path) -> Scorer:
    settings = Settings(workspace=workspace)
    production = ModelRegistry(settings.paths.registry, settings.model_name).require_production()
    features = OnlineFeatures(settings.paths.feature_repo, settings.feature_service)
    return Scorer(production.load(), features, production.version)
