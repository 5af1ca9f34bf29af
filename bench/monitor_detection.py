"""Monitor detection matrix: how often the monitor's verdict fires on undrifted traffic (false
alarms) and on three shifts (detections), at two window sizes, with Wilson 95 % intervals.

A window is one day of traffic of one synthetic population, as the monitor's 24-hour window is
a day of the production population's: a population of n / 2.25 customers (the generator's
transactions per customer per day) gives windows of about n rows, with a whole day's hours and
each card's fraud bursts inside. Each population ("world", its own seed) has 30 warm-up days
that only fill the velocity windows, then the days its reference comes from (the newest
20,000 rows before the live days, as the pipeline keeps the holdout's newest
`training.steps.REFERENCE_ROWS`, from their first whole day on, as the job reads them:
`checks.whole_days`), then 20 live days: 20 windows per world, 10 worlds for 200
windows. The windows of one world share its reference, as a production model's windows do;
the Wilson intervals treat the 200 windows as independent, which they are given the
references. The model is trained once, the project's way (`steps.train`), on a separate small
history.

Scenarios, each the same population generated with one `DriftSpec` (same seed, same customers):
undrifted; amounts x 1.6 (`amount_scale`); card-present share of in-store spending 0.92 -> 0.5
(`card_present_rate`); a fraud attack at 5x the base rate (`fraud_rate_scale`).

Each window is judged by `monitoring.checks.judge`, the job's own decision (every check, the
alpha split, the segment minimum, PR-AUC on matured labels). A window's verdict "fires" when
any check fails. Evidently is not run per window (its report costs seconds; the decision does
not use it), see the module docstring of `monitoring.checks`.

Run: `make bench-monitor-detection` (sizes 9,000 and 1,000 rows by default, `--sizes`);
figures go to artifacts/bench/monitor_detection.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 3, 2)
WARMUP_DAYS = 30  # the longest velocity window (30 days) fills before any row is used
LIVE_DAYS = 20  # windows per world: the days after its reference
SEED = 11


@dataclass(frozen=True)
class Scenario:
    name: str
    drift: dict[str, float]


SCENARIOS = (
    Scenario("undrifted", {}),
    Scenario("amounts x 1.6", {"amount_scale": 1.6}),
    Scenario("card present 0.92 -> 0.5", {"card_present_rate": 0.5}),
    Scenario("fraud attack 5x", {"fraud_rate_scale": 5.0}),
)


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95 % by default) for a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def train_model(workdir: Path) -> Any:
    """A small model trained once through the pipeline's pure functions (as
    tests/model/trained_model.py does): 1,000 other customers over 40 days, every label
    taken as known."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from fraud_detection.config import DataSettings, TrainingSettings
    from fraud_detection.data.generate import generate
    from fraud_detection.data.io import write_parquet
    from fraud_detection.features.aggregates import PROFILE_FEATURES
    from fraud_detection.features.velocity import VELOCITY_FEATURES
    from fraud_detection.training import steps
    from fraud_detection.training.model import FraudModel

    history = generate(DataSettings(n_customers=1_000, days=40, end=END - timedelta(days=120),
                                    seed=7))  # fmt: skip
    labelled = joined(history).sort_values(["event_timestamp", "transaction_id"],
                                           ignore_index=True)  # fmt: skip
    # Every label as known: the model only has to score, and no gap for late labels is needed.
    labelled = labelled.drop(columns=["label_available_at"], errors="ignore")
    params = TrainingSettings(holdout_days=5, validation_days=10, seed=7)
    path = write_parquet(labelled, workdir / "training_set.parquet")
    with threadpool_limits(limits=1, user_api="openmp"):
        steps.train(path, (*VELOCITY_FEATURES, *PROFILE_FEATURES), params, 0.01,
                    workdir / "model.joblib")  # fmt: skip
    return FraudModel.load(workdir / "model.joblib")


def joined(history: Any) -> pd.DataFrame:
    """Transactions with the features that existed just before each (velocity, profile)."""
    from fraud_detection.features.aggregates import customer_profile
    from fraud_detection.features.velocity import velocity_features

    transactions = history.transactions
    out = transactions.assign(**velocity_features(transactions))
    profile = customer_profile(history.customers).drop(columns="event_timestamp")
    return out.merge(profile, on="customer_id", how="left")


def world(seed: int, customers: int, days: int, drift: dict[str, float]) -> pd.DataFrame:
    """One population's history, with each row's day; the warm-up days left out."""
    from fraud_detection.config import DataSettings
    from fraud_detection.data.generate import DriftSpec, generate

    settings = DataSettings(n_customers=customers, days=days, end=END, seed=seed)
    frame = joined(generate(settings, DriftSpec(**drift)))
    start = pd.Timestamp(settings.end_timestamp() - timedelta(days=days))
    frame["day"] = ((frame["event_timestamp"] - start) // pd.Timedelta(days=1)).astype(int)
    frame = frame.sort_values(["event_timestamp", "transaction_id"], ignore_index=True)
    return frame[frame["day"] >= WARMUP_DAYS].reset_index(drop=True)


def scored(model: Any, rows: pd.DataFrame, labels: np.ndarray | None = None) -> pd.DataFrame:
    from fraud_detection.monitoring.checks import PREDICTION

    return model.inputs(rows).assign(**{
        PREDICTION: model.score(rows), "customer_id": rows["customer_id"].to_numpy(),
        "is_fraud": rows["is_fraud"].to_numpy(float) if labels is None else labels,
    })  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="9000,1000", help="window sizes in rows")
    parser.add_argument("--windows", type=int, default=200, help="windows per scenario")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()
    from fraud_detection.config import DataSettings, MonitorSettings
    from fraud_detection.monitoring.checks import CheckLimits, Reference, judge, whole_days
    from fraud_detection.training.steps import REFERENCE_ROWS

    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = MonitorSettings()
    limits = CheckLimits(settings.family_alpha, settings.min_segment_rows,
                         settings.min_fraud_labels, settings.max_pr_auc_drop,
                         settings.quality_resamples)  # fmt: skip
    print(f"machine: {os.cpu_count()} CPUs; {args.windows} windows per scenario and size; "
          f"family-wise alpha {limits.family_alpha:g}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        model = train_model(Path(tmp))
    columns = model.feature_columns
    per_customer_day = DataSettings().transactions_per_customer_per_day
    worlds = math.ceil(args.windows / LIVE_DAYS)
    results: dict[str, dict[str, Any]] = {}
    for size in sizes:
        customers = max(10, round(size / per_customer_day))
        reference_days = math.ceil(REFERENCE_ROWS / size) + 1
        days = WARMUP_DAYS + reference_days + LIVE_DAYS
        tallies = {
            s.name: {"fired": 0, "families": {}, "checks": {}, "rows": []} for s in SCENARIOS
        }  # type: dict[str, dict[str, Any]]
        size_started = time.perf_counter()
        prevalence = decline = 0.0
        for w in range(worlds):
            seed = SEED + 1_000 * w + size
            base = world(seed, customers, days, {})
            before = base[base["day"] < WARMUP_DAYS + reference_days]
            sample = whole_days(before.tail(REFERENCE_ROWS))  # as the monitor job reads it
            reference = Reference.of(scored(model, sample), columns, model.threshold,
                                     per_card=model.looked_up)  # fmt: skip
            prevalence += float(sample["is_fraud"].mean()) / worlds
            decline += reference.declined / len(sample) / worlds
            for scenario in SCENARIOS:
                frame = base if not scenario.drift else world(seed, customers, days,
                                                             scenario.drift)  # fmt: skip
                tally = tallies[scenario.name]
                live = frame[frame["day"] >= WARMUP_DAYS + reference_days]
                for _, day in live.groupby("day"):
                    if len(tally["rows"]) == args.windows:
                        break
                    judgement = judge(reference, scored(model, day, matured_labels(day)),
                                      columns, limits)  # fmt: skip
                    failed = judgement.failed()
                    tally["fired"] += bool(failed)
                    tally["rows"].append(len(day))
                    for family in {c.family for c in failed}:
                        tally["families"][family] = tally["families"].get(family, 0) + 1
                    for c in failed:
                        tally["checks"][c.name] = tally["checks"].get(c.name, 0) + 1
        print(f"{size:,}-row windows: {customers:,} customers per world, {worlds} worlds x "
              f"{LIVE_DAYS} live days; reference {REFERENCE_ROWS:,} rows, fraud "
              f"{prevalence:.2%}, decline rate {decline:.2%} (world means)  "
              f"[{time.perf_counter() - size_started:.0f} s]", flush=True)  # fmt: skip
        for scenario in SCENARIOS:
            tally = tallies[scenario.name]
            n = len(tally["rows"])
            low, high = wilson(tally["fired"], n)
            top = dict(sorted(tally["checks"].items(), key=lambda kv: -kv[1])[:6])
            results[f"{scenario.name} @ {size}"] = {
                "scenario": scenario.name, "size": size, "windows": n, "fired": tally["fired"],
                "rate": tally["fired"] / n, "wilson95": [low, high],
                "by_family": tally["families"], "top_checks": top,
                "rows_median": float(np.median(tally["rows"])),
            }  # fmt: skip
            print(f"  {scenario.name:>26}: {tally['fired']:>3}/{n} ({tally['fired'] / n:.1%}, "
                  f"95 % {low:.1%}-{high:.1%}; median {np.median(tally['rows']):,.0f} rows) "
                  f"families {tally['families']} checks {top}", flush=True)  # fmt: skip
    print_matrix(results, sizes)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitor_detection.json").write_text(json.dumps(
        {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
         "cpu_count": os.cpu_count(), "seconds": total, "family_alpha": limits.family_alpha,
         "min_segment_rows": limits.min_segment_rows, "results": results}, indent=2))  # fmt: skip
    return 0


def matured_labels(window: pd.DataFrame) -> np.ndarray:
    """The window's labels known at its end (the end of its day); all of them when the data
    carries no `label_available_at`."""
    labels: np.ndarray = window["is_fraud"].to_numpy(float)
    if "label_available_at" not in window:
        return labels
    end = window["event_timestamp"].max().normalize() + pd.Timedelta(days=1)
    at = pd.to_datetime(window["label_available_at"], utc=True, errors="coerce")
    return np.where(at.isna().to_numpy() | (at <= end).to_numpy(), labels, np.nan)


def print_matrix(results: dict[str, dict[str, Any]], sizes: list[int]) -> None:
    print("\n| scenario | " + " | ".join(f"{s:,} rows" for s in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for scenario in SCENARIOS:
        cells = []
        for size in sizes:
            r = results[f"{scenario.name} @ {size}"]
            low, high = r["wilson95"]
            cells.append(f"{r['fired']}/{r['windows']} = {r['rate']:.1%} ({low:.1%}-{high:.1%})")
        print(f"| {scenario.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
