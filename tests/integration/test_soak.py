"""Soak (opt-in, slow): minutes of steady scoring load with the prediction log on.

What only time reveals: the server's resident memory must stay flat (no leak per request), and
the prediction log must lose nothing under sustained load. While concurrent clients score
uniquely tagged transactions, the resident memory of the server's whole process tree is
sampled; after warm-up, the median of the last quarter of the samples must stay within 25 % of
the median of the first quarter. Then the server is stopped and every transaction scored must
be in the log exactly once, the log's own drop counter (on /metrics) must read zero, and the
server log must not report a lost record.

Duration: FRAUD_SOAK_SECONDS (default 180).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.loadtest.generator import bounded_load
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout.traffic import payloads
from fraud_detection.serving import local_server
from fraud_detection.serving.model_store import save_to_bentoml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOAK_SECONDS = float(os.environ.get("FRAUD_SOAK_SECONDS", "180"))
CLIENTS = 4
WARM_UP_FRACTION = 0.2  # samples ignored at the start: model, caches and arenas settling
MAX_GROWTH = 1.25  # last-quarter median / first-quarter median, after warm-up
ID_PREFIX = "soak"
DROPPED_METRIC = "fraud_prediction_log_dropped_records_total"
# What the prediction log writes to the server log when it loses records.
LOSS_MESSAGES = re.compile(r"dropping new records|cannot write \d+ prediction|cannot build \d+")


class MemorySampler(threading.Thread):
    """Samples the resident memory (bytes) of a process and all its descendants."""

    def __init__(self, pid: int, interval_s: float) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._stop_sampling = threading.Event()

    def run(self) -> None:
        while not self._stop_sampling.wait(self.interval_s):
            self.samples.append((time.monotonic(), self.tree_rss()))

    def tree_rss(self) -> int:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:  # a worker restarting between listing and reading
                continue
        return total

    def stop(self) -> list[int]:
        self._stop_sampling.set()
        self.join()
        return [rss for _, rss in self.samples]


def dropped_records(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    values = [
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(DROPPED_METRIC)
    ]
    assert values, f"{DROPPED_METRIC} is not exported on /metrics"
    return sum(values)


def logged_ids(directory: Path) -> Counter[str]:
    ids: Counter[str] = Counter()
    for file in directory.rglob("*.jsonl"):
        for line in file.read_text().splitlines():
            transaction_id = str(json.loads(line).get("transaction_id"))
            if transaction_id.startswith(f"{ID_PREFIX}-"):
                ids[transaction_id] += 1
    return ids


def test_memory_stays_flat_and_the_prediction_log_loses_nothing(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    settings = trained_workspace
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    recent = load_transactions(settings.paths.transactions).sort_values("event_timestamp")
    rows: list[dict[str, Any]] = payloads(recent.tail(2_000))
    log_dir, server_log = tmp_path / "predictions", tmp_path / "server.log"
    with local_server.serve(
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=save_to_bentoml(production, settings.paths.bentoml_home),
        feature_repo=settings.paths.feature_repo,
        log_file=server_log,
        extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(log_dir)},
    ) as server:
        sampler = MemorySampler(server.process.pid, interval_s=max(0.5, SOAK_SECONDS / 120))
        sampler.start()
        try:
            result = bounded_load(
                server.url, rows, clients=CLIENTS, max_requests=10**9,
                max_seconds=SOAK_SECONDS, id_prefix=ID_PREFIX,
            )  # fmt: skip
        finally:
            rss = sampler.stop()
        deadline = time.monotonic() + 30  # the writer flushes about once a second
        while sum(logged_ids(log_dir).values()) < result.transactions_scored:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        dropped = dropped_records(server.url)

    logged = logged_ids(log_dir)
    settled = rss[int(len(rss) * WARM_UP_FRACTION) :]
    quarter = max(1, len(settled) // 4)
    first, last = statistics.median(settled[:quarter]), statistics.median(settled[-quarter:])
    print(
        f"soak: {result.summary()}\n"
        f"memory: {len(rss)} samples, first-quarter median {first / 2**20:.1f} MiB, "
        f"last-quarter median {last / 2**20:.1f} MiB ({last / first:.3f}×), "
        f"min {min(rss) / 2**20:.1f} MiB, max {max(rss) / 2**20:.1f} MiB\n"
        f"prediction log: {sum(logged.values())} records for {result.transactions_scored} "
        f"scored transactions, {dropped:.0f} dropped"
    )
    assert result.errors == 0, result.statuses
    assert result.transactions_scored > 0
    assert len(settled) >= 8, "too few memory samples to compare"
    assert last <= first * MAX_GROWTH
    assert dropped == 0
    assert not LOSS_MESSAGES.search(server_log.read_text(errors="replace"))
    assert sum(logged.values()) == result.transactions_scored
    assert set(logged) == set(result.scored_ids)
    assert max(logged.values()) == 1, "a transaction was logged twice"
