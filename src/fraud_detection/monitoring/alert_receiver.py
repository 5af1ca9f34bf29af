"""A local Alertmanager webhook receiver: each notification Alertmanager POSTs is appended to a
file as one JSON line, beside the time it arrived. `make observe` runs it as Alertmanager's
receiver (observe/alertmanager.yml); the alerting test and the demo read its file.

    python -m fraud_detection.monitoring.alert_receiver --out alerts.jsonl [--port 9095]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY_BYTES = 1_000_000  # Alertmanager's notifications are small; refuse anything larger


class AlertReceiver(ThreadingHTTPServer):
    """Listens on 127.0.0.1 (port 0: a free one) and appends notifications to `out`."""

    daemon_threads = True

    def __init__(self, out: Path, port: int = 0) -> None:
        self.out = out
        self.lock = threading.Lock()  # one line at a time, whole
        out.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def record(self, notification: dict[str, Any]) -> None:
        line = {"received_at": datetime.now(UTC).isoformat(), "notification": notification}
        with self.lock, self.out.open("a") as file:
            file.write(json.dumps(line, sort_keys=True) + "\n")


class _Handler(BaseHTTPRequestHandler):
    server: AlertReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            self._answer(400, f"expected a JSON body of 1 to {MAX_BODY_BYTES} bytes")
            return
        try:
            notification = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._answer(400, f"the body is not JSON: {exc}")
            return
        if not isinstance(notification, dict) or not isinstance(notification.get("alerts"), list):
            self._answer(400, "expected an Alertmanager notification: an object with 'alerts'")
            return
        self.server.record(notification)
        self._answer(200, "recorded")

    def _answer(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the file is the record."""


@contextmanager
def receiving(out: Path, port: int = 0) -> Iterator[AlertReceiver]:
    """A receiver serving in a background thread until the block ends."""
    server = AlertReceiver(out, port)
    thread = threading.Thread(target=server.serve_forever, name="alert-receiver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def read_notifications(path: Path) -> list[dict[str, Any]]:
    """The notifications recorded in `path` so far, oldest first (none if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line)["notification"] for line in path.read_text().splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append to")
    parser.add_argument("--port", type=int, default=9095, help="port on 127.0.0.1")
    args = parser.parse_args(argv)
    server = AlertReceiver(args.out, args.port)
    sys.stdout.write(f"alert receiver on {server.url}, writing {args.out}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def wait_for_alert(
    path: Path, alertname: str, status: str = "firing", timeout_s: float = 30.0
) -> dict[str, Any] | None:
    """The first alert named `alertname` with `status` recorded in `path`, waiting up to
    `timeout_s` for it; None if none arrived."""
    deadline = time.monotonic() + timeout_s
    while True:
        for notification in read_notifications(path):
            for alert in notification["alerts"]:
                if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                    found: dict[str, Any] = alert
                    return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
