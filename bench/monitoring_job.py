"""Monitoring benchmark: the drift job's time and peak memory at 100k and 1M logged rows.

A synthetic prediction log (JSON lines, the serving path's format) is written from generated
transactions, then the job's two stages are timed separately in a fresh process per size,
with peak resident memory from `resource.getrusage`:

* read: parsing the log window into a frame (`monitoring.log_reader.read_window`);
* drift: the Evidently data-drift report over every model input and the prediction, with its
  HTML and JSON written (`monitoring.reports.drift_report`).

The baseline is the 100k size; `rows/min` is the figure the target (1M rows per minute on two
cores) is about. Run: `make bench-monitoring`; figures go to artifacts/bench/monitoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZES = {"100k": 100_000, "1M": 1_000_000}
LOOKED_UP = ("txn_count_1h", "txn_count_24h", "amount_sum_24h", "txn_count_30d",
             "amount_mean_30d")  # fmt: skip


def build_frames(rows: int) -> tuple[Any, Any]:
    """Reference and current model-input frames (current drifted), `rows` current rows."""
    import numpy as np

    from fraud_detection.config import DataSettings
    from fraud_detection.data.generate import DriftSpec, generate
    from fraud_detection.features.aggregates import customer_transaction_stats
    from fraud_detection.features.derived import model_frame

    def inputs(n_customers: int, drift: DriftSpec | None) -> Any:
        settings = DataSettings(n_customers=n_customers, days=30, end=date(2026, 1, 1))
        frame = generate(settings, drift).transactions
        joined = frame.merge(customer_transaction_stats(frame), how="left",
                             on=["customer_id", "event_timestamp"])  # fmt: skip
        out = model_frame(joined, LOOKED_UP)
        return out.assign(prediction=np.random.default_rng(0).random(len(out)))

    reference = inputs(600, None).head(20_000)
    current = inputs(max(100, rows // 36 + 100), DriftSpec(amount_scale=2))
    repeats = -(-rows // len(current))
    current = current.loc[current.index.repeat(repeats)].head(rows).reset_index(drop=True)
    return reference, current


def write_log(current: Any, directory: Path, at: datetime) -> None:
    features = [c for c in current.columns if c != "prediction"]
    partition = directory / f"date={at:%Y-%m-%d}"
    partition.mkdir(parents=True)
    scored_at = at.isoformat()
    records = current[features].astype(object).where(current[features].notna(), None)
    with (partition / "v1-1.jsonl").open("w") as handle:
        for i, (row, p) in enumerate(zip(records.to_dict(orient="records"),
                                         current["prediction"], strict=True)):  # fmt: skip
            handle.write(json.dumps({
                "request_id": str(i), "transaction_id": f"t{i}", "customer_id": 0,
                "event_timestamp": scored_at, "scored_at": scored_at, "model_version": "v1",
                "fraud_probability": float(p), "is_fraud": False, "degraded": False,
                "features": row,
            }) + "\n")  # fmt: skip


def measure(size: str, workdir: Path) -> dict[str, Any]:
    """Runs in its own process: build the log, then time reading and the drift report."""
    from fraud_detection.monitoring.log_reader import read_window
    from fraud_detection.monitoring.reports import drift_report

    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    reference, current = build_frames(SIZES[size])
    write_log(current, workdir / "log", at)
    del current
    started = time.perf_counter()
    window = read_window(workdir / "log", at - timedelta(hours=1), at + timedelta(seconds=1))
    read_s = time.perf_counter() - started
    columns = [c for c in reference.columns if c != "prediction"]
    started = time.perf_counter()
    summary = drift_report(reference, window.frame, columns, 0.3, workdir / "report")
    drift_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": len(window.frame), "read_s": read_s, "drift_s": drift_s,
            "total_s": read_s + drift_s, "peak_mb": peak_mb,
            "drifted_share": summary["drifted_share"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one size
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(args.one, Path(tmp))))
        return 0
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}")
    results: dict[str, dict[str, Any]] = {}
    for size in args.sizes.split(","):
        print(f"{size}: writing the log, reading it, running the drift report …", flush=True)
        out = subprocess.run([sys.executable, __file__, "--one", size], check=True,
                             capture_output=True, text=True)  # fmt: skip
        results[size] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[size]
        print(f"{size}: read {r['read_s']:.1f}s, drift {r['drift_s']:.1f}s, "
              f"peak {r['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    base = results.get("100k")
    print(f"\n{'size':>6} {'rows':>9} {'read s':>7} {'drift s':>8} {'total s':>8} "
          f"{'rows/min':>10} {'peak MB':>8} {'time ×100k':>10}")  # fmt: skip
    for size, r in results.items():
        ratio = f"{r['total_s'] / base['total_s']:.1f}×" if base else ""
        print(f"{size:>6} {r['rows']:>9,} {r['read_s']:>7.1f} {r['drift_s']:>8.1f} "
              f"{r['total_s']:>8.1f} {r['rows'] / r['total_s'] * 60:>10,.0f} "
              f"{r['peak_mb']:>8.0f} {ratio:>10}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitoring.json").write_text(json.dumps(
        {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
         "cpu_count": os.cpu_count(), "results": results}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
