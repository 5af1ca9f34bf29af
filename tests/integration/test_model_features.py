"""Serving reads the features of the service a model was trained with: a model of the batch
aggregates (`…_v1`) is never served the real-time windows of `…_v2`, which share their names."""

from __future__ import annotations

import pytest

from fraud_detection.config import Settings
from fraud_detection.errors import FeatureRepoError
from fraud_detection.features.aggregates import PROFILE_FEATURES, STATS_FEATURES
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.serving.model_features import feature_service_of, open_model_features
from fraud_detection.serving.settings import ServingSettings

V1 = (*STATS_FEATURES, *PROFILE_FEATURES)
V2 = (*VELOCITY_FEATURES, *PROFILE_FEATURES)
V2_SERVICE = "fraud_features_v2"


def serving(settings: Settings) -> ServingSettings:
    return ServingSettings(feature_repo=settings.paths.feature_repo)


def test_a_v2_model_reads_velocity_from_the_card_events_and_the_profile_from_feast(
    ready_workspace: Settings,
) -> None:
    card = {"feature_service": V2_SERVICE}
    features = open_model_features(V2, card, serving(ready_workspace))
    assert features.real_time is not None and features.real_time.names == VELOCITY_FEATURES
    assert features.online.names == PROFILE_FEATURES


@pytest.mark.parametrize("card", [{"feature_service": feature_service_of({})}, {}])
def test_a_v1_model_reads_its_batch_aggregates_from_feast(
    ready_workspace: Settings, card: dict[str, str]
) -> None:
    features = open_model_features(V1, card, serving(ready_workspace))
    assert features.service == feature_service_of({})  # a card naming none predates v2
    assert features.real_time is None
    assert features.online.names == V1
    (values,) = features.online.lookup([1001]).values
    assert values["txn_count_30d"] is not None  # the materialized aggregate, not a window


def test_a_model_its_service_cannot_feed_is_refused_at_start(ready_workspace: Settings) -> None:
    reads = (*V2, "merchant_fraud_rate_7d")
    with pytest.raises(FeatureRepoError, match=r"the model reads .*; feature service .* serves"):
        open_model_features(
            reads, {"feature_service": "fraud_features_v2"}, serving(ready_workspace)
        )
