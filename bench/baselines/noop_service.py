"""The framework's ceiling: a BentoML service configured as the project's (same traffic and
resources, same adaptive batching, same middleware, same request and response types) whose
`score` returns a constant. Whatever it costs is BentoML's, not the scorer's.

Serve: `bentoml serve bench.baselines.noop_service:NoOpDetector` from the repository root.
"""

from __future__ import annotations

import bentoml

from fraud_detection.serving.http_contract import JsonOnly, OpenAPIErrors
from fraud_detection.serving.schemas import Score, Transactions
from serving.service import ConfiguredBodySizeLimit, FraudDetector

# The API options are read from the project's service, so that a change there changes the
# ceiling too.
_SCORE = FraudDetector.apis["score"]  # type: ignore[attr-defined]
_CONSTANT = Score(
    transaction_id="constant", customer_id=0, fraud_probability=0.0, is_fraud=False,
    threshold=0.5, model_version="noop", missing_features=[], degraded=False,
)  # fmt: skip


@bentoml.service(name="fraud-noop", **FraudDetector.config)  # type: ignore[attr-defined]
class NoOpDetector:
    @bentoml.api(  # type: ignore[untyped-decorator]
        batchable=_SCORE.batchable,
        max_batch_size=_SCORE.max_batch_size,
        max_latency_ms=_SCORE.max_latency_ms,
    )
    def score(self, transactions: Transactions) -> list[Score]:
        return [_CONSTANT] * len(transactions)


NoOpDetector.add_asgi_middleware(ConfiguredBodySizeLimit)  # type: ignore[attr-defined]
NoOpDetector.add_asgi_middleware(JsonOnly)  # type: ignore[attr-defined]
NoOpDetector.add_asgi_middleware(OpenAPIErrors)  # type: ignore[attr-defined]
