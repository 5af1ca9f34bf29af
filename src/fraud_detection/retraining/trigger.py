"""The retraining trigger: idempotent per data window, rate-limited, safe against concurrency.

State lives in one JSON file next to a lock file, in one directory whoever fires the trigger
(`RetrainingTrigger.of`: `artifacts/retraining/` of the workspace, on the cluster the
workspace volume), so the embedded loop and the CronJob see each other's runs:

- a window that already has a run (running or finished) never gets a second one;
- no new run starts within `min_interval` of the previous start;
- two monitors firing at once cannot both launch: the lock is taken with O_EXCL;
- if the launcher fails (say, the KFP API is unreachable), the attempt is recorded as failed,
  the lock is released, and the error propagates: the next monitor run may try again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fraud_detection.config import Settings
from fraud_detection.errors import TriggerError

Status = Literal["started", "already_done", "already_running", "rate_limited"]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class TriggerResult:
    status: Status
    run_id: str | None = None
    detail: str = ""


# Starts a retraining run for the window and returns its run id; blocking (embedded) or not.
Launcher = Callable[[Window, str], str]


class RetrainingTrigger:
    def __init__(
        self, state_dir: Path, min_interval: timedelta = timedelta(hours=6),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:  # fmt: skip
        self.state_file = state_dir / "retraining.json"
        self.lock_file = state_dir / "retraining.lock"
        self.min_interval = min_interval
        self.now = now

    @classmethod
    def of(cls, settings: Settings) -> RetrainingTrigger:
        """The workspace's trigger: its state under `artifacts/retraining/`, its rate limit
        `monitor.retrain_min_interval_hours`. Every caller (CLI, demo, CronJob) uses this one."""
        return cls(
            settings.paths.root / "artifacts" / "retraining",
            min_interval=timedelta(hours=settings.monitor.retrain_min_interval_hours),
        )

    def fire(self, window: Window, reason: str, launch: Launcher) -> TriggerResult:
        """Start retraining for `window` unless the rules above say not to."""
        with self._locked():
            state = self._read()
            runs: dict[str, dict[str, Any]] = state.setdefault("runs", {})
            previous = runs.get(window.key)
            if previous and previous["status"] in ("running", "succeeded"):
                status: Status = (
                    "already_running" if previous["status"] == "running" else "already_done"
                )
                return TriggerResult(status, previous.get("run_id"), "this window has a run")
            last_start = state.get("last_start")
            if last_start and self.now() - datetime.fromisoformat(last_start) < self.min_interval:
                return TriggerResult(
                    "rate_limited", None, f"last retraining started at {last_start}"
                )
            started = self.now().isoformat()
            runs[window.key] = {"status": "running", "reason": reason, "started": started}
            state["last_start"] = started
            self._write(state)
        try:
            run_id = launch(window, reason)
        except Exception as exc:
            self._finish(window, "failed", error=f"{type(exc).__name__}: {exc}")
            raise TriggerError(f"could not start retraining for {window.key}: {exc}") from exc
        self._finish(window, "running", run_id=run_id)
        return TriggerResult("started", run_id, reason)

    def finished(self, window: Window, succeeded: bool) -> None:
        """Record the end of a window's run (the embedded launcher calls this itself)."""
        self._finish(window, "succeeded" if succeeded else "failed")

    def runs(self) -> dict[str, dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = self._read().get("runs", {})
        return runs

    def _finish(self, window: Window, status: str, **extra: Any) -> None:
        with self._locked():
            state = self._read()
            entry = state.setdefault("runs", {}).setdefault(window.key, {})
            entry.update({"status": status, **extra, "updated": self.now().isoformat()})
            self._write(state)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            raise TriggerError(
                f"another retraining trigger holds {self.lock_file}; if no monitor is running, "
                "remove the file"
            ) from None
        try:
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)
            self.lock_file.unlink(missing_ok=True)

    def _read(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_text())
        except json.JSONDecodeError as exc:
            raise TriggerError(f"retraining state {self.state_file} is corrupt: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)
