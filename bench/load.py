"""Load benchmark: bounded concurrent scoring traffic against the BentoML service.

N asyncio clients (httpx, one keep-alive connection each) post to POST /score, each sending its
next request as soon as the previous one is answered, until M requests were sent or T seconds
passed, whichever comes first; then the next client count. Reported per level: requests sent
and answered, errors and statuses, throughput (requests and transactions per second), p50/p99
latency of the successful requests, and which bound stopped the run.

Run after `make demo` (it needs a production model): `python bench/load.py`. It serves the
production model on a free port (with OMP_NUM_THREADS=1, as the serving benchmark does), or
targets `--url` instead. Figures also go to artifacts/bench/load.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import FraudDetectionError
from fraud_detection.loadtest.generator import LoadResult, bounded_load, burst
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout.traffic import payloads
from fraud_detection.serving import local_server

REPO_ROOT = Path(__file__).resolve().parents[1]
ROWS = 4_000  # the newest transactions, sent in turn
WARM_UP_REQUESTS = 20

console = Console(highlight=False)


@contextmanager
def production_server(workspace: Path, out: Path, prediction_log: bool) -> Iterator[str]:
    settings = Settings(workspace=workspace)
    production = ModelRegistry(settings.paths.registry, settings.model_name).require_production()
    env = {"FRAUD_SERVING_PREDICTION_LOG_DIR": str(out / "load-log")} if prediction_log else {}
    with local_server.serve_registered(
        settings, production, out / "load-server.log", extra_env=env
    ) as server:
        yield server.url


def request_rows(workspace: Path) -> list[dict[str, Any]]:
    settings = Settings(workspace=workspace)
    recent = load_transactions(settings.paths.transactions).sort_values("event_timestamp")
    return payloads(recent.tail(ROWS))


def measure(url: str, rows: list[dict[str, Any]], args: argparse.Namespace) -> list[LoadResult]:
    burst(url, rows[:WARM_UP_REQUESTS])
    results = []
    for clients in args.clients:
        console.print(f"{clients} clients …")
        results.append(
            bounded_load(
                url, rows, clients=clients, max_requests=args.requests,
                max_seconds=args.seconds, batch_size=args.batch,
            )
        )  # fmt: skip
    return results


def report(results: Sequence[LoadResult], batch: int) -> None:
    table = Table(
        title=f"POST /score, {batch} transaction(s) per request (latency in ms)",
        title_justify="left",
    )
    for column in ("clients", "sent", "errors", "s", "req/s", "rows/s", "p50", "p99"):
        table.add_column(column, justify="right")
    table.add_column("stopped by")
    for result in results:
        table.add_row(
            str(result.clients), str(result.sent), str(result.errors),
            f"{result.seconds:.1f}", f"{result.requests_per_second:.0f}",
            f"{result.rows_per_second:.0f}", f"{result.percentile(50):.1f}",
            f"{result.percentile(99):.1f}", result.stopped_by,
        )  # fmt: skip
    console.print(table)
    for result in results:
        if set(result.statuses) != {"200"}:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
            console.print(f"{result.clients} clients, statuses: {statuses}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO_ROOT)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    parser.add_argument("--url", help="a running server (default: serve the production model)")
    parser.add_argument(
        "--clients", type=lambda text: [int(n) for n in text.split(",")], default=[1, 8, 32],
        help="comma-separated client counts, run in turn (default: 1,8,32)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=1_000, help="requests per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per level")
    parser.add_argument("--batch", type=int, default=1, help="transactions per request")
    parser.add_argument("--prediction-log", action="store_true", help="serve with the log on")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    console.print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
                  f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    workspace = args.workspace.resolve()
    try:
        rows = request_rows(workspace)
        if args.url:
            results = measure(args.url, rows, args)
        else:
            with production_server(workspace, args.out, args.prediction_log) as url:
                results = measure(url, rows, args)
    except FraudDetectionError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    report(results, args.batch)
    record = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "settings": {"requests": args.requests, "seconds": args.seconds, "batch": args.batch,
                     "prediction_log": args.prediction_log},
        "results": [result.summary() for result in results],
    }  # fmt: skip
    (args.out / "load.json").write_text(json.dumps(record, indent=2))
    console.print(f"figures written to {args.out / 'load.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
