"""Monitor detection matrix: how often the monitor's verdict fires on undrifted traffic (false
alarms) and on three shifts (detections), at three window sizes, with Wilson 95 % intervals.

A cell is "D x R": windows of D whole days of a synthetic population that transacts R rows a
day (R / 2.25 customers, the generator's transactions per customer per day), so D x R rows a
window, with whole days' hours and each card's fraud bursts inside. The monitor's own window is
3 x 9,000: its 72 hours (`monitor.window_hours`) of the default production traffic. Each
population ("world", its own seed) has 30 warm-up days that only fill the velocity windows,
then the holdout days its reference comes from (the newest `training.steps.REFERENCE_ROWS` of
the 10 days before the live days, as the pipeline keeps them, from their first whole day on,
as the job reads them: `checks.whole_days`), then 20 live windows. Ten worlds give 200
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

Run: `make bench-monitor-detection` (cells 3x9000, 1x9000 and 1x1000 by default, `--cells`);
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
WINDOWS_PER_WORLD = 20  # live windows after the reference
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


@dataclass(frozen=True)
class Cell:
    """Windows of `days` whole days of a population that transacts `rows_per_day`."""

    days: int
    rows_per_day: int

    @classmethod
    def parse(cls, text: str) -> Cell:
        days, _, rows = text.partition("x")
        return cls(int(days), int(rows))

    @property
    def name(self) -> str:
        return f"{self.days}x{self.rows_per_day}"

    @property
    def label(self) -> str:
        span = "1 day" if self.days == 1 else f"{self.days} days"
        return f"{self.days * self.rows_per_day:,} rows ({span} of {self.rows_per_day:,})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells",
        default="3x9000,1x9000,1x1000",
        help="windows as DAYSxROWS: whole days of a population of ROWS a day",
    )
    parser.add_argument("--windows", type=int, default=200, help="windows per scenario")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()
    from fraud_detection.config import DataSettings, MonitorSettings, TrainingSettings
    from fraud_detection.monitoring.checks import Reference, judge, whole_days
    from fraud_detection.monitoring.job import check_limits
    from fraud_detection.training.evaluate import wilson
    from fraud_detection.training.steps import REFERENCE_ROWS

    started = time.perf_counter()
    cells = [Cell.parse(c) for c in args.cells.split(",")]
    settings = MonitorSettings()
    limits = check_limits(settings)  # as the monitor job builds them
    print(f"machine: {os.cpu_count()} CPUs; {args.windows} windows per scenario and cell; "
          f"family-wise alpha {limits.family_alpha:g}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        model = train_model(Path(tmp))
    columns = model.feature_columns
    per_customer_day = DataSettings().transactions_per_customer_per_day
    holdout_days = TrainingSettings().holdout_days
    worlds = math.ceil(args.windows / WINDOWS_PER_WORLD)
    results: dict[str, dict[str, Any]] = {}
    for cell in cells:
        customers = max(10, round(cell.rows_per_day / per_customer_day))
        live_start = WARMUP_DAYS + holdout_days
        days = live_start + WINDOWS_PER_WORLD * cell.days
        tallies = {
            s.name: {"fired": 0, "families": {}, "checks": {}, "rows": []} for s in SCENARIOS
        }  # type: dict[str, dict[str, Any]]
        cell_started = time.perf_counter()
        prevalence = decline = reference_rows = 0.0
        for w in range(worlds):
            seed = SEED + 1_000 * w + cell.days * 100_000 + cell.rows_per_day
            base = world(seed, customers, days, {})
            holdout = base[(base["day"] >= WARMUP_DAYS) & (base["day"] < live_start)]
            sample = whole_days(holdout.tail(REFERENCE_ROWS))  # as the monitor job reads it
            reference = Reference.of(scored(model, sample), columns, model.threshold,
                                     per_card=model.looked_up)  # fmt: skip
            prevalence += float(sample["is_fraud"].mean()) / worlds
            decline += reference.declined / len(sample) / worlds
            reference_rows += len(sample) / worlds
            for scenario in SCENARIOS:
                frame = base if not scenario.drift else world(seed, customers, days,
                                                             scenario.drift)  # fmt: skip
                tally = tallies[scenario.name]
                live = frame[frame["day"] >= live_start]
                for _, window in live.groupby((live["day"] - live_start) // cell.days):
                    if len(tally["rows"]) == args.windows:
                        break
                    judgement = judge(reference, scored(model, window, matured_labels(window)),
                                      columns, limits)  # fmt: skip
                    failed = judgement.failed()
                    tally["fired"] += bool(failed)
                    tally["rows"].append(len(window))
                    for family in {c.family for c in failed}:
                        tally["families"][family] = tally["families"].get(family, 0) + 1
                    for c in failed:
                        tally["checks"][c.name] = tally["checks"].get(c.name, 0) + 1
            print(f"  {cell.name}: world {w + 1}/{worlds} judged "
                  f"[{time.perf_counter() - cell_started:.0f} s]", flush=True)  # fmt: skip
        print(f"{cell.label} windows: {customers:,} customers per world, {worlds} worlds x "
              f"{WINDOWS_PER_WORLD} windows; reference {reference_rows:,.0f} rows, fraud "
              f"{prevalence:.2%}, decline rate {decline:.2%} (world means)  "
              f"[{time.perf_counter() - cell_started:.0f} s]", flush=True)  # fmt: skip
        for scenario in SCENARIOS:
            tally = tallies[scenario.name]
            n = len(tally["rows"])
            low, high = wilson(tally["fired"], n)
            top = dict(sorted(tally["checks"].items(), key=lambda kv: -kv[1])[:6])
            results[f"{scenario.name} @ {cell.name}"] = {
                "scenario": scenario.name, "cell": cell.name, "window_days": cell.days,
                "rows_per_day": cell.rows_per_day, "windows": n, "fired": tally["fired"],
                "rate": tally["fired"] / n, "wilson95": [low, high],
                "by_family": tally["families"], "top_checks": top,
                "rows_median": float(np.median(tally["rows"])),
                "reference_rows": reference_rows,
            }  # fmt: skip
            print(f"  {scenario.name:>26}: {tally['fired']:>3}/{n} ({tally['fired'] / n:.1%}, "
                  f"95 % {low:.1%}-{high:.1%}; median {np.median(tally['rows']):,.0f} rows) "
                  f"families {tally['families']} checks {top}", flush=True)  # fmt: skip
    print_matrix(results, cells)
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


def print_matrix(results: dict[str, dict[str, Any]], cells: list[Cell]) -> None:
    print("\n| scenario | " + " | ".join(c.label for c in cells) + " |")
    print("|---|" + "---:|" * len(cells))
    for scenario in SCENARIOS:
        shown = []
        for cell in cells:
            r = results[f"{scenario.name} @ {cell.name}"]
            low, high = r["wilson95"]
            shown.append(f"{r['fired']}/{r['windows']} = {r['rate']:.1%} ({low:.1%}-{high:.1%})")
        print(f"| {scenario.name} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    sys.exit(main())
