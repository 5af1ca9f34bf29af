"""Online feature lookup for scoring, with a degraded mode when the store is unreachable.

An unknown customer gets no stored features (the model scores them as missing, which it was
trained to handle) and the response says which were missing. When the online store itself
fails, every request is still answered, flagged `degraded`, and readiness turns false so the
platform stops routing new traffic here until the store is back.

A store that is slow rather than down (a locked SQLite file waits 5 s, an unreachable Redis
its connect timeout) counts as failed after `lookup_timeout_s`: while one batch waits on the
store, BentoML's adaptive batching sheds the requests queued behind it with 503s, so waiting
for the store would turn degraded answers into refused ones.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    """Feature values per requested customer (None where missing), and whether the store failed."""

    values: list[dict[str, float | None]]
    degraded: bool


class OnlineFeatures:
    """Reads a feature service's latest values for a batch of customers."""

    def __init__(
        self,
        repo_path: Path,
        service_name: str,
        config_file: Path | None = None,
        probe_interval_s: float = 5.0,
        probe_timeout_s: float = 2.0,
        lookup_timeout_s: float = 0.25,
    ) -> None:
        from fraud_detection.features.feast_import import import_for_reading

        import_for_reading()  # a worker only reads the applied registry
        from fraud_detection.features import store as feature_store  # Feast is slow to import

        self.store = feature_store.open_store(repo_path, config_file)
        self.service = feature_store.require_applied(self.store, service_name)
        self.names = feature_store.feast_features(self.store, service_name)
        self.real_time = feature_store.real_time_features(self.service)
        self._probe_interval_s = probe_interval_s
        self._last_probe = (-float("inf"), False)
        # After a failure, requests skip the store until this time instead of each waiting for
        # connection timeouts; `reachable()` (the readiness probe) keeps checking meanwhile.
        self._skip_until = -float("inf")
        self._probe_timeout_s = probe_timeout_s
        self._prober = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-probe")
        self._probe: concurrent.futures.Future[bool] | None = None
        self._lookup_timeout_s = lookup_timeout_s
        # Request lookups run here so that a request can stop waiting for a hung store; a
        # lookup that overruns keeps its thread until the store answers or fails.
        self._lookups = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="store-lookup")

    def lookup(self, customer_ids: Sequence[int], probing: bool = False) -> Lookup:
        rows = [{"customer_id": int(c)} for c in customer_ids]
        if not probing and time.monotonic() < self._skip_until:
            return Lookup([dict.fromkeys(self.names) for _ in rows], degraded=True)
        try:
            if probing:  # the probe has its own deadline
                found = self._read(rows)
            else:
                pending = self._lookups.submit(self._read, rows)
                found = pending.result(self._lookup_timeout_s)
        except TimeoutError:
            log.warning(
                "online feature lookup did not answer within %.2fs; "
                "scoring without stored features",
                self._lookup_timeout_s,
            )
            # A store that fails slowly (a slow machine, a cold connection) would otherwise
            # never say why: its error arrives after the request stopped waiting.
            pending.add_done_callback(_log_late_failure)
            self._last_probe = (time.monotonic(), False)
            self._skip_until = time.monotonic() + self._probe_interval_s
            return Lookup([dict.fromkeys(self.names) for _ in rows], degraded=True)
        except Exception:  # any store failure degrades the answer instead of failing it
            log.exception("online feature lookup failed; scoring without stored features")
            self._last_probe = (time.monotonic(), False)
            self._skip_until = time.monotonic() + self._probe_interval_s
            return Lookup([dict.fromkeys(self.names) for _ in rows], degraded=True)
        values = [{name: _number(found[name][i]) for name in self.names} for i in range(len(rows))]
        return Lookup(values, degraded=False)

    def _read(self, rows: list[dict[str, int]]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = self.store.get_online_features(
            features=self.service, entity_rows=rows
        ).to_dict()
        return found

    def reachable(self) -> bool:
        """Whether a lookup works now (checked at most every `probe_interval_s` seconds).

        A probe that has not answered within `probe_timeout_s` counts as a failure (a store
        that hangs is as unusable as one that refuses): the readiness endpoint must answer
        quickly whatever the store does. The probe keeps running in the background.
        """
        checked_at, ok = self._last_probe
        if time.monotonic() - checked_at < self._probe_interval_s:
            return ok
        if self._probe is None or self._probe.done():
            self._probe = self._prober.submit(lambda: not self.lookup([0], probing=True).degraded)
        try:
            ok = self._probe.result(timeout=self._probe_timeout_s)
        except concurrent.futures.TimeoutError:
            ok = False
        now = time.monotonic()
        self._last_probe = (now, ok)
        self._skip_until = -float("inf") if ok else now + self._probe_interval_s
        return ok


def _log_late_failure(lookup: concurrent.futures.Future[dict[str, list[Any]]]) -> None:
    error = lookup.exception()
    if error is not None:
        log.warning("online feature lookup failed after its deadline: %s", error)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
