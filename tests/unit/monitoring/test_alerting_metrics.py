"""What the monitor hands Prometheus and what the alert receiver keeps, without Prometheus: the
control limits, the Pushgateway client (a stand-in server records the pushes), the monitoring
job with its Pushgateway down, and the webhook receiver's file."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from fraud_detection.config import Settings
from fraud_detection.jobs import monitor as monitor_job
from fraud_detection.jobs import publish
from fraud_detection.jobs.events import Event, Notice, Retraining, RetrainOutcome
from fraud_detection.monitoring import checks, control_limits
from fraud_detection.monitoring.alert_receiver import read_notifications, receiving
from fraud_detection.monitoring.checks import rate_test
from fraud_detection.monitoring.job import MonitorResult, prometheus
from fraud_detection.monitoring.push import URL_VARIABLE, Pushgateway
from fraud_detection.monitoring.verdict import Verdict
from fraud_detection.retraining.trigger import TriggerResult

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _sample(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def _outside(text: str, name: str, label: str = "") -> bool:
    value = _sample(text, f"{name}{label}")
    low, high = (
        _sample(text, f"{name}_lower_limit{label}"),
        _sample(text, f"{name}_upper_limit{label}"),
    )
    return not low <= value <= high


def test_windows_drawn_like_the_reference_rarely_leave_their_control_limits() -> None:
    """200 seeded windows of 1,000 rows from the reference's distribution: each limit pair is an
    exact test at its share of the 1 % budget (0.15 % for the decline rate, 0.05 % per
    quantile), so about 0.3 windows of 200 are outside; allow 1.5 %, far below a shifted
    window's 100 %."""
    names = [("fraud_monitor_decline_rate", "")] + [
        ("fraud_monitor_score_quantile", f'{{quantile="{q:g}"}}') for q in checks.QUANTILES
    ]
    outside = dict.fromkeys(names, 0)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        reference, window = rng.beta(1, 12, 20_000), rng.beta(1, 12, 1_000)
        text = control_limits.control_metrics(window, reference, threshold=0.2)
        for name in names:
            outside[name] += _outside(text, *name)
    assert max(outside.values()) <= 3, outside


def test_a_shifted_window_leaves_its_control_limits() -> None:
    rng = np.random.default_rng(7)
    reference, window = rng.beta(1, 12, 20_000), rng.beta(2, 8, 1_000)  # riskier scores
    text = control_limits.control_metrics(window, reference, threshold=0.2)
    assert _sample(text, "fraud_monitor_decline_rate") > _sample(
        text, "fraud_monitor_decline_rate_upper_limit"
    )
    label = '{quantile="0.5"}'
    assert _sample(text, f"fraud_monitor_score_quantile{label}") > _sample(
        text, f"fraud_monitor_score_quantile_upper_limit{label}"
    )


def test_the_limits_are_the_decline_rate_tests_band() -> None:
    """The gauges' limits are the band of the check's own exact test (reference uncertainty
    included), so Prometheus and the verdict agree on what is out of control."""
    rng = np.random.default_rng(1)
    reference, window = rng.beta(1, 12, 20_000), rng.beta(1, 12, 900)
    text = control_limits.control_metrics(window, reference, threshold=0.2)
    _, low, high = rate_test(int((window >= 0.2).sum()), 900, int((reference >= 0.2).sum()),
                             20_000, control_limits.DECLINE_ALPHA)  # fmt: skip
    assert _sample(text, "fraud_monitor_decline_rate_lower_limit") == pytest.approx(low, 1e-5)
    assert _sample(text, "fraud_monitor_decline_rate_upper_limit") == pytest.approx(high, 1e-5)
    assert low < float((reference >= 0.2).mean()) < high


@pytest.mark.parametrize(
    ("window", "message"),
    [([], "the window scores must be a non-empty set"),
     ([0.1, float("nan")], "the window scores must be a non-empty set of finite numbers")],
)  # fmt: skip
def test_bad_scores_are_refused_by_name(window: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        control_limits.control_metrics(window, [0.1, 0.2], threshold=0.5)


class _Recorder(BaseHTTPRequestHandler):
    pushes: ClassVar[list[tuple[str, str, str]]] = []
    status = 200

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).pushes.append((self.path, self.headers["Content-Type"], body))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"text format parsing error in line 1")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def gateway() -> Iterator[str]:
    """A stand-in Pushgateway that records each push."""
    _Recorder.pushes, _Recorder.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def test_a_push_replaces_the_group_in_text_format(gateway: str) -> None:
    assert Pushgateway(gateway).push("fraud_monitor", "fraud_monitor_rows 3\n") is None
    assert _Recorder.pushes == [
        ("/metrics/job/fraud_monitor", "text/plain; version=0.0.4; charset=utf-8",
         "fraud_monitor_rows 3\n"),
    ]  # fmt: skip


def test_a_refused_or_unreachable_push_is_a_sentence_not_an_error(gateway: str) -> None:
    _Recorder.status = 400
    refused = Pushgateway(gateway).push("fraud_monitor", "bad")
    assert refused == (
        f"the Pushgateway at {gateway} refused the fraud_monitor metrics: "
        "400 text format parsing error in line 1"
    )
    down = Pushgateway(_closed_port(), timeout_s=2).push("fraud_monitor", "x 1\n")
    assert down is not None and "is unreachable" in down and "not pushed" in down


def test_a_pushgateway_url_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VARIABLE, "pushgateway:9091")
    with pytest.raises(ValueError, match="FRAUD_MONITOR_PUSHGATEWAY_URL: expected an http"):
        Pushgateway.from_env()
    monkeypatch.delenv(URL_VARIABLE)
    assert Pushgateway.from_env() is None


def _drifted(out_dir: Path) -> MonitorResult:
    verdict = Verdict("drift", ["40% of input columns drifted"], 500, 0)
    out_dir.mkdir(parents=True)
    (out_dir / "metrics.prom").write_text(prometheus(verdict, {"drifted_share": 0.4}))
    return MonitorResult(verdict, (NOON - timedelta(hours=24), NOON), "v1", out_dir, None, None)


def test_the_monitor_pushes_its_verdict_after_each_run(
    gateway: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _drifted(tmp_path / "run")
    monkeypatch.setattr(monitor_job, "run_monitor", lambda settings, **_: result)
    monkeypatch.setenv(URL_VARIABLE, gateway)
    events: list[Event] = []
    monitor_job.monitor(Settings(workspace=tmp_path), report=events.append)
    ((path, _, body),) = _Recorder.pushes
    assert path == "/metrics/job/fraud_monitor"
    assert 'fraud_monitor_status{status="drift"} 1' in body
    assert not [e for e in events if isinstance(e, Notice)]


def test_a_pushgateway_that_is_down_does_not_fail_the_monitor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _drifted(tmp_path / "run")
    monkeypatch.setattr(monitor_job, "run_monitor", lambda settings, **_: result)
    monkeypatch.setenv(URL_VARIABLE, _closed_port())
    events: list[Event] = []
    run = monitor_job.monitor(Settings(workspace=tmp_path), report=events.append)
    assert run.result is result
    (notice,) = [e for e in events if isinstance(e, Notice)]
    assert notice.text.startswith("metrics not pushed: the Pushgateway at http://127.0.0.1:")


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [(RetrainOutcome(gate=False, decision=Path("d.json")), "refused"),
     (RetrainOutcome(True, Path("d.json"), "v2", promoted=True), "promoted"),
     (RetrainOutcome(True, Path("d.json"), "v2"), "registered"),
     (None, "submitted")],
)  # fmt: skip
def test_each_retraining_outcome_is_named(outcome: RetrainOutcome | None, expected: str) -> None:
    started = Retraining(TriggerResult("started", "run-1"), outcome)
    assert publish.outcome_of(started) == expected
    assert publish.outcome_of(None) == "failed"


def test_a_failed_retraining_is_pushed_as_such(
    gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_VARIABLE, gateway)
    publish.publish_retraining(None, report=lambda _: None)
    publish.publish_retraining(Retraining(TriggerResult("rate_limited")), report=lambda _: None)
    ((path, _, body),) = _Recorder.pushes  # a trigger that declined is no attempt
    assert path == "/metrics/job/fraud_retraining"
    assert 'fraud_retraining_outcome{outcome="failed"} 1' in body
    assert 'fraud_retraining_outcome{outcome="promoted"} 0' in body


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_receiver_appends_each_notification_and_refuses_what_is_not_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "alerts.jsonl"
    notification = {"status": "firing", "alerts": [{"labels": {"alertname": "FraudModelDrift"}}]}
    with receiving(out) as receiver:
        assert _post(receiver.url, json.dumps(notification).encode()) == 200
        assert _post(receiver.url, b"{not json") == 400
        assert _post(receiver.url, b'{"status": "firing"}') == 400
        assert (
            _post(receiver.url, json.dumps({**notification, "status": "resolved"}).encode()) == 200
        )
    assert [n["status"] for n in read_notifications(out)] == ["firing", "resolved"]
    assert all("received_at" in json.loads(line) for line in out.read_text().splitlines())
