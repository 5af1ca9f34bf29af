"""Each card's recent transactions, kept where one card's read-and-append is atomic.

Serving records every scored transaction here and reads the card's velocity from the events it
keeps (`fraud_detection.features.velocity`), in one atomic step per request: the transactions of
one card in one request are applied in event-time order, each seeing the earlier ones, and two
requests for one card, on any replica, never lose each other's update.

Feast cannot hold this state: `push` overwrites an entity's row instead of appending to it, its
Redis store writes with a read-then-HSET and its SQLite store with an unconditional upsert (so
concurrent read-modify-write of one card loses updates), and its local engine computes no
windows. So the events live beside Feast's online store, in the same server or file:
- Redis (cluster profile): a sorted set per card, scored by event time, changed with ZADD and
  ZREMRANGEBYSCORE inside MULTI/EXEC;
- SQLite (embedded profile): a table in a file beside Feast's (`card_events_file`), changed in
  one IMMEDIATE transaction.

An event is a member `transaction_id:cents`, so recording the same transaction again (a retry,
a replay, the backfill of a history the store already holds) changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fraud_detection.errors import FeatureRepoError
from fraud_detection.features.velocity import (
    RETENTION,
    VELOCITY_FEATURES,
    WINDOWS_US,
    to_cents,
    to_micros,
    velocity_as_of,
)

# An event older than its card's newest by more than this is counted, but flagged `late`: the
# card's later transactions were already scored without it.
LATE_TOLERANCE = timedelta(minutes=5)
_LATE_US = int(LATE_TOLERANCE.total_seconds() * 1_000_000)
_KEEP_US = int((RETENTION + timedelta(days=1)).total_seconds() * 1_000_000)
_LONGEST_US = max(WINDOWS_US.values())


@dataclass(frozen=True)
class CardEvent:
    customer_id: int
    event_us: int
    amount_cents: int
    transaction_id: str

    @property
    def member(self) -> str:
        return f"{self.transaction_id}:{self.amount_cents}"


@dataclass(frozen=True)
class CardVelocity:
    """One transaction's velocity features, and whether it arrived late for its card."""

    values: dict[str, float | None]
    late: bool


def event(customer_id: int, event_us: int, amount: float, transaction_id: str | None) -> CardEvent:
    """A transaction as the store keeps it (one without an id gets a fresh one)."""
    cents = int(to_cents(np.array([amount]))[0])
    return CardEvent(int(customer_id), int(event_us), cents, transaction_id or uuid.uuid4().hex)


def events_of(transactions: pd.DataFrame) -> list[CardEvent]:
    """The events of a history (transaction_id, customer_id, event_timestamp, amount)."""
    times, cents = to_micros(transactions["event_timestamp"]), to_cents(transactions["amount"])
    return [
        CardEvent(int(c), int(t), int(a), str(i))
        for c, t, a, i in zip(
            transactions["customer_id"], times, cents, transactions["transaction_id"], strict=True
        )
    ]


class CardEventStore(Protocol):
    def record_and_read(self, events: Sequence[CardEvent]) -> list[CardVelocity]:
        """Record `events` and return each one's velocity as of its own time, in input order."""
        ...

    def backfill(self, events: Iterable[CardEvent]) -> int:
        """Record a history's events (idempotent); returns how many were given."""
        ...

    def clear(self) -> None:
        """Forget every card's events (the history they came from was replaced)."""
        ...


def _velocities(
    events: Sequence[CardEvent],
    held: dict[int, tuple[np.ndarray, np.ndarray]],
    newest_before: dict[int, int | None],
) -> list[CardVelocity]:
    """Each event's velocity from its card's held events (which include the request's own)."""
    out: list[CardVelocity] = []
    for e in events:
        times, cents = held[e.customer_id]
        values = velocity_as_of(times, cents, np.array([e.event_us]))
        newest = newest_before[e.customer_id]
        out.append(
            CardVelocity(
                {name: _number(values[name][0]) for name in VELOCITY_FEATURES},
                late=newest is not None and e.event_us < newest - _LATE_US,
            )
        )
    return out


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _by_card(events: Sequence[CardEvent]) -> dict[int, list[CardEvent]]:
    cards: dict[int, list[CardEvent]] = {}
    for e in sorted(events, key=lambda e: e.event_us):
        cards.setdefault(e.customer_id, []).append(e)
    return cards


class RedisCardEvents:
    """Sorted sets `<project>:card_events:<customer_id>` in the Redis of Feast's online store."""

    def __init__(self, client: Any, project: str) -> None:
        self.client = client
        self.prefix = f"{project}:card_events:"

    def record_and_read(self, events: Sequence[CardEvent]) -> list[CardVelocity]:
        cards = _by_card(events)
        pipe = self.client.pipeline(transaction=True)
        for card, card_events in cards.items():
            key = self.prefix + str(card)
            first, last = card_events[0].event_us, card_events[-1].event_us
            pipe.zrange(key, -1, -1, withscores=True)
            pipe.zadd(key, {e.member: e.event_us for e in card_events})
            pipe.zremrangebyscore(key, "-inf", f"({last - _KEEP_US}")
            pipe.zrangebyscore(key, first - _LONGEST_US, f"({last}", withscores=True)
            pipe.pexpire(key, _KEEP_US // 1000)
        replies = pipe.execute()
        held, newest = {}, {}
        for index, card in enumerate(cards):
            before, window = replies[5 * index], replies[5 * index + 3]
            newest[card] = int(before[0][1]) if before else None
            held[card] = (
                np.array([int(score) for _, score in window], dtype="int64"),
                np.array([int(m.rsplit(b":", 1)[1]) for m, _ in window], dtype="int64"),
            )
        return _velocities(events, held, newest)

    def backfill(self, events: Iterable[CardEvent]) -> int:
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for e in events:
            key = self.prefix + str(e.customer_id)
            pipe.zadd(key, {e.member: e.event_us})
            pipe.pexpire(key, _KEEP_US // 1000)
            count += 1
            if count % 5_000 == 0:
                pipe.execute()
        pipe.execute()
        return count

    def clear(self) -> None:
        for keys in _chunks(self.client.scan_iter(match=self.prefix + "*", count=1_000)):
            self.client.delete(*keys)


class SQLiteCardEvents:
    """A `card_events` table; one IMMEDIATE transaction per request serializes its writers."""

    def __init__(self, path: Path, timeout_s: float = 0.25) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(
                """
                CREATE TABLE IF NOT EXISTS card_events (
                    customer_id INTEGER NOT NULL, event_us INTEGER NOT NULL,
                    member TEXT NOT NULL, cents INTEGER NOT NULL,
                    PRIMARY KEY (customer_id, member));
                CREATE INDEX IF NOT EXISTS card_events_by_time
                    ON card_events (customer_id, event_us);
                """
            )

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def record_and_read(self, events: Sequence[CardEvent]) -> list[CardVelocity]:
        connection = self._connect()
        held, newest = {}, {}
        connection.execute("BEGIN IMMEDIATE")
        try:
            for card, card_events in _by_card(events).items():
                first, last = card_events[0].event_us, card_events[-1].event_us
                (newest[card],) = connection.execute(
                    "SELECT max(event_us) FROM card_events WHERE customer_id = ?", (card,)
                ).fetchone()
                connection.executemany(
                    "INSERT OR IGNORE INTO card_events VALUES (?, ?, ?, ?)",
                    [(card, e.event_us, e.member, e.amount_cents) for e in card_events],
                )
                connection.execute(
                    "DELETE FROM card_events WHERE customer_id = ? AND event_us < ?",
                    (card, last - _KEEP_US),
                )
                rows = connection.execute(
                    "SELECT event_us, cents FROM card_events WHERE customer_id = ? "
                    "AND event_us >= ? AND event_us < ? ORDER BY event_us",
                    (card, first - _LONGEST_US, last),
                ).fetchall()
                held[card] = (
                    np.array([r[0] for r in rows], dtype="int64"),
                    np.array([r[1] for r in rows], dtype="int64"),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return _velocities(events, held, newest)

    def backfill(self, events: Iterable[CardEvent]) -> int:
        # In primary-key order, so that SQLite appends to its B-tree rather than seeking.
        by_key = sorted(events, key=lambda e: (e.customer_id, e.member))
        rows = [(e.customer_id, e.event_us, e.member, e.amount_cents) for e in by_key]
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany("INSERT OR IGNORE INTO card_events VALUES (?, ?, ?, ?)", rows)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return len(rows)

    def clear(self) -> None:
        self._connect().execute("DELETE FROM card_events")


def _chunks(items: Iterable[Any], size: int = 1_000) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def card_events_file(feast_db: Path) -> Path:
    """The card events beside a SQLite online store (x.db: x.card_events.db)."""
    return feast_db.with_name(f"{feast_db.stem}.card_events.db")


def open_card_events(store: Any, timeout_s: float = 0.25) -> CardEventStore:
    """The event store beside a Feast store's online store: the same Redis, or a SQLite file
    in the same directory as Feast's."""
    online = store.config.online_store
    if online.type == "sqlite":
        feast_db = Path(store.repo_path) / online.path
        # Named after Feast's file, so that two profiles in one directory keep their own.
        return SQLiteCardEvents(card_events_file(feast_db), timeout_s)
    if online.type == "redis":
        from feast.infra.online_stores.redis import RedisOnlineStore
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if str(getattr(online, "redis_type", "redis")).rsplit(".", 1)[-1] != "redis":
            raise FeatureRepoError(
                f"card events need a single Redis; the online store is {online.redis_type}"
            )
        # Feast's own parser, so that one connection string means one server to both.
        nodes, options = RedisOnlineStore._parse_connection_string(online.connection_string)
        # The connection string's own options (a timeout among them) win over the defaults.
        timeouts = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
        # One immediate retry (a pooled connection the server closed), no backoff: redis-py's
        # default, three retries backing off up to 10 s, would hold a scoring request past its
        # own timeout while Redis is down, where it should be answered degraded at once.
        retry = Retry(NoBackoff(), retries=1)
        client = Redis(
            host=nodes[0]["host"], port=int(nodes[0]["port"]), retry=retry,
            **{**timeouts, **options},
        )  # fmt: skip
        return RedisCardEvents(client, store.config.project)
    raise FeatureRepoError(f"card events cannot live beside a {online.type!r} online store")
