"""Baseline: the same scorer as a `kserve.Model` in KServe's Python ModelServer (v1 protocol).

POST /v1/models/fraud:predict {"instances": [transaction, ...]} → {"predictions": [...]}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import kserve
from pydantic import TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import production_scorer

from fraud_detection.serving.schemas import Transactions
from fraud_detection.serving.scoring import Scorer

_PARSE: TypeAdapter[Any] = TypeAdapter(Transactions)


class FraudModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, scorer: Scorer) -> None:
        super().__init__("fraud")
        self.scorer = scorer
        self.ready = True

    def predict(self, payload: dict[str, Any], headers: Any = None) -> dict[str, Any]:
        transactions = _PARSE.validate_python(payload["instances"])
        return {"predictions": [s.model_dump() for s in self.scorer.score(transactions)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args, _ = parser.parse_known_args()
    model = FraudModel(production_scorer(args.workspace))
    server = kserve.ModelServer(
        http_port=args.port, grpc_port=args.grpc_port, workers=1, enable_grpc=False
    )
    server.start([model])


if __name__ == "__main__":
    main()
