"""A canary on the cluster pushes what it came to, so FraudCanaryRolledBack can fire there too:
the rollout Job and KFP's rollout step both end with `cluster_job.publish_outcome`. A
stand-in HTTP server records the pushes (the real Pushgateway is in tests/integration)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from fraud_detection.monitoring.push import RETRAINING_GROUP, URL_VARIABLE
from fraud_detection.rollout.analysis import CanaryVerdict, Check
from fraud_detection.rollout.cluster_job import publish_outcome


class _Recorder(BaseHTTPRequestHandler):
    pushes: ClassVar[list[tuple[str, str]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).pushes.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _Recorder.pushes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(URL_VARIABLE, url)
    yield url
    server.shutdown()
    server.server_close()


def _verdict(promote: bool) -> CanaryVerdict:
    return CanaryVerdict(promote, (Check("probe_pr_auc", promote, "…"),), {}, {})


def _outcomes(body: str) -> dict[str, int]:
    return {
        line.split('"')[1]: int(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("fraud_retraining_outcome{")
    }


@pytest.mark.parametrize(("promote", "outcome"), [(False, "rolled_back"), (True, "promoted")])
def test_the_outcome_replaces_the_retraining_group(
    gateway: str, promote: bool, outcome: str
) -> None:
    publish_outcome(_verdict(promote))
    ((path, body),) = _Recorder.pushes
    assert path == f"/metrics/job/{RETRAINING_GROUP}"
    outcomes = _outcomes(body)
    assert outcomes[outcome] == 1
    assert sum(outcomes.values()) == 1


def test_no_pushgateway_pushes_nothing_and_an_unreachable_one_is_only_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    publish_outcome(_verdict(False))
    assert capsys.readouterr().err == ""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    port = server.server_address[1]
    server.server_close()
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{port}")
    publish_outcome(_verdict(False))  # returns: the rollout already happened
    assert "notice: the Pushgateway at" in capsys.readouterr().err
