"""Scoring traffic against a running server, summarised as latency figures.

`burst` sends rows sequentially over one connection. `bounded_load` runs N concurrent asyncio
clients (httpx) and stops at M requests or T seconds, whichever comes first, so a load test or
benchmark can never run away; every request is checked for one score per transaction sent.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
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


NO_RESPONSE = "no response"  # the status recorded when a request got no HTTP answer


@dataclass(frozen=True)
class LoadResult:
    """What a bounded load run sent and what came back.

    `errors` counts requests without a 200 carrying one score per transaction sent; latencies
    are those of the successful requests.
    """

    clients: int
    sent: int
    answered: int
    errors: int
    transactions_scored: int
    seconds: float
    stopped_by: str  # "requests" (the request budget was used) or "seconds" (the time limit)
    latencies_ms: tuple[float, ...]
    statuses: dict[str, int] = field(default_factory=dict)
    scored_ids: tuple[str, ...] = ()  # transaction ids answered, when the run tagged them

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def requests_per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.transactions_scored / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "sent": self.sent,
            "answered": self.answered,
            "errors": self.errors,
            "transactions_scored": self.transactions_scored,
            "seconds": round(self.seconds, 2),
            "stopped_by": self.stopped_by,
            "requests_per_second": round(self.requests_per_second, 1),
            "rows_per_second": round(self.rows_per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "statuses": dict(self.statuses),
        }


async def run_bounded_load(
    url: str,
    rows: Sequence[dict[str, Any]],
    *,
    clients: int,
    max_requests: int,
    max_seconds: float,
    batch_size: int = 1,
    id_prefix: str | None = None,
    timeout_s: float = 15.0,
) -> LoadResult:
    """POST /score from `clients` concurrent clients, each sending its next request as soon as
    the previous one is answered, until `max_requests` were sent or `max_seconds` passed.

    Requests cycle through `rows`, `batch_size` transactions each. With `id_prefix`, every
    transaction sent gets the unique id `<id_prefix>-<request>-<row>`, so the caller can find
    each one (in the prediction log, say). A request in flight at the deadline may take up to
    `timeout_s` more; nothing new starts after it.
    """
    if not rows:
        raise ValueError("no rows to send")
    requests = itertools.count()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    scored_ids: list[str] = []
    outcome = {"sent": 0, "answered": 0, "errors": 0, "scored": 0}
    started = time.perf_counter()
    deadline = started + max_seconds

    def batch_for(n: int) -> list[dict[str, Any]]:
        first = n * batch_size
        batch = [dict(rows[(first + j) % len(rows)]) for j in range(batch_size)]
        if id_prefix is not None:
            for j, row in enumerate(batch):
                row["transaction_id"] = f"{id_prefix}-{n}-{j}"
        return batch

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            n = next(requests)
            if n >= max_requests:
                return
            batch = batch_for(n)
            outcome["sent"] += 1
            sent_at = time.perf_counter()
            try:
                response = await client.post("/score", json={"transactions": batch})
            except httpx.HTTPError:
                statuses[NO_RESPONSE] += 1
                outcome["errors"] += 1
                continue
            elapsed_ms = (time.perf_counter() - sent_at) * 1000
            outcome["answered"] += 1
            statuses[str(response.status_code)] += 1
            if not _scores_every_transaction(response, batch):
                outcome["errors"] += 1
                continue
            latencies.append(elapsed_ms)
            outcome["scored"] += len(batch)
            if id_prefix is not None:
                scored_ids.extend(str(row["transaction_id"]) for row in batch)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return LoadResult(
        clients=clients,
        sent=outcome["sent"],
        answered=outcome["answered"],
        errors=outcome["errors"],
        transactions_scored=outcome["scored"],
        seconds=time.perf_counter() - started,
        stopped_by="requests" if outcome["sent"] >= max_requests else "seconds",
        latencies_ms=tuple(latencies),
        statuses=dict(statuses),
        scored_ids=tuple(scored_ids),
    )


def bounded_load(
    url: str,
    rows: Sequence[dict[str, Any]],
    *,
    clients: int,
    max_requests: int,
    max_seconds: float,
    batch_size: int = 1,
    id_prefix: str | None = None,
) -> LoadResult:
    """`run_bounded_load` from synchronous code (a script, a test, the CLI)."""
    return asyncio.run(
        run_bounded_load(
            url, rows, clients=clients, max_requests=max_requests, max_seconds=max_seconds,
            batch_size=batch_size, id_prefix=id_prefix,
        )
    )  # fmt: skip


def _scores_every_transaction(response: httpx.Response, batch: list[dict[str, Any]]) -> bool:
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, list)
        and len(body) == len(batch)
        and all(
            isinstance(score, dict) and score.get("transaction_id") == row.get("transaction_id")
            for score, row in zip(body, batch, strict=True)
        )
    )
