"""Requests for canary analysis: scoring traffic and a labelled probe set, sent over HTTP.

Traffic is split between the predictors by weight (what the Gateway does in the cluster); the
labelled probe set goes to both, so their quality is compared on the same rows.
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

from fraud_detection.data.contract import LABEL
from fraud_detection.rollout.analysis import Measurements
from fraud_detection.training.evaluate import evaluate, threshold_at_fpr

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


def probe_set(transactions: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """The newest labelled rows, with every fraud kept so quality metrics mean something."""
    recent = transactions.sort_values("event_timestamp").tail(rows * 20)
    fraud = recent[recent[LABEL] == 1].tail(rows // 4)
    legit = recent[recent[LABEL] == 0].sample(
        min(rows - len(fraud), int((recent[LABEL] == 0).sum())), random_state=seed
    )
    return pd.concat([fraud, legit]).sort_values("event_timestamp", ignore_index=True)


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
    probe: pd.DataFrame,
    target_fpr: float,
    seed: int,
) -> dict[str, Measurements]:
    """Route `traffic` one transaction per request by weight, then send the probe set to all."""
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
    probe_rows = payloads(probe)
    labels = probe[LABEL].to_numpy()
    result = {}
    for name in names:
        quality = _probe_quality(clients[name], probe_rows, labels, target_fpr, stats[name])
        s = stats[name]
        result[name] = Measurements(
            ready=True, requests=s["requests"], errors=s["errors"],
            latencies_ms=tuple(s["lat"]), quality=quality,
        )  # fmt: skip
    return result


def _probe_quality(
    client: Client,
    rows: list[dict[str, Any]],
    labels: np.ndarray,
    target_fpr: float,
    stats: dict[str, Any],
    batch: int = 100,
) -> dict[str, float]:
    scores: list[float] = []
    for start in range(0, len(rows), batch):
        status, body, _ = client.score(rows[start : start + batch])
        stats["requests"] += 1
        if status != 200 or not isinstance(body, list):
            stats["errors"] += 1
            return {}
        scores += [float(item["fraud_probability"]) for item in body]
    values = np.array(scores)
    if len(set(labels.tolist())) < 2:
        return {}
    evaluation = evaluate(labels, values, threshold_at_fpr(labels, values, target_fpr), target_fpr)
    return {"pr_auc": evaluation.pr_auc, "recall_at_fpr": evaluation.recall_at_fpr}
