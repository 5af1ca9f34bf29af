"""A short burst of scoring traffic against a running server, summarised as latency figures."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraud_detection.rollout.traffic import Client


@dataclass(frozen=True)
class BurstResult:
    requests: int
    rows: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rows": self.rows,
            "errors": self.errors,
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "rows_per_second": round(self.rows_per_second, 1),
        }


def burst(url: str, rows: Sequence[dict[str, Any]], batch_size: int = 1) -> BurstResult:
    """Send `rows` sequentially in requests of `batch_size` over one keep-alive connection."""
    client = Client(url)
    latencies, errors, requests = [], 0, 0
    started = time.perf_counter()
    try:
        for start in range(0, len(rows), batch_size):
            status, _, ms = client.score(rows[start : start + batch_size])
            requests += 1
            if status == 200:
                latencies.append(ms)
            else:
                errors += 1
    finally:
        client.close()
    return BurstResult(requests, len(rows), errors, time.perf_counter() - started, tuple(latencies))
