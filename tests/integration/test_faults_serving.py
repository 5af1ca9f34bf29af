"""Fault injection in serving, against real BentoML servers (and the real scoring path).

- The SQLite online store missing, or locked by another connection: answers stay 200,
  flagged `degraded` with every stored feature listed as missing; readiness turns false and
  comes back with the store.
- The model artifact corrupt or missing at start: never ready, never a score, and the server
  log names the file and the problem.
- The prediction log's sink full, unwritable, or hung: scoring goes on answering, and every
  lost record is counted, logged and exported on /metrics.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import logging
import os
import select
import shutil
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import GOOD

from fraud_detection.config import Settings
from fraud_detection.errors import ServerNotReadyError
from fraud_detection.features.card_events import card_events_file
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.registry.local import CARD_FILE, MODEL_FILE
from fraud_detection.serving import local_server
from fraud_detection.serving.model_features import feature_service_of
from fraud_detection.serving.model_store import load_servable, save_to_bentoml
from fraud_detection.serving.online_features import OnlineFeatures
from fraud_detection.serving.prediction_log import PredictionLog
from fraud_detection.serving.schemas import Transaction
from fraud_detection.serving.scoring import Scorer

pytestmark = pytest.mark.integration

DROPPED_METRIC = "fraud_prediction_log_dropped_records_total"


def call(url: str, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
    """GET (no body) or POST JSON; the status and the parsed body (its text if not JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def score(url: str, *rows: dict[str, Any]) -> tuple[int, Any]:
    return call(url, "/score", {"transactions": list(rows)})


def production_of(settings: Settings) -> RegisteredModel:
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    return production


def serving(
    settings: Settings, log_file: Path, **options: Any
) -> AbstractContextManager[local_server.LocalServer]:
    """`local_server.serve` for the workspace's production model."""
    return local_server.serve(
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=save_to_bentoml(production_of(settings), settings.paths.bentoml_home),
        feature_repo=settings.paths.feature_repo,
        log_file=log_file,
        **options,
    )


def sqlite_store_config(settings: Settings, online_db: Path, path: Path) -> Path:
    """A Feast config with the workspace's registry and a SQLite online store at `online_db`."""
    registry_db = settings.paths.root / "data" / "feast" / "registry.db"
    path.write_text(
        "project: fraud_features\n"
        "provider: local\n"
        f"registry: {registry_db}\n"
        "online_store:\n"
        "  type: sqlite\n"
        f"  path: {online_db}\n"
        "entity_key_serialization_version: 3\n"
    )
    return path


def copy_card_events(source: Path, target: Path) -> None:
    """A consistent copy of a card event store in WAL mode (its recent writes may still be in
    the -wal file, which a file copy would leave behind)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def looked_up(settings: Settings) -> set[str]:
    """The production model's features that Feast's online store serves (its velocity comes
    from the card events, which live in a store of their own)."""
    from fraud_detection.features import store as feature_store

    card = production_of(settings).card
    store = feature_store.open_store(settings.paths.feature_repo)
    return set(feature_store.feast_features(store, feature_service_of(card)))


def assert_degraded(body: Any, stored: set[str]) -> None:
    """Every answer is a real score, flagged degraded, with every Feast feature missing."""
    assert isinstance(body, list) and body
    for item in body:
        assert item["degraded"] is True
        assert stored <= set(item["missing_features"])
        assert 0.0 <= item["fraud_probability"] <= 1.0
        assert item["is_fraud"] == (item["fraud_probability"] >= item["threshold"])


def wait_for(condition: Any, timeout_s: float, every_s: float = 0.25) -> float:
    """Seconds until `condition()` is true; fails the test after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"not true after {timeout_s:.0f}s: {condition}")
        time.sleep(every_s)
    return time.monotonic() - started


# --- 1. The online store missing or locked -------------------------------------------------


def test_missing_sqlite_online_store_degrades_every_answer_and_readiness(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    """No online store file at start: the server comes up live but not ready, and a batch of a
    known and an unknown customer is answered 200 with real scores flagged degraded, every
    stored feature missing; the server log says why."""
    settings = trained_workspace
    config = sqlite_store_config(settings, tmp_path / "absent" / "online.db", tmp_path / "fs.yaml")
    log_file = tmp_path / "server.log"
    with serving(
        settings, log_file, wait_for="/livez",
        extra_env={"FRAUD_SERVING_FEATURE_STORE_YAML": str(config)},
    ) as server:  # fmt: skip
        status, body = score(server.url, GOOD, {**GOOD, "customer_id": 987_654_321})
        assert status == 200, body
        assert_degraded(body, looked_up(settings))
        assert call(server.url, "/readyz")[0] == 503
        assert call(server.url, "/livez")[0] == 200

        # The cause is logged whether the lookup failed within its deadline or after it (a
        # busy machine): a traceback, or the late-failure line, which may come after the
        # answers above; the server runs until it does.
        def says_why() -> bool:
            text = log_file.read_text(errors="replace")
            return "online feature lookup failed" in text and "no such table" in text

        wait_for(says_why, timeout_s=30)


def test_locked_sqlite_online_store_degrades_then_recovers(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    """Another connection holding an exclusive lock on the online store: concurrent requests
    are all answered 200, degraded (the first ones after SQLite's 5 s busy timeout, later ones
    at once), readiness is false; once the lock is released, answers use stored features again
    and readiness returns. Deleting the store file under the running server never fails a
    request either."""
    settings = trained_workspace
    online_db = tmp_path / "online.db"
    feast_dir = settings.paths.root / "data" / "feast"
    shutil.copyfile(feast_dir / "online_store.db", online_db)
    copy_card_events(card_events_file(feast_dir / "online_store.db"), card_events_file(online_db))
    config = sqlite_store_config(settings, online_db, tmp_path / "fs.yaml")
    stored = looked_up(settings)
    with serving(
        settings, tmp_path / "server.log",
        extra_env={"FRAUD_SERVING_FEATURE_STORE_YAML": str(config)},
    ) as server:  # fmt: skip
        status, body = score(server.url, GOOD)
        assert status == 200 and body[0]["degraded"] is False and body[0]["missing_features"] == []

        lock = sqlite3.connect(online_db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                rows = [{**GOOD, "transaction_id": f"locked-{i}"} for i in range(8)]
                answers = list(pool.map(lambda row: score(server.url, row), rows))
            burst_s = time.monotonic() - started
            assert [s for s, _ in answers] == [200] * 8, answers
            for _, body in answers:
                assert_degraded(body, stored)
            assert call(server.url, "/readyz")[0] == 503
            started = time.monotonic()
            status, body = score(server.url, GOOD)
            skip_s = time.monotonic() - started
            assert status == 200
            assert_degraded(body, stored)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        print(f"locked store: 8 concurrent answers in {burst_s:.2f}s, then {skip_s * 1000:.0f} ms")

        def recovered() -> bool:
            status, body = score(server.url, GOOD)
            return status == 200 and body[0]["degraded"] is False

        recovery_s = wait_for(recovered, 30)
        assert score(server.url, GOOD)[1][0]["missing_features"] == []
        ready_s = wait_for(lambda: call(server.url, "/readyz")[0] == 200, 30)
        print(f"after unlock: stored features in {recovery_s:.1f}s, ready in {ready_s:.1f}s more")

        online_db.unlink()
        for i in range(5):
            status, body = score(server.url, {**GOOD, "transaction_id": f"deleted-{i}"})
            assert status == 200, body
            assert 0.0 <= body[0]["fraud_probability"] <= 1.0
            if body[0]["degraded"]:
                assert set(body[0]["missing_features"]) == stored


# --- 2. The model artifact corrupt or missing at start -------------------------------------


@pytest.mark.parametrize(
    ("fault", "problem"),
    [("corrupt", "cannot load model from {}"), ("missing", "model file not found: {}")],
    ids=["corrupt", "missing"],
)
def test_model_artifact_corrupt_or_missing_at_start_is_never_ready_nor_scores(
    trained_workspace: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    fault: str, problem: str,
) -> None:  # fmt: skip
    """A server started on a model directory whose model file is corrupt (or absent) never
    answers /readyz or /score with 200 while it keeps trying, and its log names the file and
    the problem."""
    settings = trained_workspace
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copyfile(production_of(settings).path / CARD_FILE, model_dir / CARD_FILE)
    if fault == "corrupt":
        (model_dir / MODEL_FILE).write_bytes(b"\x80\x04 not a model")
    port = local_server.free_port()
    monkeypatch.setattr(local_server, "free_port", lambda: port)
    log_file = tmp_path / "server.log"
    expected = problem.format(model_dir / MODEL_FILE)
    seen: list[tuple[str, int | str]] = []
    named_after: list[float] = []
    stop = threading.Event()
    started = time.monotonic()

    def probe() -> None:
        url = f"http://127.0.0.1:{port}"
        while not stop.is_set():
            for path, body in (("/readyz", None), ("/score", {"transactions": [GOOD]})):
                try:
                    seen.append((path, call(url, path, body, timeout=2)[0]))
                except (OSError, http.client.HTTPException) as exc:  # not serving
                    seen.append((path, type(exc).__name__))
            if (
                not named_after
                and log_file.exists()
                and expected in log_file.read_text("utf-8", "replace")
            ):
                named_after.append(time.monotonic() - started)
            time.sleep(0.25)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        with (
            pytest.raises(ServerNotReadyError),
            serving(settings, log_file, model_dir=model_dir, ready_timeout_s=12),
        ):
            pytest.fail("a server without a loadable model became ready")
    finally:
        stop.set()
        prober.join(10)

    assert len(seen) >= 10
    assert [s for s in seen if s[1] == 200] == []
    assert named_after, f"no log line with {expected!r}"
    print(f"{fault} model: {len(seen)} probes, none 200; log named it after {named_after[0]:.1f}s")


# --- 3. The prediction log's sink full, unwritable or hung ---------------------------------


def dropped_metric(url: str) -> float:
    status, text = call(url, "/metrics")
    assert status == 200
    for line in str(text).splitlines():
        if line.startswith(DROPPED_METRIC + " "):
            return float(line.split()[1])
    pytest.fail(f"{DROPPED_METRIC} is not exported on /metrics")


def test_full_or_unwritable_prediction_log_keeps_serving_and_reports_the_loss(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    """The log file turned into /dev/full (disk full), then its day directory replaced by a
    file (unwritable): every request is still answered 200 and ready, and exactly the lost
    records are counted on /metrics and logged with the OS error."""
    settings = trained_workspace
    log_dir = tmp_path / "prediction-log"
    log_file = tmp_path / "server.log"
    with serving(
        settings, log_file, extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(log_dir)}
    ) as server:
        assert score(server.url, GOOD)[0] == 200
        wait_for(lambda: any(f.stat().st_size for f in log_dir.rglob("*.jsonl")), 15)
        assert dropped_metric(server.url) == 0
        (written,) = log_dir.rglob("*.jsonl")

        written.unlink()
        written.symlink_to("/dev/full")
        statuses = [score(server.url, {**GOOD, "transaction_id": f"full-{i}"})[0]
                    for i in range(20)]  # fmt: skip
        assert statuses == [200] * 20
        wait_for(lambda: dropped_metric(server.url) >= 20, 15)
        assert dropped_metric(server.url) == 20

        shutil.rmtree(written.parent)
        written.parent.write_text("a file where the day's directory should be")
        statuses = [score(server.url, *[{**GOOD, "transaction_id": f"nodir-{i}-{j}"}
                                        for j in range(3)])[0] for i in range(10)]  # fmt: skip
        assert statuses == [200] * 10
        wait_for(lambda: dropped_metric(server.url) >= 50, 15)
        assert dropped_metric(server.url) == 50
        assert call(server.url, "/readyz")[0] == 200
    text = log_file.read_text(errors="replace")
    assert "cannot write" in text and "prediction log records" in text
    assert "No space left on device" in text
    assert "File exists" in text or "Not a directory" in text


@pytest.fixture
def hung_sink(tmp_path: Path) -> tuple[Path, Path]:
    """A prediction-log directory and today's partition in it (where the test puts a named
    pipe with no reader: appending to it hangs, like a dead network file system)."""
    directory = tmp_path / "prediction-log"
    day = directory / f"date={datetime.now(UTC):%Y-%m-%d}"
    day.mkdir(parents=True)
    return directory, day


def test_hung_prediction_log_sink_drops_beyond_its_bound_without_blocking_scoring(
    trained_workspace: Settings, hung_sink: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """With the writer hung on its sink, the real scoring path (production model, online
    store) keeps answering at once; the log holds at most `max_pending` records, counting the
    bound in records (batches of 256 here), drops and counts the rest, reports every loss to
    `on_drop` and logs a warning. When the sink comes back, what was held is written."""
    settings = trained_workspace
    directory, day = hung_sink
    servable = load_servable(production_of(settings).path)
    fifo = day / f"{servable.version}-{os.getpid()}.jsonl"
    os.mkfifo(fifo)
    features = OnlineFeatures(settings.paths.feature_repo, settings.feature_service)
    lost: list[int] = []
    log = PredictionLog(directory, servable.version, max_pending=1_000, flush_interval_s=0.05,
                        on_drop=lost.append)  # fmt: skip
    scorer = Scorer(servable.model, features, servable.version, log)
    when = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    batches = [
        [Transaction.model_validate({**GOOD, "event_timestamp": when,
                                     "transaction_id": f"b{b}-{i}"}) for i in range(256)]
        for b in range(10)
    ]  # fmt: skip

    def score_all() -> list[float]:
        took = []
        for batch in batches:
            started = time.monotonic()
            assert len(scorer.score(batch)) == 256
            took.append(time.monotonic() - started)
        return took

    with (
        caplog.at_level(logging.WARNING, logger="fraud_detection.serving.prediction_log"),
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        took = pool.submit(score_all).result(timeout=120)  # a blocked call never returns
    print(f"hung sink: 10 batches of 256 scored, slowest {max(took) * 1000:.0f} ms; "
          f"{log.dropped} records dropped")  # fmt: skip
    assert log.dropped == 7 * 256 and sum(lost) == log.dropped and log.written == 0
    assert any("records behind" in r.getMessage() for r in caplog.records)

    reader = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # the sink comes back
    received = bytearray()
    try:
        deadline = time.monotonic() + 30
        while received.count(b"\n") < 3 * 256 and time.monotonic() < deadline:
            if select.select([reader], [], [], 0.1)[0]:
                received += os.read(reader, 1 << 16)
        log.close()
    finally:
        os.close(reader)
    records = [json.loads(line) for line in received.splitlines()]
    assert sorted({r["transaction_id"].split("-")[0] for r in records}) == ["b0", "b1", "b2"]
    assert len(records) == log.written == 3 * 256
