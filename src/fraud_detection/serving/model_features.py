"""The features a served model reads: those of the feature service it was trained with.

A model card names its feature service; serving reads that service's features from Feast and,
when the service names real-time features, the card velocity from the card event store. So a
model trained on the batch aggregates of `…_v1` is served those, and never the real-time
windows of `…_v2` that share their names. A card without a service predates `…_v2`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fraud_detection.errors import FeatureRepoError
from fraud_detection.features.card_events import open_card_events
from fraud_detection.identity import Identity
from fraud_detection.serving.online_features import OnlineFeatures
from fraud_detection.serving.real_time_features import RealTimeFeatures
from fraud_detection.serving.settings import ServingSettings


@dataclass(frozen=True)
class ModelFeatures:
    service: str
    online: OnlineFeatures
    real_time: RealTimeFeatures | None


def feature_service_of(card: dict[str, Any]) -> str:
    """The service a model was trained with (cards before real-time features name none)."""
    return str(card.get("feature_service") or Identity().batch_feature_service)


def open_model_features(
    looked_up: tuple[str, ...], card: dict[str, Any], settings: ServingSettings,
    on_lost: Callable[[int], None] = lambda count: None,
) -> ModelFeatures:  # fmt: skip
    """Open the stores of the model's features; refuse a model its service cannot feed."""
    service = settings.feature_service or feature_service_of(card)
    online = OnlineFeatures(
        settings.feature_repo, service, settings.feature_store_yaml,
        lookup_timeout_s=settings.lookup_timeout_s,
    )  # fmt: skip
    served = (*online.real_time, *online.names)
    if tuple(looked_up) != served:
        raise FeatureRepoError(
            f"the model reads {', '.join(looked_up)}; feature service {service!r} serves "
            f"{', '.join(served)}"
        )
    real_time = None
    if online.real_time:
        events = open_card_events(online.store, settings.card_events_timeout_s)
        real_time = RealTimeFeatures(events, online.real_time, on_lost)
    return ModelFeatures(service, online, real_time)
