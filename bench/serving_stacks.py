"""Serving benchmark: the same model, features and requests behind four ways of serving them.

1. in-process: `Scorer.score` called directly (the limit: feature lookup + model, no HTTP);
2. BentoML: the project's service (adaptive batching), a real server on a free port, once
   without and once with the prediction log (its cost on the serving path);
3. FastAPI + uvicorn: the same scorer behind a plain app, one worker (bench/baselines);
4. KServe ModelServer: the same scorer as a `kserve.Model`, v1 protocol (bench/baselines).

Measured per stack: single-row latency (p50/p99 over sequential requests on one keep-alive
connection), single-row throughput at concurrency 1, 8 and 32 (threads, one connection each),
and 100-row requests at concurrency 4. Ratios: latency against in-process p99; throughput
against in-process single-thread rows/s, and BentoML against each baseline.

Run after `make demo` (it needs a production model): `make bench-serving`. Figures also go
to artifacts/bench/serving.json. Every server runs with OMP_NUM_THREADS=1, as in-process does.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

# The measuring client is http.client on purpose (the project's clients use httpx): the
# thinnest client Python has, the same for every stack, so the figures are the servers' cost
# and not the client's.
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import FraudDetectionError
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout.traffic import payloads
from fraud_detection.serving import local_server
from fraud_detection.serving.schemas import Transaction

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINES = REPO_ROOT / "bench" / "baselines"
SINGLE_REQUESTS = 300
CONCURRENCY = (1, 8, 32)
CONCURRENT_ROWS = 600
BATCH_ROWS, BATCH_CONCURRENCY, BATCH_REQUESTS = 100, 4, 40

console = Console(highlight=False)
Send = Callable[[HTTPConnection, list[dict[str, Any]]], bool]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99))}


def in_process(workspace: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    sys.path.insert(0, str(BASELINES))
    from common import production_scorer

    scorer = production_scorer(workspace)
    parsed = [Transaction(**row) for row in rows]
    for row in parsed[:20]:
        scorer.score([row])
    latencies = []
    for row in parsed[:SINGLE_REQUESTS]:
        started = time.perf_counter()
        scorer.score([row])
        latencies.append((time.perf_counter() - started) * 1000)
    model_only = []
    frame = scorer.frame(parsed[:1], scorer.features.lookup([parsed[0].customer_id]))
    for _ in range(SINGLE_REQUESTS):
        started = time.perf_counter()
        scorer.model.score(frame)
        model_only.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for start in range(0, BATCH_ROWS * 10, BATCH_ROWS):
        scorer.score(parsed[start : start + BATCH_ROWS])
    batched = BATCH_ROWS * 10 / (time.perf_counter() - started)
    return {
        "single": percentiles(latencies),
        "model_only": percentiles(model_only),
        "rows_per_s": {"c1": 1000 / float(np.mean(latencies)), "batch100": batched},
    }


def bentoml_send(conn: HTTPConnection, rows: list[dict[str, Any]]) -> bool:
    return _post(conn, "/score", {"transactions": rows})


def kserve_send(conn: HTTPConnection, rows: list[dict[str, Any]]) -> bool:
    return _post(conn, "/v1/models/fraud:predict", {"instances": rows})


def _post(conn: HTTPConnection, path: str, body: dict[str, Any]) -> bool:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status == 200


def over_http(url: str, send: Send, rows: list[dict[str, Any]]) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")

    def connect() -> HTTPConnection:
        return HTTPConnection(host, int(port), timeout=30)

    conn = connect()
    for row in rows[:20]:
        send(conn, [row])
    latencies, errors = [], 0
    for row in rows[:SINGLE_REQUESTS]:
        started = time.perf_counter()
        errors += not send(conn, [row])
        latencies.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {"single": percentiles(latencies), "rows_per_s": {}}
    for clients in CONCURRENCY:
        rate, failed = concurrent(connect, send, [[r] for r in rows[:CONCURRENT_ROWS]], clients)
        result["rows_per_s"][f"c{clients}"] = rate
        errors += failed
    batches = [rows[i : i + BATCH_ROWS] for i in range(0, BATCH_ROWS * BATCH_REQUESTS, BATCH_ROWS)]
    rate, failed = concurrent(connect, send, batches, BATCH_CONCURRENCY)
    result["rows_per_s"]["batch100"] = rate
    result["errors"] = errors + failed
    return result


def concurrent(
    connect: Callable[[], HTTPConnection], send: Send, requests: list[list[dict[str, Any]]],
    clients: int,
) -> tuple[float, int]:  # fmt: skip
    """Rows per second with `clients` threads sharing the requests; and the failure count."""
    lock, queue, failures = threading.Lock(), list(requests), [0]

    def work() -> None:
        conn = connect()
        while True:
            with lock:
                if not queue:
                    return
                batch = queue.pop()
            if not send(conn, batch):
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(map(len, requests)) / (time.perf_counter() - started), failures[0]


@contextmanager
def baseline(script: str, workspace: Path, ready_path: str, log: Path) -> Iterator[str]:
    """A baseline server (bench/baselines), started, awaited and stopped as the project's own
    local servers are (`local_server`)."""
    port = local_server.free_port()
    command = [sys.executable, str(BASELINES / script), "--workspace", str(workspace),
               "--port", str(port), "--grpc-port", str(local_server.free_port())]  # fmt: skip
    if script == "fastapi_app.py":
        command = command[:-2]
    with log.open("wb") as out:
        process = local_server.start(command, dict(os.environ), REPO_ROOT, out)
    try:
        server = local_server.LocalServer(f"http://127.0.0.1:{port}", log, process)
        local_server.wait_until_ready(server, 90, ready_path)
        yield server.url
    finally:
        local_server.stop(process)


def measure_all(workspace: Path, out: Path) -> dict[str, Any]:
    settings = Settings(workspace=workspace)
    production = ModelRegistry(settings.paths.registry, settings.model_name).require_production()
    recent = load_transactions(settings.paths.transactions).sort_values("event_timestamp")
    rows = payloads(recent.tail(BATCH_ROWS * BATCH_REQUESTS))
    results: dict[str, Any] = {}
    console.print("in-process …")
    results["in-process"] = in_process(workspace, rows)
    for name, env in (
        ("BentoML", {}),
        ("BentoML + prediction log", {"FRAUD_SERVING_PREDICTION_LOG_DIR": str(out / "log")}),
    ):
        console.print(f"{name} …")
        with local_server.serve_registered(
            settings, production, out / "bentoml.log", extra_env=env
        ) as server:
            results[name] = over_http(server.url, bentoml_send, rows)
    console.print("FastAPI + uvicorn …")
    with baseline("fastapi_app.py", workspace, "/readyz", out / "fastapi.log") as url:
        results["FastAPI"] = over_http(url, bentoml_send, rows)
    console.print("KServe ModelServer …")
    with baseline("kserve_model.py", workspace, "/v1/models/fraud", out / "kserve.log") as url:
        results["KServe ModelServer"] = over_http(url, kserve_send, rows)
    return results


def report(results: dict[str, Any]) -> None:
    base = results["in-process"]
    limit_p99 = base["single"]["p99_ms"]
    latency = Table(title="Single-row latency (sequential, one connection)", title_justify="left")
    for column in ("stack", "p50 ms", "p99 ms", "p99 / in-process"):
        latency.add_column(column, justify="right" if column != "stack" else "left")
    for name, result in results.items():
        single = result["single"]
        latency.add_row(name, f"{single['p50_ms']:.1f}", f"{single['p99_ms']:.1f}",
                        f"{single['p99_ms'] / limit_p99:.2f}×")  # fmt: skip
    model = base["model_only"]
    latency.add_row("(model only)", f"{model['p50_ms']:.1f}", f"{model['p99_ms']:.1f}", "")
    console.print(latency)
    keys = [f"c{c}" for c in CONCURRENCY] + ["batch100"]
    throughput = Table(title="Throughput, rows/s (×: against in-process, 1 thread)",
                       title_justify="left")  # fmt: skip
    throughput.add_column("stack")
    for key in keys:
        throughput.add_column(key, justify="right")
    one = base["rows_per_s"]["c1"]
    for name, result in results.items():
        cells = [
            f"{result['rows_per_s'][k]:.0f} ({result['rows_per_s'][k] / one:.2f}×)"
            if k in result["rows_per_s"] else "–"
            for k in keys
        ]  # fmt: skip
        throughput.add_row(name, *cells)
    console.print(throughput)
    logged, plain = results["BentoML + prediction log"], results["BentoML"]
    console.print(
        "prediction log cost: single-row p99 "
        f"{logged['single']['p99_ms'] / plain['single']['p99_ms']:.2f}×, throughput at 32 "
        f"clients {logged['rows_per_s']['c32'] / plain['rows_per_s']['c32']:.2f}× (logged / not)"
    )
    bento = results["BentoML"]["rows_per_s"]
    for other in ("FastAPI", "KServe ModelServer"):
        theirs = results[other]["rows_per_s"]
        ratios = ", ".join(f"{k} {bento[k] / theirs[k]:.2f}×" for k in keys)
        console.print(f"BentoML / {other}: {ratios}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO_ROOT)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    console.print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
                  f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    try:
        results = measure_all(args.workspace.resolve(), args.out)
    except FraudDetectionError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    report(results)
    record = {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
              "cpu_count": os.cpu_count(), "results": results}  # fmt: skip
    (args.out / "serving.json").write_text(json.dumps(record, indent=2))
    console.print(f"figures written to {args.out / 'serving.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
