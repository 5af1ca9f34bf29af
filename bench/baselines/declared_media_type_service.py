"""The project's BentoML service with one change: `score` declares its response's media type
(`ContentType("application/json")`). BentoML 1.4 otherwise works the media type out per
response, from a JSON schema of `list[Score]` it rebuilds each time
(`IORootModel.mime_type` → `model_json_schema`); the benchmark measures what that costs.

Serve: `bentoml serve bench.baselines.declared_media_type_service:DeclaredMediaType
--arg model_tag=…` from the repository root.
"""

from __future__ import annotations

from typing import Annotated

import bentoml
from bentoml.validators import ContentType

from fraud_detection.serving.http_contract import JsonOnly, OpenAPIErrors
from fraud_detection.serving.schemas import Score, Transactions
from serving.service import ConfiguredBodySizeLimit, FraudDetector

_SCORE = FraudDetector.apis["score"]  # type: ignore[attr-defined]


class _DeclaredMediaType(FraudDetector.inner):  # type: ignore[misc, name-defined]
    @bentoml.api(  # type: ignore[untyped-decorator]
        batchable=_SCORE.batchable,
        max_batch_size=_SCORE.max_batch_size,
        max_latency_ms=_SCORE.max_latency_ms,
    )
    def score(
        self, transactions: Transactions
    ) -> Annotated[list[Score], ContentType("application/json")]:
        scores: list[Score] = _SCORE.func(self, transactions)  # the project's own `score`
        return scores


DeclaredMediaType = bentoml.service(name="fraud-declared", **FraudDetector.config)(  # type: ignore[attr-defined]
    _DeclaredMediaType
)
DeclaredMediaType.add_asgi_middleware(ConfiguredBodySizeLimit)
DeclaredMediaType.add_asgi_middleware(JsonOnly)
DeclaredMediaType.add_asgi_middleware(OpenAPIErrors)
