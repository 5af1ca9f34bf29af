"""Live traffic for canary analysis: scoring requests sent over HTTP, split by weight.

Traffic is split between the predictors by weight (what the Gateway does in the cluster) and
measures what only the real predictors show: their errors and latency. Quality is not measured
here: a predictor looks up the latest online features, later than an old labelled transaction,
so the labelled probe set is scored where the rollout runs, with point-in-time features
(`rollout.probe`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

from fraud_detection.rollout.analysis import Measurements

REQUEST_FIELDS = (
    "transaction_id", "customer_id", "amount", "merchant_category",
    "distance_from_home_km", "card_present", "event_timestamp",
)  # fmt: skip


def payloads(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready transactions (the API's request fields) from contract-shaped rows."""
    rows = frame[list(REQUEST_FIELDS)].astype(object).where(frame.notna(), None)
    out: list[dict[str, Any]] = rows.to_dict(orient="records")
    for row in out:
        row["event_timestamp"] = pd.Timestamp(row["event_timestamp"]).isoformat()
    return out


# A connection the server closed while it sat idle in the pool: what a resend can cure.
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass
class Client:
    """A keep-alive HTTP client for one predictor: one connection, reused request after request,
    10 s for connecting and for each read and write, never through a proxy."""

    url: str

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.url, timeout=10, limits=httpx.Limits(max_connections=1), trust_env=False
        )
        self._reused = False  # the connection has carried a response and may have gone idle

    def score(self, transactions: Sequence[dict[str, Any]]) -> tuple[int, Any, float]:
        """POST /score; returns (status, parsed body or None, latency in ms).

        The server closes a keep-alive connection idle for 5 s (uvicorn's default), as happens
        to one predictor while the other is slow: a request that finds its reused connection
        closed is sent once more on a new one instead of being counted as an error.
        """
        body = json.dumps({"transactions": list(transactions)})
        headers = {"Content-Type": "application/json"}
        while True:
            reused, started = self._reused, time.perf_counter()
            try:
                response = self._http.post("/score", content=body, headers=headers)
                data = response.content
                status = response.status_code
                self._reused = True
                break
            except httpx.TransportError as exc:
                self._reused = False
                if reused and isinstance(exc, _STALE_CONNECTION):
                    continue
                return 599, None, (time.perf_counter() - started) * 1000
        elapsed = (time.perf_counter() - started) * 1000
        try:
            parsed = json.loads(data)
        except json.JSONDecodeError:
            parsed = None
        return status, parsed, elapsed

    def close(self) -> None:
        self._http.close()


def measure(
    clients: dict[str, Client],
    weights: dict[str, float],
    traffic: list[dict[str, Any]],
    seed: int,
) -> dict[str, Measurements]:
    """Route `traffic` one transaction per request by weight; count each predictor's requests,
    errors and latencies."""
    rng = np.random.default_rng(seed)
    names = list(clients)
    p = np.array([weights[n] for n in names], dtype=float)
    route = rng.choice(len(names), size=len(traffic), p=p / p.sum())
    stats: dict[str, dict[str, Any]] = {n: {"requests": 0, "errors": 0, "lat": []} for n in names}
    for row, which in zip(traffic, route, strict=True):
        name = names[which]
        status, _, ms = clients[name].score([row])
        stats[name]["requests"] += 1
        if status == 200:
            stats[name]["lat"].append(ms)
        else:
            stats[name]["errors"] += 1
    return {
        name: Measurements(
            ready=True, requests=s["requests"], errors=s["errors"], latencies_ms=tuple(s["lat"])
        )
        for name, s in stats.items()
    }
