"""What fresh features are worth: a week of live traffic scored three ways, PR-AUC with CIs.

A 60-day history of 2,000 customers trains two models, each with the production
hyperparameters: one on the batch aggregates of feature service `…_v1` (windows ending at the
card's last transaction, that one included), one on the real-time velocity of `…_v2` (windows
over the card's earlier transactions, as of each transaction). Then 7 days of live traffic by
the same customers are scored:

* `v2 served`: each transaction recorded in a real card event store (SQLite, backfilled with
  the history's last 30 days), in time order, and scored with the velocity the store returns:
  what the service does;
* `v2 offline`: the same model on the offline point-in-time velocity of the same transactions
  (`velocity_features` over history and week), the figure training promises;
* `v1 stale`: the v1 model on its aggregates as last materialized at the history's end, which
  no live transaction updates (serving before real-time features);
* `v1 point-in-time`: the v1 model on its aggregates recomputed with the week included.

Each PR-AUC comes with a 95 % bootstrap interval over customers (a customer's transactions are
resampled together: a burst is one customer's), and the counts of rows and fraud rows.

Run: `.venv/bin/python bench/feature_freshness.py [--days 7] [--out artifacts/bench]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from fraud_detection.config import DataSettings, TrainingSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.aggregates import (
    PROFILE_FEATURES,
    STATS_FEATURES,
    as_of_just_before,
    customer_profile,
    customer_transaction_stats,
)
from fraud_detection.features.card_events import SQLiteCardEvents, event
from fraud_detection.features.velocity import VELOCITY_FEATURES, micros, velocity_features
from fraud_detection.training import bootstrap
from fraud_detection.training.model import fit

END = date(2026, 3, 2)
RESAMPLES = 1_000


def v1_point_in_time(transactions: pd.DataFrame, of: pd.DataFrame) -> pd.DataFrame:
    """`of`'s rows with the v1 aggregates as of just before each (Feast's historical join)."""
    stats = customer_transaction_stats(transactions).rename(columns={"event_timestamp": "as_of"})
    keyed = of.assign(as_of=as_of_just_before(of["event_timestamp"]))
    joined = pd.merge_asof(
        keyed.sort_values("as_of"), stats.sort_values("as_of"), on="as_of", by="customer_id"
    )
    return joined.drop(columns="as_of").sort_values("event_timestamp", ignore_index=True)


def with_profile(frame: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    profile = customer_profile(customers).drop(columns="event_timestamp")
    return frame.merge(profile, on="customer_id", how="left")


def served_velocity(history: pd.DataFrame, week: pd.DataFrame, directory: Path) -> pd.DataFrame:
    """The week's velocity as the service gets it: one record-and-read per transaction."""
    store = SQLiteCardEvents(directory / "card_events.db")
    recent = history[
        history["event_timestamp"] >= history["event_timestamp"].max() - pd.Timedelta("30D")
    ]
    store.backfill(
        event(c, micros(t), a, i)
        for c, t, a, i in recent[
            ["customer_id", "event_timestamp", "amount", "transaction_id"]
        ].itertuples(index=False)
    )
    rows = []
    for c, t, a, i in week[
        ["customer_id", "event_timestamp", "amount", "transaction_id"]
    ].itertuples(index=False):
        (velocity,) = store.record_and_read([event(c, micros(t), a, i)])
        rows.append(velocity.values)
    return pd.DataFrame(rows, index=week.index, columns=list(VELOCITY_FEATURES)).astype("float64")


def pr_auc_with_interval(
    labels: np.ndarray, scores: np.ndarray, customers: np.ndarray
) -> dict[str, float]:
    """PR-AUC and its 95 % percentile interval over `RESAMPLES` customer-clustered resamples."""
    found = bootstrap.clustered_metric(labels, scores, customers, bootstrap.pr_auc, RESAMPLES)
    low, high = found.interval(0.95)
    return {"pr_auc": found.estimate, "low": low, "high": high}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench"))
    args = parser.parse_args()
    started = time.perf_counter()
    data = DataSettings(n_customers=2_000, days=60, end=END, seed=7)
    history = generate(data)
    week = generate(
        data.model_copy(update={"end": END + timedelta(days=args.days), "days": args.days})
    ).transactions
    week = week.assign(transaction_id="live-" + week["transaction_id"]).sort_values(
        "event_timestamp", ignore_index=True
    )
    transactions, customers = history.transactions, history.customers
    params = TrainingSettings()
    fraud = int(week["is_fraud"].sum())
    print(f"history {len(transactions):,} rows; week {len(week):,} rows, {fraud} fraud")

    print("training v1 (batch aggregates) and v2 (real-time velocity)")
    v1_train = with_profile(v1_point_in_time(transactions, transactions), customers)
    v1 = fit(v1_train, (*STATS_FEATURES, *PROFILE_FEATURES), params)
    v2_train = with_profile(transactions.assign(**velocity_features(transactions)), customers)
    v2 = fit(v2_train, (*VELOCITY_FEATURES, *PROFILE_FEATURES), params)

    print("replaying the week through a card event store")
    with tempfile.TemporaryDirectory() as tmp:
        served = served_velocity(transactions, week, Path(tmp))
    everything = pd.concat([transactions, week], ignore_index=True)
    offline = velocity_features(everything).iloc[len(transactions) :].set_axis(week.index)
    equal = np.isclose(served, offline, rtol=0, atol=1e-9, equal_nan=True).all(axis=1)

    last = customer_transaction_stats(transactions).groupby("customer_id").tail(1)
    stale = week.merge(last.drop(columns="event_timestamp"), on="customer_id", how="left")
    frames = {
        "v2 served": (v2, week.assign(**served)),
        "v2 offline": (v2, week.assign(**offline)),
        "v1 stale": (v1, stale),
        "v1 point-in-time": (v1, v1_point_in_time(everything, week)),
    }
    results: dict[str, object] = {
        "rows": len(week),
        "fraud_rows": int(week["is_fraud"].sum()),
        "served_equals_offline": float(equal.mean()),
    }
    print(f"\nserved velocity equal to offline on {equal.mean():.2%} of rows\n")
    print(f"{'features':<18} {'PR-AUC':>7}  95 % interval")
    for name, (model, frame) in frames.items():
        frame = with_profile(frame, customers)
        scores = model.score(frame)
        figure = pr_auc_with_interval(
            frame["is_fraud"].to_numpy(), scores, frame["customer_id"].to_numpy()
        )
        results[name] = figure
        print(f"{name:<18} {figure['pr_auc']:7.3f}  [{figure['low']:.3f}, {figure['high']:.3f}]")
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "feature_freshness.json").write_text(json.dumps(results, indent=2))
    print(f"\n{results['seconds']} s; written to {args.out / 'feature_freshness.json'}")


if __name__ == "__main__":
    main()
