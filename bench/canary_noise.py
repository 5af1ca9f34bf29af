"""The canary's probe noise on the default data: the figures of docs/serving-rollout.md,
"The probe size".

On the default data (`DataSettings()`, end pinned to 2026-03-02), split as training splits it
(`TrainingSettings()`: holdout, validation days, label gap), six models are trained like
production's (`training.model.fit`, `TrainingSettings()` except `max_iter`, see `--max-iter`),
each with its own seed on its own 90 % of the training customers (a seed alone changes no tree):
seed 0 is the stable model, seeds 1-5 the candidates of the same quality. A seventh, without the
velocity features, is the worse candidate. Each candidate is judged against stable by the
canary's own code (`rollout.probe.gather`, `rollout.analysis.analyse`, default
`RolloutSettings`) on the whole holdout and on its newest 20,000 rows; printed: the 95 %
intervals of candidate - stable, half-widths, the verdict, and the probe rows the widest
half-width asks for (`rollout.probe.rows_needed`).

Run: `.venv/bin/python bench/canary_noise.py [--max-iter 150] [--out artifacts/bench]` (or
`make bench-canary`); the figures are printed and written to `<out>/canary_noise.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraud_detection.config import DataSettings, RolloutSettings, TrainingSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.aggregates import PROFILE_FEATURES
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.rollout.analysis import Measurements, analyse
from fraud_detection.rollout.probe import gather, rows_needed
from fraud_detection.training.model import FraudModel, fit
from fraud_detection.training.split import after_warmup, time_split

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from training_data import velocity_training_set  # noqa: E402  # the tests' definition

END = date(2026, 3, 2)
TARGET_FPR = 0.01
SEEDS = (1, 2, 3, 4, 5)


def _loader(model: Any) -> Any:
    """The candidate's loader for `gather`: this fitted model."""
    return lambda: model


def _customers_of(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    customers = np.sort(train["customer_id"].unique())
    kept = np.random.default_rng(seed).choice(customers, int(0.9 * len(customers)), replace=False)
    return train[train["customer_id"].isin(kept)]


def measure(max_iter: int) -> dict[str, Any]:
    started = time.perf_counter()
    params = TrainingSettings(max_iter=max_iter)
    rows = after_warmup(velocity_training_set(generate(DataSettings(end=END))),
                        params.feature_warmup_days)  # fmt: skip
    split = time_split(
        rows, params.holdout_days, params.validation_days, label_gap_days=params.label_gap_days
    )
    looked_up = (*VELOCITY_FEATURES, *PROFILE_FEATURES)

    def trained(seed: int, features: tuple[str, ...] = looked_up) -> FraudModel:
        chosen = _customers_of(split.train, seed)
        return fit(chosen, features, params.model_copy(update={"seed": seed}))

    stable = trained(0)
    candidates = {f"seed {s}": trained(s) for s in SEEDS}
    candidates["no velocity features"] = trained(0, tuple(PROFILE_FEATURES))
    limits = RolloutSettings()
    live = Measurements(ready=True, requests=100, errors=0, latencies_ms=(10.0,) * 20)
    holdout = split.holdout.reset_index(drop=True)
    probes = {"whole holdout": holdout, "newest 20,000 rows": holdout.tail(20_000)}
    figures: dict[str, Any] = {"max_iter": max_iter, "probes": {}}
    for probe_name, probe in probes.items():
        found: dict[str, Any] = {}
        widest = 0.0
        for name, model in candidates.items():
            evidence = gather(probe, probe_name, stable, _loader(model), limits, TARGET_FPR, 0)
            verdict = analyse(live, live, limits, evidence)
            found[name] = {
                "promoted": verdict.promote,
                **{
                    metric: {
                        "difference": c.difference, "lower": c.lower, "upper": c.upper,
                        "half_width": c.half_width,
                    }
                    for metric, c in evidence.comparisons.items()
                },
            }  # fmt: skip
            if name.startswith("seed"):
                widest = max([widest, *(c.half_width for c in evidence.comparisons.values())])
            first = evidence
        figures["probes"][probe_name] = {
            "rows": first.rows, "frauds": first.frauds, "fraud_customers": first.fraud_customers,
            "widest_equal_half_width": widest,
            "rows_for_half_the_margin": rows_needed(first.rows, widest, limits.max_quality_drop),
            "candidates": found,
        }  # fmt: skip
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=150, help="boosting rounds per model")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()
    figures = measure(args.max_iter)
    for probe_name, probe in figures["probes"].items():
        print(
            f"{probe_name}: {probe['rows']:,} rows, {probe['frauds']} frauds of "
            f"{probe['fraud_customers']} customers; widest equal-quality half-width "
            f"{probe['widest_equal_half_width']:.3f}, rows for half the margin "
            f"{probe['rows_for_half_the_margin']:,}"
        )
        for name, found in probe["candidates"].items():
            cells = [
                f"{m} {c['difference']:+.3f} [{c['lower']:+.3f}, {c['upper']:+.3f}]"
                for m, c in found.items()
                if isinstance(c, dict)
            ]
            verdict = "promoted" if found["promoted"] else "rolled back"
            print(f"  {name}: {'; '.join(cells)} -> {verdict}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "canary_noise.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
