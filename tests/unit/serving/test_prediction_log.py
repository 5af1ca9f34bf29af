"""The prediction log writes every record off the scoring path and never blocks it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fraud_detection.serving.prediction_log import PredictionLog


def read_all(directory: Path) -> list[dict[str, object]]:
    return [json.loads(line) for f in sorted(directory.rglob("*.jsonl")) for line in f.open()]


def test_records_are_appended_as_json_lines_partitioned_by_day(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, "v1", flush_interval_s=0.05)
    log.record({"transaction_id": f"t{i}", "fraud_probability": 0.1} for i in range(5))
    log.record([{"transaction_id": "t5", "fraud_probability": 0.9}])
    log.close()
    records = read_all(tmp_path)
    assert [r["transaction_id"] for r in records] == [f"t{i}" for i in range(6)]
    (file,) = tmp_path.rglob("*.jsonl")
    assert file.parent.name.startswith("date=") and file.name.startswith("v1-")
    assert log.written == 6 and log.dropped == 0


def test_records_are_written_while_the_log_stays_open(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, "v1", flush_interval_s=0.05)
    log.record([{"transaction_id": "early"}])
    deadline = time.monotonic() + 5
    while not read_all(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert read_all(tmp_path) == [{"transaction_id": "early"}]
    log.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", "v1", max_pending=10, flush_interval_s=60)
    started = time.perf_counter()
    log.record({"i": i} for i in range(10_000))
    assert time.perf_counter() - started < 1.0
    assert log.dropped > 0
    log.close()
    assert log.written + log.dropped == 10_000


def test_an_unwritable_directory_counts_the_loss_and_keeps_running(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = PredictionLog(blocker, "v1", flush_interval_s=0.05)
    log.record([{"i": 1}])
    log.close()
    assert log.dropped == 1 and log.written == 0


def test_records_built_later_are_written_and_a_failing_build_is_counted(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, "v1", flush_interval_s=0.05)
    log.record_later(lambda: [{"i": 1}, {"i": 2}], count=2)

    def broken() -> list[dict[str, object]]:
        raise ValueError("cannot build")

    log.record_later(broken, count=3)
    log.close()
    assert read_all(tmp_path) == [{"i": 1}, {"i": 2}]
    assert log.written == 2 and log.dropped == 3
