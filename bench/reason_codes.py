"""What reason codes cost a flagged transaction, and how the attribution methods compare.

The model is the one the behavioural tests judge (tests/model/trained_model.py: the pinned
history, the production hyperparameters, 250 trees); the flagged rows are its holdout
transactions at or above its threshold. Everything runs on one thread, as the served model does.

* Scoring: one flagged transaction through `Scorer.score` (static stored features, the
  compiled trees), with its reasons and with reasons switched off; p50/p99 over `--repeats`
  calls and their ratio.
* Methods, on the flagged rows with a third of their values set missing as well as on the rows
  as they are: `|additivity|` is |expected value + Σ contributions − log-odds|, max and median;
  `top-1 = TreeSHAP` the share of rows whose largest contribution names the same feature as
  TreeSHAP's; cost per row explained alone.
  - TreeSHAP: `training.contributions`, what serving uses;
  - Saabas: each split on the row's path charged with the change of scikit-learn's stored node
    `value` (additive by telescoping; internal values are stored before shrinkage);
  - shap's TreeExplainer, when shap is importable (not a project dependency:
    `pip install shap==0.51.0`).

Run: `.venv/bin/python bench/reason_codes.py [--repeats 2000] [--out artifacts/bench]`;
figures are printed and written to `<out>/reason_codes.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))
from trained_model import one_openmp_thread, train_once

from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import Transaction
from fraud_detection.serving.scoring import Scorer
from fraud_detection.training.contributions import TreeContributions

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "artifacts" / "bench"
console = Console(highlight=False)
Explain = Callable[[np.ndarray], tuple[float, np.ndarray]]  # matrix → (expected value, phi)


class StoredFeatures:
    def __init__(self, values: dict[str, float | None]) -> None:
        self.values = values

    def lookup(self, customer_ids: Sequence[int]) -> Lookup:
        return Lookup([self.values] * len(customer_ids), degraded=False)


def laps_ms(call: Callable[[], object], repeats: int) -> dict[str, float]:
    for _ in range(min(50, repeats)):  # warm-up
        call()
    laps = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        laps.append((time.perf_counter() - started) * 1e3)
    return {"p50_ms": float(np.percentile(laps, 50)), "p99_ms": float(np.percentile(laps, 99))}


def saabas(classifier: HistGradientBoostingClassifier) -> Explain:
    """Each split on the row's path charged with value(child) − value(node), stored values."""
    known, f_idx_map = classifier._bin_mapper.make_known_categories_bitsets()
    predictors = [p for (p,) in classifier._predictors]  # one per iteration (binary)
    expected = float(classifier._baseline_prediction.ravel()[0]) + sum(
        float(p.nodes[0]["value"]) for p in predictors
    )

    def child(predictor: Any, i: int, x: np.ndarray) -> int:
        """Where scikit-learn's predictor sends `x` from node i."""
        node = predictor.nodes[i]
        value, left, right = x[node["feature_idx"]], int(node["left"]), int(node["right"])
        missing = left if node["missing_go_to_left"] else right
        if np.isnan(value):
            return missing
        if not node["is_categorical"]:
            return left if value <= node["num_threshold"] else right
        word, bit = int(value) // 32, int(value) % 32
        if value >= 0 and predictor.raw_left_cat_bitsets[node["bitset_idx"]][word] >> bit & 1:
            return left
        if value >= 0 and known[f_idx_map[node["feature_idx"]]][word] >> bit & 1:
            return right
        return missing

    def explain(matrix: np.ndarray) -> tuple[float, np.ndarray]:
        phi = np.zeros(matrix.shape)
        for predictor in predictors:
            nodes = predictor.nodes
            for row, x in enumerate(matrix):
                i = 0
                while not nodes[i]["is_leaf"]:
                    j = child(predictor, i, x)
                    phi[row, nodes[i]["feature_idx"]] += nodes[j]["value"] - nodes[i]["value"]
                    i = j
        return expected, phi

    return explain


def shap_explainer(classifier: HistGradientBoostingClassifier) -> tuple[Explain | None, str]:
    try:
        import shap  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None, "shap is not installed"
    explainer = shap.TreeExplainer(classifier)

    def explain(matrix: np.ndarray) -> tuple[float, np.ndarray]:
        phi = np.asarray(explainer.shap_values(matrix, check_additivity=False))
        return float(np.ravel(explainer.expected_value)[0]), phi.reshape(len(matrix), -1)

    return explain, f"shap {shap.__version__}"


def compare(
    name: str, explain: Explain, matrix: np.ndarray, log_odds: np.ndarray,
    reference: np.ndarray, repeats: int,
) -> dict[str, Any]:  # fmt: skip
    expected, phi = explain(matrix)
    error = np.abs(expected + phi.sum(axis=1) - log_odds)
    return {
        "method": name,
        "additivity_max": float(error.max()),
        "additivity_median": float(np.median(error)),
        "top1_agrees_with_treeshap": float(np.mean(phi.argmax(1) == reference.argmax(1))),
        **laps_ms(lambda: explain(matrix[:1]), repeats),
    }


def with_missing(frame: pd.DataFrame, names: Sequence[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for name in names:
        out.loc[rng.random(len(out)) < 1 / 3, name] = np.nan
    return out


def plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def measure(repeats: int) -> dict[str, Any]:
    trained = train_once()
    model, holdout = trained.model, trained.split.holdout
    classifier = model.pipeline[-1]
    flagged = holdout[model.score(holdout) >= model.threshold].reset_index(drop=True)
    missing = with_missing(flagged, ["distance_from_home_km", *model.looked_up], seed=11)
    matrix = model.encoded_inputs(plain(pd.concat([flagged, missing], ignore_index=True)))
    log_odds = classifier.decision_function(matrix)

    started = time.perf_counter()
    treeshap = TreeContributions(classifier)
    build_s = time.perf_counter() - started
    reference = treeshap.contributions(matrix)
    methods: list[tuple[str, Explain]] = [
        (
            "TreeSHAP (training.contributions)",
            lambda m: (treeshap.expected_value, treeshap.contributions(m)),
        ),
        ("Saabas over stored node values", saabas(classifier)),
    ]
    shap_explain, shap_note = shap_explainer(classifier)
    if shap_explain is not None:
        methods.append((f"TreeExplainer ({shap_note})", shap_explain))
    rows = [compare(n, e, matrix, log_odds, reference, repeats // 10) for n, e in methods]

    # One flagged transaction through the scorer, with and without its reasons.
    first = plain(flagged.iloc[[0]])[0]
    transaction = Transaction.model_validate({
        "transaction_id": "flagged", "customer_id": int(first["customer_id"]),
        "amount": float(first["amount"]), "merchant_category": first["merchant_category"],
        "distance_from_home_km": first["distance_from_home_km"],
        "card_present": bool(first["card_present"]),
        "event_timestamp": pd.Timestamp(first["event_timestamp"]).to_pydatetime(),
    })  # fmt: skip
    stored = StoredFeatures({name: first[name] for name in model.looked_up})
    scorer = Scorer(model, stored, "bench")
    (score,) = scorer.score([transaction])
    assert score.is_fraud and score.reasons is not None
    with_reasons = laps_ms(lambda: scorer.score([transaction]), repeats)
    codes, scorer.reason_codes = scorer.reason_codes, None
    without = laps_ms(lambda: scorer.score([transaction]), repeats)
    scorer.reason_codes = codes
    return {
        "trees": len(classifier._predictors),
        "leaves": sum(p.get_n_leaf_nodes() for (p,) in classifier._predictors),
        "flagged_rows": len(flagged),
        "explained_rows": len(matrix),
        "treeshap_build_s": build_s,
        "methods": rows,
        "score_one_flagged": {
            "with_reasons": with_reasons,
            "without_reasons": without,
            "ratio_p50": with_reasons["p50_ms"] / without["p50_ms"],
            "ratio_p99": with_reasons["p99_ms"] / without["p99_ms"],
            "reasons": [r.model_dump() for r in score.reasons],
        },
        "repeats": repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def show(found: dict[str, Any]) -> None:
    table = Table(
        title=f"Attribution methods, {found['trees']} trees, {found['explained_rows']} rows"
    )
    for column in ("method", "|additivity| max", "median", "top-1 = TreeSHAP", "p50 ms/row",
                   "p99 ms/row"):  # fmt: skip
        table.add_column(column, justify="left" if column == "method" else "right")
    for m in found["methods"]:
        table.add_row(
            m["method"], f"{m['additivity_max']:.3g}", f"{m['additivity_median']:.3g}",
            f"{m['top1_agrees_with_treeshap']:.0%}", f"{m['p50_ms']:.3f}", f"{m['p99_ms']:.3f}",
        )  # fmt: skip
    console.print(table)
    one = found["score_one_flagged"]
    table = Table(title="One flagged transaction through Scorer.score (ms)")
    for column in ("", "p50", "p99"):
        table.add_column(column, justify="right")
    table.add_row("with reasons", f"{one['with_reasons']['p50_ms']:.3f}",
                  f"{one['with_reasons']['p99_ms']:.3f}")  # fmt: skip
    table.add_row("without", f"{one['without_reasons']['p50_ms']:.3f}",
                  f"{one['without_reasons']['p99_ms']:.3f}")  # fmt: skip
    table.add_row("ratio", f"{one['ratio_p50']:.2f}", f"{one['ratio_p99']:.2f}")
    console.print(table)
    console.print(f"TreeSHAP built in {found['treeshap_build_s']:.2f} s; reasons: {one['reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with one_openmp_thread():
        found = measure(args.repeats)
    show(found)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "reason_codes.json"
    out.write_text(json.dumps(found, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
