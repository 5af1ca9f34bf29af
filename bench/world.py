"""How hard the synthetic fraud world is, and what it costs: the figures of docs/design.md's
"old world against the new" table, for the generator as it is.

On the default data (`DataSettings()`, end pinned to 2026-03-02), in a fresh temporary
workspace (a copy of `feature_repo/`):

* prevalence: rows, fraud rows and their share, overall and in the holdout (the newest
  `TrainingSettings.holdout_days`), and the fraud the labels never report;
* separation: the ROC-AUC of the best ranking each model input allows alone
  (`training_data.single_feature_auc`: the input as a score, or its bins' fraud rates
  cross-fitted over two halves of the customers), on the whole point-in-time training set;
* difficulty: the production model (`training.model.fit` with `TrainingSettings()`, fitted on the
  train split) on the holdout: PR-AUC with a 95 % bootstrap interval over customers (a
  customer's transactions are resampled together), ROC-AUC and recall at 1 % FPR; and the same
  model without the velocity features (profile only), which says how much the bursts carry;
  where the generator names its fraud scenarios, the holdout recall of each at the threshold
  that flags 1 % of legitimate holdout rows;
* cost: seconds to generate and write the data (`prepare_data`), to build the feature tables,
  `feast apply` and materialize (`prepare_features`), to build the point-in-time training set
  through Feast (`features.store.training_frame`, velocity included), and to fit the model.

Run: `.venv/bin/python bench/world.py [--out artifacts/bench]` (or `make bench-world`); the
figures are printed and written to `<out>/world.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from fraud_detection.config import DataSettings, Settings, TrainingSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.data.generate import generate
from fraud_detection.data.io import read_parquet
from fraud_detection.features.aggregates import PROFILE_FEATURES
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.training import bootstrap
from fraud_detection.training.model import fit
from fraud_detection.training.split import after_warmup, time_split

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from training_data import single_feature_aucs  # noqa: E402  # the tests' definition

END = date(2026, 3, 2)
RESAMPLES = 1_000
TARGET_FPR = 0.01
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, round(time.perf_counter() - started, 2)


def pr_auc_with_interval(
    labels: np.ndarray, scores: np.ndarray, customers: np.ndarray
) -> dict[str, float]:
    """PR-AUC and its 95 % percentile interval over `RESAMPLES` customer-clustered resamples."""
    found = bootstrap.clustered_metric(labels, scores, customers, bootstrap.pr_auc, RESAMPLES)
    low, high = found.interval(0.95)
    return {"pr_auc": round(found.estimate, 4), "low": round(low, 4), "high": round(high, 4)}


def model_figures(
    train: pd.DataFrame, holdout: pd.DataFrame, looked_up: tuple[str, ...]
) -> tuple[dict[str, Any], np.ndarray]:
    model, fit_seconds = timed(lambda: fit(train, looked_up, TrainingSettings()))
    scores = model.score(holdout)
    labels = holdout[LABEL].to_numpy()
    fpr, tpr, _ = roc_curve(labels, scores)
    figures = {
        **pr_auc_with_interval(labels, scores, holdout["customer_id"].to_numpy()),
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "recall_at_1pct_fpr": round(float(tpr[fpr <= TARGET_FPR].max()), 4),
        "fit_seconds": fit_seconds,
    }
    return figures, scores


def scenario_recall(
    holdout: pd.DataFrame, scenario: pd.Series, scores: np.ndarray
) -> dict[str, dict[str, float]]:
    """Each fraud scenario's holdout rows and the share flagged at the threshold that flags
    `TARGET_FPR` of the legitimate holdout rows (reported or not)."""
    kind = scenario.reindex(holdout["transaction_id"]).to_numpy()
    legit = scores[kind == ""]
    threshold = np.quantile(legit, 1 - TARGET_FPR)
    out = {}
    for name in sorted(set(kind) - {""}):
        mine = kind == name
        out[name] = {
            "rows": int(mine.sum()),
            "reported": int(holdout[LABEL].to_numpy()[mine].sum()),
            "recall": round(float((scores[mine] > threshold).mean()), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()
    from fraud_detection.features import store as feature_store  # Feast is slow to import

    results: dict[str, Any] = {"data": DataSettings(end=END).model_dump(mode="json")}
    with tempfile.TemporaryDirectory(prefix="bench-world-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO_ROOT / "feature_repo", root / "feature_repo")
        settings = Settings(workspace=root, data=DataSettings(end=END))
        _, results["generate_seconds"] = timed(lambda: prepare_data(settings, force=True))
        _, results["features_seconds"] = timed(lambda: prepare_features(settings, lambda _: None))
        transactions = read_parquet(settings.paths.transactions)
        store = feature_store.open_store(settings.paths.feature_repo)
        frame, results["training_set_seconds"] = timed(
            lambda: feature_store.training_frame(store, settings.feature_service, transactions)
        )
    params = TrainingSettings()
    frame = after_warmup(frame, params.feature_warmup_days)  # after the join: see steps
    split = time_split(frame, params.holdout_days, params.validation_days)
    results.update(
        rows=len(frame),
        fraud_rows=int(frame[LABEL].sum()),
        prevalence=round(float(frame[LABEL].mean()), 5),
        holdout_rows=len(split.holdout),
        holdout_fraud_rows=int(split.holdout[LABEL].sum()),
    )
    # The generator's own record of which rows are fraud and how (absent in older generators).
    data = generate(settings.data)
    scenario = getattr(data, "fraud_scenario", None)
    if scenario is not None:
        scenario = pd.Series(np.asarray(scenario), index=data.transactions["transaction_id"])
        results["unreported_fraud_rows"] = int(
            ((scenario.to_numpy() != "") & (data.transactions[LABEL].to_numpy() == 0)).sum()
        )
    looked_up = (*VELOCITY_FEATURES, *PROFILE_FEATURES)
    results["single_feature_auc"] = {
        k: round(v, 4) for k, v in single_feature_aucs(frame, looked_up).items()
    }
    results["model"], scores = model_figures(split.train, split.holdout, looked_up)
    results["model_without_velocity"], _ = model_figures(
        split.train, split.holdout, PROFILE_FEATURES
    )
    if scenario is not None:
        results["scenario_recall"] = scenario_recall(split.holdout, scenario, scores)
    print_results(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "world.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.out / 'world.json'}")


def print_results(r: dict[str, Any]) -> None:
    print(f"rows {r['rows']:,}; fraud {r['fraud_rows']:,} ({r['prevalence']:.3%})", end="")
    if "unreported_fraud_rows" in r:
        print(f"; fraud never reported (labelled 0): {r['unreported_fraud_rows']:,}", end="")
    print(f"\nholdout {r['holdout_rows']:,} rows, {r['holdout_fraud_rows']:,} fraud")
    print("\nsingle-feature ROC-AUC (best ranking of one input alone)")
    for name, auc in r["single_feature_auc"].items():
        print(f"  {name:<24} {auc:.3f}")
    for key in ("model", "model_without_velocity"):
        m = r[key]
        print(
            f"\n{key}: PR-AUC {m['pr_auc']:.3f} [95 % {m['low']:.3f}, {m['high']:.3f}], "
            f"ROC-AUC {m['roc_auc']:.3f}, recall at 1 % FPR {m['recall_at_1pct_fpr']:.3f}, "
            f"fit {m['fit_seconds']} s"
        )
    for name, s in r.get("scenario_recall", {}).items():
        print(f"  {name:<22} {s['rows']:>5} rows ({s['reported']} reported), recall {s['recall']}")
    print(
        f"\nseconds: generate {r['generate_seconds']}, features {r['features_seconds']}, "
        f"training set {r['training_set_seconds']}, fit {r['model']['fit_seconds']}"
    )


if __name__ == "__main__":
    main()
