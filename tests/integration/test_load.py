"""A small bounded load against the real service: every request answered, none refused.

Concurrent asyncio clients (`fraud_detection.loadtest.generator.bounded_load`) send
single-row and batched scoring requests to a real BentoML server. The run is bounded in
requests and seconds; the test checks correctness under concurrency only (each request
answered with one score per transaction, in order, no error status). Speed is measured in
`bench/load.py`, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import production_server

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.loadtest.generator import bounded_load
from fraud_detection.rollout.traffic import payloads

pytestmark = pytest.mark.integration

MAX_SECONDS = 30.0


@pytest.fixture(scope="module")
def server(trained_workspace: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with production_server(trained_workspace, tmp_path_factory.mktemp("load-server")) as url:
        yield url


@pytest.fixture(scope="module")
def rows(trained_workspace: Settings) -> list[dict[str, Any]]:
    """The newest transactions of the workspace, as API requests."""
    transactions = load_transactions(trained_workspace.paths.transactions)
    return payloads(transactions.sort_values("event_timestamp").tail(1_000))


@pytest.mark.parametrize(
    ("clients", "requests", "batch_size"),
    [(8, 400, 1), (4, 60, 50)],
    ids=["8 clients, single rows", "4 clients, 50-row batches"],
)
def test_bounded_concurrent_load_is_answered_without_errors(
    server: str, rows: list[dict[str, Any]], clients: int, requests: int, batch_size: int
) -> None:
    result = bounded_load(
        server, rows, clients=clients, max_requests=requests, max_seconds=MAX_SECONDS,
        batch_size=batch_size, id_prefix="load",
    )  # fmt: skip
    print(result.summary())
    assert result.sent > 0
    assert result.errors == 0, result.statuses
    assert result.answered == result.sent
    assert result.statuses == {"200": result.sent}
    assert result.transactions_scored == result.sent * batch_size
    assert len(set(result.scored_ids)) == result.transactions_scored
