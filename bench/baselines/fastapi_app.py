"""Baseline: the same scorer behind a plain FastAPI app on one uvicorn worker (no batching)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import production_scorer

from fraud_detection.serving.schemas import Score, Transactions


class Request(BaseModel):
    transactions: Transactions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    scorer = production_scorer(args.workspace)
    app = FastAPI()

    @app.post("/score")
    def score(request: Request) -> list[Score]:
        return scorer.score(request.transactions)

    @app.get("/readyz")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", workers=1)


if __name__ == "__main__":
    main()
