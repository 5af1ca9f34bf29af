"""The prediction log: every scored transaction, appended off the request path.

Scoring threads put records on a bounded queue and return; one writer thread appends them as
JSON lines to `<dir>/date=YYYY-MM-DD/<model version>-<pid>.jsonl` and flushes about once a
second. Monitoring reads these files; delayed labels join them by `transaction_id`.

If the writer falls behind by more than `max_pending` records, new records are dropped and
counted (`dropped`) rather than slowing scoring down: the log is evidence for monitoring, and a
fraud decision must not wait for it. Records in the queue are written at shutdown.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


class PredictionLog:
    def __init__(
        self, directory: Path, model_version: str, max_pending: int = 100_000,
        flush_interval_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.directory = directory
        self.model_version = model_version
        self.flush_interval_s = flush_interval_s
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

    def record(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue records for writing; never blocks."""
        for item in records:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.dropped += 1

    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None:
        """Queue a function that builds `count` records; the writer thread calls it, so the
        cost of turning frames into JSON-ready records stays off the request path."""
        try:
            self._queue.put_nowait((build, count))
        except queue.Full:
            self.dropped += count

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._writer.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            try:
                item = self._queue.get(timeout=self.flush_interval_s)
                while True:
                    if item is _STOP:
                        stopping = True
                        break
                    if isinstance(item, tuple):
                        batch.extend(self._built(*item))
                    else:
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                try:
                    self._append(batch)
                except OSError:
                    log.exception("cannot write %d prediction log records", len(batch))
                    self.dropped += len(batch)

    def _built(self, build: Callable[[], list[dict[str, Any]]], count: int) -> list[dict[str, Any]]:
        try:
            return build()
        except Exception:  # records that cannot be built are lost, not the writer
            log.exception("cannot build %d prediction log records", count)
            self.dropped += count
            return []

    def _append(self, batch: list[dict[str, Any]]) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        path = self.directory / f"date={day}" / f"{self.model_version}-{os.getpid()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(item, default=str) + "\n" for item in batch)
        with path.open("a") as handle:
            handle.write(lines)
        self.written += len(batch)
