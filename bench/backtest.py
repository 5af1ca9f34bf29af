"""Delayed labels on the default data: what the holdout would know without the label gap, and
the rolling backtest's spread.

On the default data (`DataSettings()`, end pinned to 2026-03-02, so its labels arrive as
`DataSettings().labels` says):

* label coverage: the share of the holdout's fraud whose chargeback has arrived at the
  pipeline's cutoff (the newest transaction), for the holdout of the newest
  `TrainingSettings.holdout_days` (no gap, the layout before delayed labels) and for the
  holdout `time_split` picks (before the label gap), each with a 95 % Wilson interval;
* the rolling backtest (`training.backtest.rolling_backtest`, `make backtest`'s layout: three
  windows of 5-day holdouts stepping 5 days): per window rows, frauds, PR-AUC and recall at the
  1 % FPR budget; across windows mean ± SD and the 95 % Student-t interval of the mean; and its
  seconds.

The training set is the production feature service's point-in-time join built without Feast:
each transaction's velocity over its card's earlier transactions (`velocity_features`, the
definition serving and Feast's training frame use) and the customer profile, a snapshot older
than the history, so Feast's point-in-time join reduces to a plain join. `make backtest` runs
the same backtest on the workspace through Feast.

Run: `.venv/bin/python bench/backtest.py [--out artifacts/bench]` (or `make bench-backtest`);
the figures are printed and written to `<out>/backtest.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from fraud_detection.config import DataSettings, GateSettings, TrainingSettings
from fraud_detection.data.contract import LABEL, validate_transactions
from fraud_detection.data.generate import generate
from fraud_detection.data.labels import labels_known_at
from fraud_detection.features.aggregates import PROFILE_FEATURES, customer_profile
from fraud_detection.features.velocity import VELOCITY_FEATURES, velocity_features
from fraud_detection.training.backtest import rolling_backtest
from fraud_detection.training.evaluate import wilson
from fraud_detection.training.split import after_warmup, time_split

REPO_ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 3, 2)
LOOKED_UP = (*VELOCITY_FEATURES, *PROFILE_FEATURES)
BACKTEST_HOLDOUT_DAYS = 5  # `fraud-detection backtest`'s default


def coverage(frame: pd.DataFrame, cutoff: pd.Timestamp) -> dict[str, Any]:
    """Share of the fraud in `frame` labelled at `cutoff`, with its 95 % Wilson interval."""
    fraud = frame[frame[LABEL] == 1]
    known = int(labels_known_at(fraud, cutoff).sum())
    low, high = wilson(known, len(fraud))
    return {
        "window": [str(frame["event_timestamp"].min()), str(frame["event_timestamp"].max())],
        "frauds": len(fraud),
        "labelled": known,
        "share": round(known / len(fraud), 4),
        "low": round(low, 4),
        "high": round(high, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()

    data_settings = DataSettings(end=END)
    history = generate(data_settings)
    transactions = validate_transactions(history.transactions)
    frame = transactions.assign(**velocity_features(transactions)).merge(
        customer_profile(history.customers).drop(columns="event_timestamp"),
        on="customer_id",
        how="left",
    )
    params = TrainingSettings()
    frame = after_warmup(frame, params.feature_warmup_days)
    cutoff = frame["event_timestamp"].max()
    newest = frame[frame["event_timestamp"] >= cutoff - pd.Timedelta(days=params.holdout_days)]
    split = time_split(frame, params.holdout_days, params.validation_days)
    results: dict[str, Any] = {
        "data": data_settings.model_dump(mode="json"),
        "rows": len(frame),
        "frauds": int(frame[LABEL].sum()),
        "cutoff": str(cutoff),
        "label_gap_days": split.label_gap_days,
        "coverage_without_gap": coverage(newest, cutoff),
        "coverage_with_gap": coverage(split.holdout, cutoff),
        "split": {
            name: {"rows": len(part), "frauds": int(part[LABEL].sum())}
            for name, part in (
                ("train", split.train),
                ("validation", split.validation),
                ("holdout", split.holdout),
            )
        },
    }
    started = time.perf_counter()
    backtest = rolling_backtest(
        frame,
        LOOKED_UP,
        params.model_copy(update={"holdout_days": BACKTEST_HOLDOUT_DAYS}),
        GateSettings().target_fpr,
    )
    results["backtest"] = backtest.as_dict()
    results["backtest_seconds"] = round(time.perf_counter() - started, 1)

    print(f"default data: {results['rows']:,} rows, {results['frauds']:,} frauds; cutoff {cutoff}")
    for name in ("coverage_without_gap", "coverage_with_gap"):
        c = results[name]
        print(
            f"{name}: {c['labelled']}/{c['frauds']} holdout frauds labelled = {c['share']:.1%} "
            f"(95 % Wilson {c['low']:.1%} to {c['high']:.1%}), holdout {c['window'][0]} .. "
            f"{c['window'][1]}"
        )
    for w in backtest.windows:
        print(
            f"window cutoff {w.cutoff}: train {w.train_rows:,} rows ({w.train_frauds} frauds), "
            f"holdout {w.holdout_rows:,} ({w.holdout_frauds}): PR-AUC {w.pr_auc:.3f}, "
            f"recall@1% FPR {w.recall_at_fpr:.3f}"
        )
    for metric, s in results["backtest"]["summary"].items():
        print(
            f"{metric}: {s['mean']:.3f} ± {s['sd']:.3f} (SD), 95 % t interval of the mean "
            f"{s['low']:.3f} to {s['high']:.3f}"
        )
    print(f"backtest: {results['backtest_seconds']} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backtest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
