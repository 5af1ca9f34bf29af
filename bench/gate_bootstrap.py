"""Gate benchmark: the holdout's noise, the bootstrap's time, and the old rule against the new.

Generates the default data (`DataSettings()` with a fixed last day), joins each transaction
with its real-time velocity and the customer profile (feature service `…_v2`, as
tests/model/trained_model.py does), and trains production's model through `steps.train` (fit,
calibration, the deployed threshold). Then trains challengers on the same split and judges each
against production on the same holdout:

* `reseeded`: another seed and a slower, longer boosting schedule (`reseeded`), of about the
  same quality: its difference is mostly noise;
* `fewer trees`: a tenth of the boosting iterations;
* `no velocity`: the profile features only (what the model loses without the card's velocity).

For each: the point difference (challenger - production) of PR-AUC and of recall at the FPR
budget, the standard deviation of that difference over the gate's customer-clustered bootstrap
(and, for comparison, over a row bootstrap), its interval, three verdicts (the old point rule,
difference >= -0.02; the interval rule at that margin; the gate's comparison checks at
`max_regression`), and the chance that a challenger of exactly equal quality clears the margin
with that SD (Phi(margin / SD - z)). Also production judged as a first model (floors; FPR and
alerts a day at its threshold) and the time of the bootstrap (median of three runs of 1,000
paired resamples; then of the whole `decide`).

Run: `make bench-gate` (`--customers N` for another size); figures go to
artifacts/bench/gate_bootstrap.json. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from fraud_detection.config import DataSettings, GateSettings, Settings, TrainingSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.data.generate import generate
from fraud_detection.data.io import write_parquet
from fraud_detection.features.aggregates import PROFILE_FEATURES, customer_profile
from fraud_detection.features.velocity import VELOCITY_FEATURES, velocity_features
from fraud_detection.training import bootstrap, steps
from fraud_detection.training.evaluate import evaluate
from fraud_detection.training.gate import COMPARED, Holdout, HoldoutScores, decide
from fraud_detection.training.model import FraudModel
from fraud_detection.training.split import after_warmup, time_split

REPO_ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 3, 2)
LOOKED_UP = (*VELOCITY_FEATURES, *PROFILE_FEATURES)
OLD_MARGIN = 0.02  # the point rule this gate replaced: candidate - production >= -0.02


def reseeded(params: TrainingSettings) -> TrainingSettings:
    """A challenger of production's quality: another seed, a slower and longer schedule."""
    return params.model_copy(
        update={"seed": params.seed + 1, "learning_rate": 0.06, "max_iter": 300}
    )


def labelled(data: DataSettings) -> pd.DataFrame:
    """The generated history joined with each transaction's velocity and the profile."""
    history = generate(data)
    transactions = history.transactions
    joined = transactions.assign(**velocity_features(transactions))
    profile = customer_profile(history.customers).drop(columns="event_timestamp")
    joined = joined.merge(profile, on="customer_id", how="left")
    joined = after_warmup(joined, TrainingSettings().feature_warmup_days)
    return joined.sort_values(["event_timestamp", "transaction_id"], ignore_index=True)


def trained(
    training_set: Path, looked_up: tuple[str, ...], params: TrainingSettings,
    gate: GateSettings, directory: Path, name: str,
) -> FraudModel:  # fmt: skip
    """A model as the pipeline's train step makes it (fit, calibrator, deployed threshold)."""
    path = directory / f"{name}.joblib"
    steps.train(training_set, looked_up, params, gate.target_fpr, path, gate.false_alarm_cost)
    return FraudModel.load(path)


def median_seconds(run: Any, repeat: int = 3) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure(customers: int | None) -> dict[str, Any]:
    settings = Settings()
    gate, params = settings.gate, settings.training
    data = DataSettings(end=END, **({} if customers is None else {"n_customers": customers}))
    frame = labelled(data)
    split = time_split(
        frame,
        params.holdout_days,
        params.validation_days,
        label_gap_days=params.label_gap_days,
        cutoff=params.label_cutoff,
    )  # the split `steps` makes
    part = split.holdout
    holdout = Holdout(
        part[LABEL].to_numpy(), part["customer_id"].to_numpy(), float(params.holdout_days)
    )
    challengers: dict[str, tuple[tuple[str, ...], TrainingSettings]] = {
        "reseeded": (LOOKED_UP, reseeded(params)),
        "fewer trees": (LOOKED_UP, params.model_copy(update={"max_iter": params.max_iter // 10})),
        "no velocity": (PROFILE_FEATURES, params),
    }
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        training_set = write_parquet(frame, directory / "training_set.parquet")
        started = time.perf_counter()
        production = trained(training_set, LOOKED_UP, params, gate, directory, "production")
        fit_seconds = time.perf_counter() - started
        models = {
            name: trained(training_set, looked_up, p, gate, directory, name.replace(" ", "-"))
            for name, (looked_up, p) in challengers.items()
        }

    def scored(model: FraudModel, version: str | None = None) -> HoldoutScores:
        scores = model.score(part)
        metrics = evaluate(holdout.labels, scores, model.threshold, gate.target_fpr).metrics()
        return HoldoutScores(metrics, scores, model.threshold, version)

    champion = scored(production, "production")
    curve_metrics = {
        "pr_auc": bootstrap.pr_auc,
        "recall_at_fpr": bootstrap.recall_at_fpr(gate.target_fpr),
    }
    # An equal-quality challenger's difference is centred on 0: it clears the margin when
    # z * SD < margin - |noise|, i.e. with probability Phi(margin / SD - z).
    z = float(norm.ppf((1 + gate.confidence) / 2))
    rows = np.arange(len(holdout.labels))
    results: dict[str, Any] = {}
    scored_challengers = {name: scored(model) for name, model in models.items()}
    for name, candidate in scored_challengers.items():

        def paired(clusters: np.ndarray, scores: np.ndarray = candidate.scores) -> Any:
            return bootstrap.paired_differences(
                holdout.labels, scores, champion.scores, clusters, curve_metrics,
                gate.bootstrap_resamples, gate.bootstrap_seed,
            )  # fmt: skip

        by_customer, by_row = paired(holdout.customers), paired(rows)
        decision = decide(candidate, holdout, gate, champion)
        comparisons = {c["name"]: c for c in decision.checks if c["kind"] == "comparison"}
        metrics = {}
        for metric in COMPARED:
            point = candidate.metrics[metric] - champion.metrics[metric]
            sd = float(np.nanstd(by_customer[metric].draws))
            metrics[metric] = {
                "candidate": candidate.metrics[metric],
                "difference": point,
                "sd_customers": sd,
                "sd_rows": float(np.nanstd(by_row[metric].draws)),
                "interval": by_customer[metric].interval(gate.confidence),
                "equal_model_pass_probability": float(norm.cdf(gate.max_regression / sd - z)),
                "old_rule_passes": point >= -OLD_MARGIN,
                "gate_passes": bool(comparisons[metric]["ok"]),
                "interval_rule_at_old_margin_passes": by_customer[metric].interval(gate.confidence)[
                    0
                ]
                >= -OLD_MARGIN,
            }
        results[name] = {
            "metrics": metrics,
            "old_rule_passes": all(m["old_rule_passes"] for m in metrics.values()),
            "comparison_passes": all(m["gate_passes"] for m in metrics.values()),
            "interval_rule_at_old_margin_passes": all(
                m["interval_rule_at_old_margin_passes"] for m in metrics.values()
            ),
            "gate_passes": decision.passed,
            "gate_reasons": decision.reasons,
        }
    equal = scored_challengers["reseeded"]
    paired_seconds = median_seconds(
        lambda: bootstrap.paired_differences(
            holdout.labels,
            equal.scores,
            champion.scores,
            holdout.customers,
            curve_metrics,
            gate.bootstrap_resamples,
            gate.bootstrap_seed,
        )
    )
    decide_seconds = median_seconds(lambda: decide(equal, holdout, gate, champion))
    first = decide(champion, holdout, gate)  # production judged as a first model
    checks = {
        c["name"]: {"estimate": c["estimate"], "interval": c["interval"], "limit": c["limit"]}
        for c in first.checks
    }
    return {
        "data": {"n_customers": data.n_customers, "days": data.days, "end": str(END)},
        "holdout": {
            "rows": len(holdout.labels),
            "customers": int(np.unique(holdout.customers).size),
            "positives": holdout.positives,
            "positive_customers": holdout.positive_customers,
            "days": holdout.days,
        },
        "gate": {
            "confidence": gate.confidence,
            "resamples": gate.bootstrap_resamples,
            "seed": gate.bootstrap_seed,
            "max_regression": gate.max_regression,
        },
        "production": {"metrics": champion.metrics, "checks": checks},
        "challengers": results,
        "seconds": {
            "fit_production": fit_seconds,
            "paired_bootstrap": paired_seconds,
            "decide": decide_seconds,
        },
    }


def report(figures: dict[str, Any]) -> None:
    h, g = figures["holdout"], figures["gate"]
    print(
        f"holdout: {h['rows']:,} rows over {h['days']:g} days, {h['customers']:,} customers, "
        f"{h['positives']} fraud rows from {h['positive_customers']} customers"
    )
    print(
        f"gate: {g['confidence']:.0%} two-sided intervals, {g['resamples']} resamples "
        f"(seed {g['seed']}), margin {g['max_regression']}"
    )
    print("production judged alone (floors and operating point):")
    for name, check in figures["production"]["checks"].items():
        interval = check["interval"]
        shown = "" if interval is None else f" [{interval[0]:.4f}, {interval[1]:.4f}]"
        print(f"  {name:<18} {check['estimate']:.4f}{shown}  limit {check['limit']:g}")
    print(
        "challenger - production; SD over the customer (cust) and row bootstraps; P(equal): "
        "chance an equal-quality model clears the margin at that SD; verdicts: old = point "
        f">= -{OLD_MARGIN}, @{OLD_MARGIN} = interval rule at the old margin, gate = interval "
        f"rule at {g['max_regression']}"
    )
    print(
        f"{'challenger':<12} {'metric':<14} {'diff':>8} {'SD cust':>8} {'SD row':>8} "
        f"{'ratio':>6} {'interval':>20} {'P(equal)':>9}  old  @{OLD_MARGIN} gate"
    )

    def verdict(ok: bool) -> str:
        return "pass" if ok else "FAIL"

    for name, result in figures["challengers"].items():
        for metric, m in result["metrics"].items():
            low, high = m["interval"]
            ratio = m["sd_customers"] / m["sd_rows"] if m["sd_rows"] else float("nan")
            print(
                f"{name:<12} {metric:<14} {m['difference']:>+8.4f} {m['sd_customers']:>8.4f} "
                f"{m['sd_rows']:>8.4f} {ratio:>6.2f} {f'[{low:+.4f}, {high:+.4f}]':>20} "
                f"{m['equal_model_pass_probability']:>9.2f}  {verdict(m['old_rule_passes'])} "
                f"{verdict(m['interval_rule_at_old_margin_passes'])}  "
                f"{verdict(m['gate_passes'])}"
            )
        print(
            f"{'':<12} comparison: old {verdict(result['old_rule_passes'])}, "
            f"@{OLD_MARGIN} {verdict(result['interval_rule_at_old_margin_passes'])}, "
            f"gate {verdict(result['comparison_passes'])}; whole gate with floors "
            f"{verdict(result['gate_passes'])}"
        )
    seconds = figures["seconds"]
    sd = figures["challengers"]["reseeded"]["metrics"]["pr_auc"]["sd_customers"]
    print(f"margin / SD of the reseeded PR-AUC difference: {g['max_regression'] / sd:.2f}")
    print(
        f"time: paired bootstrap {seconds['paired_bootstrap']:.2f} s, whole decide "
        f"{seconds['decide']:.2f} s (median of 3); one production fit "
        f"{seconds['fit_production']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="default: DataSettings'")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "bench")
    args = parser.parse_args()
    figures = measure(args.customers)
    report(figures)
    figures["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gate_bootstrap.json"
    path.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
