"""The card event store on real servers: concurrent requests for one card lose no update.

Redis is the cluster profile's store (a real server on loopback, tests/integration/stores.py);
SQLite the embedded one, here with writers in several processes as well as threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import redis
from stores import redis_server

from fraud_detection.features.card_events import (
    CardEventStore,
    RedisCardEvents,
    SQLiteCardEvents,
    event,
    open_card_events,
)
from fraud_detection.features.velocity import micros

T0 = pd.Timestamp("2026-01-01 12:00", tz="UTC")
WRITERS, EACH = 8, 40


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CardEventStore]:
    if request.param == "sqlite":
        # Waits of several writers add up: a generous lock timeout, as on a busy machine.
        yield SQLiteCardEvents(tmp_path / "card_events.db", timeout_s=30)
        return
    with redis_server(tmp_path / "redis") as server:
        client = redis.Redis(host="127.0.0.1", port=server.port, password=server.password)
        yield RedisCardEvents(client, "test")


def _record(store: CardEventStore, writer: int) -> list[float | None]:
    seen = []
    for i in range(EACH):
        when = micros(T0 + pd.Timedelta(seconds=writer * EACH + i))
        (velocity,) = store.record_and_read([event(7, when, 1.0, f"w{writer}-{i}")])
        seen.append(velocity.values["txn_count_1h"])
    return seen


def test_concurrent_requests_for_one_card_lose_no_update(store: CardEventStore) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda w: _record(store, w), range(WRITERS)))
    (after,) = store.record_and_read([event(7, micros(T0 + pd.Timedelta("30min")), 1.0, "end")])
    assert after.values["txn_count_1h"] == WRITERS * EACH
    assert after.values["amount_sum_24h"] == WRITERS * EACH * 1.0


def _process_writer(path: Path, writer: int) -> None:
    _record(SQLiteCardEvents(path, timeout_s=30), writer)


def test_sqlite_writers_in_several_processes_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "card_events.db"
    SQLiteCardEvents(path)  # creates the table before the writers race
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_process_writer, args=(path, w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    (after,) = SQLiteCardEvents(path).record_and_read(
        [event(7, micros(T0 + pd.Timedelta("30min")), 1.0, "end")]
    )
    assert after.values["txn_count_1h"] == 4 * EACH


def test_a_redis_that_is_down_fails_fast_and_loudly(tmp_path: Path) -> None:
    from fraud_detection.serving.local_server import free_port

    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.25)
    with pytest.raises(redis.ConnectionError):
        RedisCardEvents(client, "test").record_and_read([event(7, micros(T0), 1.0, "x")])


def test_the_serving_client_fails_at_once_when_redis_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py's default retries back off for up to 10 s each, longer than a scoring request
    may take; the client `open_card_events` builds retries once, without sleeping, so scoring
    answers degraded instead of timing out (504)."""
    from redis import retry as redis_retry

    from fraud_detection.serving.local_server import free_port

    slept: list[float] = []
    monkeypatch.setattr(redis_retry, "sleep", slept.append)
    online = SimpleNamespace(
        type="redis", redis_type="redis", connection_string=f"127.0.0.1:{free_port()}"
    )
    store = SimpleNamespace(config=SimpleNamespace(online_store=online, project="test"))
    with pytest.raises(redis.ConnectionError):
        open_card_events(store).record_and_read([event(7, micros(T0), 1.0, "x")])
    assert [s for s in slept if s > 0] == []
