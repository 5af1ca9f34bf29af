"""The previous serving path as a service: the project's BentoML service, unchanged but for the
model call, which goes through the scikit-learn pipeline on a DataFrame (`FraudModel.score`'s
path: `model.inputs(DataFrame(rows))`, then `predict_proba`) instead of the compiled trees.
Features (card events, Feast) and everything else are the project's.

Serve: `bentoml serve bench.baselines.dataframe_service:DataFrameDetector --arg model_tag=…`
from the repository root.
"""

from __future__ import annotations

import bentoml

from fraud_detection.serving.http_contract import JsonOnly, OpenAPIErrors
from fraud_detection.serving.inference import PipelineInference
from serving.service import ConfiguredBodySizeLimit, FraudDetector


class _DataFrameDetector(FraudDetector.inner):  # type: ignore[misc, name-defined]
    def __init__(self) -> None:
        super().__init__()
        self.scorer.inference = PipelineInference(self.servable.model)


DataFrameDetector = bentoml.service(name="fraud-dataframe", **FraudDetector.config)(  # type: ignore[attr-defined]
    _DataFrameDetector
)
DataFrameDetector.add_asgi_middleware(ConfiguredBodySizeLimit)
DataFrameDetector.add_asgi_middleware(JsonOnly)
DataFrameDetector.add_asgi_middleware(OpenAPIErrors)
