"""The fraud-scoring BentoML service: online features from Feast, the gated model, one API.

    POST /score   {"transactions": [...]}  → one Score per transaction (adaptive batching)
    POST /model   {}                       → the served model's version, threshold and metrics
    GET  /livez, /readyz, /metrics         → BentoML's health and Prometheus endpoints

Serve locally: `bentoml serve serving.service:FraudDetector --arg model_tag=NAME:VERSION`.
`/readyz` is false until the model is loaded and the online store answers.

At import, only what BentoML reads from the module: the build arguments, the bundled model, the
service's name and configuration (the name is project.env's MODEL_NAME) and its middleware.
Settings, log filters, metrics, the model's code (scikit-learn, treelite) and the feature
stores' (pandas, Feast) wait for the service's `__init__`, in the worker: `bentoml serve`
imports this module in its supervisor too, which scores nothing, and every server start would
pay those imports twice (about 2 s on a 2-core machine).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import bentoml
from bentoml.validators import ContentType
from prometheus_client import Counter
from pydantic import BaseModel, Field

from fraud_detection import third_party_warnings
from fraud_detection.identity import Identity
from fraud_detection.serving import log_filters
from fraud_detection.serving.body_limit import ASGIApp, BodySizeLimit
from fraud_detection.serving.http_contract import JsonOnly, OpenAPIErrors
from fraud_detection.serving.schemas import MAX_BATCH, ModelInfo, Score, Transactions
from fraud_detection.serving.settings import ServingSettings

if TYPE_CHECKING:
    from fraud_detection.serving.model_store import ServableModel


class BuildArguments(BaseModel):
    # The BentoML model bundled into the Bento (`--arg model_tag=...` at build and serve).
    model_tag: str = Field(default_factory=lambda: f"{Identity().model_name}:latest")


ARGS = bentoml.use_arguments(BuildArguments)


@cache
def prediction_log_dropped() -> Counter:
    """Exported on /metrics with BentoML's own metrics: monitoring is blind to what the log
    loses. Registered once per process, by the first service instance."""
    return Counter(
        "fraud_prediction_log_dropped_records",
        "Scored transactions the prediction log lost (writer too far behind, or the write failed).",
    )


@cache
def card_event_updates_lost() -> Counter:
    """Scored transactions the card event store did not record: their cards' next
    transactions are scored without them."""
    return Counter(
        "fraud_card_event_updates_lost",
        "Scored transactions whose card velocity update was lost (the event store failed).",
    )


@cache
def scored_transactions() -> Counter:
    """Scored transactions by `degraded` (the online store did not answer): the degraded share
    is alerted on (charts/fraud-detection/files/alert-rules.yaml)."""
    counter = Counter(
        "fraud_scored_transactions",
        "Transactions scored, by whether the online store answered (degraded=false) or not.",
        ["degraded"],
    )
    for degraded in ("true", "false"):  # both series exist from the start, at 0
        counter.labels(degraded=degraded)
    return counter


class ConfiguredBodySizeLimit(BodySizeLimit):
    """`BodySizeLimit` with the limit of `ServingSettings`, read when the worker builds its ASGI
    app: `add_asgi_middleware` takes the middleware's options at import, when no settings
    should be read yet."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, max_bytes=ServingSettings().max_body_bytes)


@bentoml.service(
    name=Identity().model_name,
    traffic={"timeout": 10, "max_concurrency": 256},
    resources={"cpu": "1", "memory": "1Gi"},
    http={"port": 3000},
)
class FraudDetector:
    bundled_model = bentoml.models.BentoModel(ARGS.model_tag)

    def __init__(self) -> None:
        from fraud_detection.serving.model_features import open_model_features
        from fraud_detection.serving.model_store import load_servable
        from fraud_detection.serving.prediction_log import PredictionLog
        from fraud_detection.serving.scoring import Scorer

        settings = ServingSettings()
        log_filters.install()
        model_dir = settings.model_dir or Path(self.bundled_model.path)
        self.servable: ServableModel = load_servable(model_dir)
        # The features of the service the model was trained with (its card names it).
        self.model_features = open_model_features(
            self.servable.model.looked_up, self.servable.card, settings,
            on_lost=card_event_updates_lost().inc,
        )  # fmt: skip
        self.features = self.model_features.online
        third_party_warnings.quiet()  # again: opening the store imported Feast
        self.prediction_log = (
            PredictionLog(
                settings.prediction_log_dir,
                self.servable.version,
                on_drop=prediction_log_dropped().inc,
            )
            if settings.prediction_log_dir
            else None
        )
        self.scorer = Scorer(
            self.servable.model, self.features, self.servable.version, self.prediction_log,
            real_time=self.model_features.real_time, compiled=self.servable.compiled,
        )  # fmt: skip
        scored_transactions()  # registered with the worker, before the first request

    # Adaptive batching sheds (503) a request it expects to wait longer than max_latency_ms;
    # 1 s leaves room for a busy CPU, well inside the 10 s request timeout.
    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=1000)
    def score(
        self, transactions: Transactions
    ) -> Annotated[list[Score], ContentType("application/json")]:
        # The declared media type spares BentoML 1.4 rebuilding the JSON schema of list[Score]
        # on every response to work it out: half the worker's event-loop time at 32 clients
        # (bench/README.md).
        """Fraud probability and decision per transaction, with the features that were missing."""
        scores = self.scorer.score(transactions)
        degraded = sum(score.degraded for score in scores)
        scored_transactions().labels(degraded="true").inc(degraded)
        scored_transactions().labels(degraded="false").inc(len(scores) - degraded)
        return scores

    @bentoml.api
    def model(self) -> ModelInfo:
        card = self.servable.card
        return ModelInfo(
            name=str(card.get("name", Identity().model_name)),
            version=self.servable.version,
            threshold=self.servable.model.threshold,
            features=self.servable.model.feature_columns,
            metrics={k: float(v) for k, v in card.get("metrics", {}).items()},
        )

    @bentoml.on_shutdown
    def close_prediction_log(self) -> None:
        if self.prediction_log is not None:
            self.prediction_log.close()

    def __is_ready__(self) -> bool:
        return self.features.reachable()


# `@bentoml.service` returns a Service object; mypy sees the undecorated class.
FraudDetector.add_asgi_middleware(ConfiguredBodySizeLimit)  # type: ignore[attr-defined]
FraudDetector.add_asgi_middleware(JsonOnly)  # type: ignore[attr-defined]
FraudDetector.add_asgi_middleware(OpenAPIErrors)  # type: ignore[attr-defined]
