"""The prediction log: every scored transaction, appended off the request path.

Scoring threads put records on a bounded queue and return; one writer thread appends them as
JSON lines to `<dir>/date=YYYY-MM-DD/<model version>-<pid>.jsonl` and flushes about once a
second. Monitoring reads these files; delayed labels join them by `transaction_id`.

If the writer falls behind by more than `max_pending` records, new records are dropped and
counted (`dropped`) rather than slowing scoring down: the log is evidence for monitoring, and a
fraud decision must not wait for it. Records in the queue are written at shutdown. Every lost
record (queue full, write or build failure) is logged and passed to `on_drop`, which the
service turns into a Prometheus counter.

The bound counts records, not requests: a queued request holds its whole batch's frames (about
50 KiB for one row, measured), so a writer stuck on a hung disk must not be able to queue more
than a few hundred MB before records are dropped.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()
# At most one "queue full" warning per this many seconds (the count is in every warning).
_FULL_WARNING_INTERVAL_S = 60.0


class PredictionLog:
    def __init__(
        self, directory: Path, model_version: str, max_pending: int = 5_000,
        flush_interval_s: float = 1.0, on_drop: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        self.directory = directory
        self.model_version = model_version
        self.max_pending = max_pending
        self.flush_interval_s = flush_interval_s
        self.dropped = 0
        self.written = 0
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._pending = 0  # records queued or being written
        self._full_warned_at = -float("inf")
        self._queue: queue.Queue[Any] = queue.Queue()
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

    def record(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue records for writing; never blocks."""
        for item in records:
            if self._admit(1):
                self._queue.put_nowait(item)

    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None:
        """Queue a function that builds `count` records; the writer thread calls it, so the
        cost of turning frames into JSON-ready records stays off the request path."""
        if self._admit(count):
            self._queue.put_nowait((build, count))

    def _admit(self, count: int) -> bool:
        with self._lock:
            admitted = self._pending + count <= self.max_pending
            if admitted:
                self._pending += count
        if not admitted:
            self._drop(count)
            now = time.monotonic()
            if now - self._full_warned_at >= _FULL_WARNING_INTERVAL_S:
                self._full_warned_at = now
                log.warning(
                    "prediction log writer is %d records behind (limit %d): dropping new "
                    "records, %d dropped so far", self._pending, self.max_pending, self.dropped,
                )  # fmt: skip
        return admitted

    def _drop(self, count: int) -> None:
        with self._lock:
            self.dropped += count
        if self._on_drop is not None:
            try:
                self._on_drop(count)
            except Exception:  # reporting the loss must not fail the caller
                log.exception("cannot report %d dropped prediction log records", count)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._writer.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            taken = 0  # admitted records taken off the queue in this round
            try:
                item = self._queue.get(timeout=self.flush_interval_s)
                while True:
                    if item is _STOP:
                        stopping = True
                        break
                    if isinstance(item, tuple):
                        taken += item[1]
                        batch.extend(self._built(*item))
                    else:
                        taken += 1
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                try:
                    self._append(batch)
                except OSError:
                    log.exception("cannot write %d prediction log records", len(batch))
                    self._drop(len(batch))
            with self._lock:
                self._pending -= taken

    def _built(self, build: Callable[[], list[dict[str, Any]]], count: int) -> list[dict[str, Any]]:
        try:
            return build()
        except Exception:  # records that cannot be built are lost, not the writer
            log.exception("cannot build %d prediction log records", count)
            self._drop(count)
            return []

    def _append(self, batch: list[dict[str, Any]]) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        path = self.directory / f"date={day}" / f"{self.model_version}-{os.getpid()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(item, default=str) + "\n" for item in batch)
        with path.open("a") as handle:
            handle.write(lines)
        self.written += len(batch)
