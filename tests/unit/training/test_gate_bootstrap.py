"""The gate's noise-aware comparison with the champion and its operating-point checks, on
synthetic holdouts whose differences are known (seeded; no model, no generator, no clock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from sklearn.metrics import average_precision_score, roc_curve

from fraud_detection.config import GateSettings
from fraud_detection.jobs.events import TrainingRun
from fraud_detection.pipeline.local_run import LocalRun
from fraud_detection.summary import print_summary
from fraud_detection.training import bootstrap
from fraud_detection.training.evaluate import evaluate
from fraud_detection.training.gate import Holdout, HoldoutScores, decide

# Floors out of the way: these tests are about the comparison and the operating point. The
# synthetic holdouts hold hundreds of customers with fraud, enough to certify a 0.02 margin.
GATE = GateSettings(min_roc_auc=0.5, min_pr_auc=0.01, min_recall_at_fpr=0.0, max_regression=0.02)
METRICS = {"pr_auc": bootstrap.pr_auc, "recall_at_fpr": bootstrap.recall_at_fpr(0.01)}


def customers_with_bursts(
    n_customers: int, seed: int, rows: int = 10
) -> tuple[np.random.Generator, Holdout, np.ndarray]:
    """A ten-day holdout of `rows` transactions per customer, fraud in bursts (half the rows of
    5 % of the customers), and a score both models share: the label's signal, a per-customer
    effect (some customers look risky on every transaction) and row noise.

    Returns the generator (for the models' own noise), the holdout and the shared score.
    """
    rng = np.random.default_rng(seed)
    customers = np.repeat(np.arange(n_customers), rows)
    n = len(customers)
    compromised = rng.random(n_customers) < 0.05
    labels = (compromised[customers] & (rng.random(n) < 0.5)).astype(np.int64)
    shared = 3.5 * labels + rng.normal(0, 1, n_customers)[customers] + rng.normal(0, 1, n)
    return rng, Holdout(labels, customers, days=10.0), shared


def scored(holdout: Holdout, scores: np.ndarray, version: str | None = None) -> HoldoutScores:
    """A model's result on the holdout: its scores made probabilities (the ranking unchanged),
    its threshold flagging its top 0.5 % (an operating point well inside the budgets, so that
    only the comparison decides)."""
    probabilities = probability(scores)
    threshold = float(np.quantile(probabilities, 0.995))
    metrics = evaluate(holdout.labels, probabilities, threshold, GATE.target_fpr).metrics()
    return HoldoutScores(metrics, probabilities, threshold, version)


def probability(scores: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1 / (1 + np.exp(-scores))
    return result


def comparisons(decision_checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in decision_checks if c["kind"] == "comparison"}


def test_weighted_metrics_equal_sklearn_on_the_resampled_rows() -> None:
    """Weighting by cluster draw counts is resampling: the same numbers as scikit-learn on the
    rows of each drawn customer repeated, ties included."""
    rng, holdout, shared = customers_with_bursts(300, seed=5)
    scores = np.round(shared, 1)  # many ties, fraud and legitimate rows among them
    draws = rng.integers(0, 3, size=(4, 300)).astype(float)
    got = {
        name: bootstrap.weighted_metric(holdout.labels, scores, holdout.customers, draws, metric)
        for name, metric in METRICS.items()
    }
    for i in range(len(draws)):
        rows = np.repeat(np.arange(len(scores)), draws[i][holdout.customers].astype(int))
        y, s = holdout.labels[rows], scores[rows]
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        assert got["pr_auc"][i] == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert got["recall_at_fpr"][i] == pytest.approx(tpr[fpr <= 0.01].max(), abs=1e-12)


def test_a_clearly_worse_challenger_is_refused() -> None:
    rng, holdout, shared = customers_with_bursts(3_000, seed=3)
    champion = shared + rng.normal(0, 0.1, len(shared))
    worse = champion + rng.normal(0, 1.0, len(shared))  # noise on top of the champion's scores
    drop = average_precision_score(holdout.labels, worse) - average_precision_score(
        holdout.labels, champion
    )
    assert drop < -0.08  # the known difference, far beyond the 0.02 margin

    decision = decide(scored(holdout, worse), holdout, GATE, scored(holdout, champion, "v1"))

    assert not decision.passed
    pr_auc = comparisons(decision.checks)["pr_auc"]
    assert pr_auc["ok"] is False and pr_auc["estimate"] == pytest.approx(drop)
    assert pr_auc["interval"][1] < -GATE.max_regression  # the holdout shows it worse
    assert any(r.startswith("failed: pr_auc - champion v1 >= -0.020") for r in decision.reasons)


def test_the_same_scores_pass_with_an_interval_of_zero() -> None:
    _, holdout, shared = customers_with_bursts(2_000, seed=3)

    decision = decide(scored(holdout, shared.copy()), holdout, GATE, scored(holdout, shared, "v1"))

    assert decision.passed, decision.reasons
    for check in comparisons(decision.checks).values():
        assert check["estimate"] == 0 and check["interval"] == [0.0, 0.0]


def test_an_equal_model_with_tiny_noise_passes() -> None:
    rng, holdout, shared = customers_with_bursts(3_000, seed=1)
    champion = shared + rng.normal(0, 0.05, len(shared))
    equal = shared + rng.normal(0, 0.05, len(shared))

    decision = decide(scored(holdout, equal), holdout, GATE, scored(holdout, champion, "v1"))

    assert decision.passed, decision.reasons
    for check in comparisons(decision.checks).values():
        low, high = check["interval"]
        assert low < 0 < high and low > -GATE.max_regression


def test_a_model_worse_by_less_than_the_margin_passes() -> None:
    """The challenger loses about 0.007 of PR-AUC, a third of the 0.02 margin. The holdout shows
    it worse (the interval excludes zero) but by less than the margin, so PR-AUC passes. Recall
    at a 1 % FPR rests on the few fraud rows near the threshold and its interval is about four
    times as wide; with a margin of 0.05 the whole gate passes."""
    rng, holdout, shared = customers_with_bursts(3_000, seed=2)
    logits = shared + rng.normal(0, 0.1, len(shared))
    champion = scored(holdout, logits, "v1")
    slightly = scored(holdout, logits + rng.normal(0, 0.15, len(shared)))
    drop = slightly.metrics["pr_auc"] - champion.metrics["pr_auc"]
    assert -0.01 < drop < -0.004

    pr_auc = comparisons(decide(slightly, holdout, GATE, champion).checks)["pr_auc"]
    assert pr_auc["ok"] is True and pr_auc["estimate"] == pytest.approx(drop)
    low, high = pr_auc["interval"]
    assert -GATE.max_regression + 0.005 < low and high < 0
    lenient = decide(slightly, holdout, GATE.model_copy(update={"max_regression": 0.05}), champion)
    assert lenient.passed, lenient.reasons


def test_the_bootstrap_is_deterministic_for_a_seed() -> None:
    rng, holdout, shared = customers_with_bursts(500, seed=4)
    other = shared + rng.normal(0, 0.3, len(shared))
    first, again, reseeded = (
        bootstrap.paired_differences(
            holdout.labels, other, shared, holdout.customers, METRICS, 200, seed
        )
        for seed in (7, 7, 8)
    )
    np.testing.assert_array_equal(first["pr_auc"].draws, again["pr_auc"].draws)
    assert not np.array_equal(first["pr_auc"].draws, reseeded["pr_auc"].draws)
    champion = scored(holdout, shared, "v1")
    decisions = [decide(scored(holdout, other), holdout, GATE, champion) for _ in range(2)]
    assert decisions[0].to_dict() == decisions[1].to_dict()


def test_clustering_widens_the_interval_when_a_customers_rows_move_together() -> None:
    """The challenger misjudges some customers on every transaction (a per-customer error): a
    row bootstrap takes one customer's rows as independent evidence and is too narrow."""
    rng, holdout, shared = customers_with_bursts(1_000, seed=4, rows=20)
    champion = shared + rng.normal(0, 0.1, len(shared))
    per_customer = rng.normal(0, 0.6, 1_000)[holdout.customers]
    challenger = champion + per_customer + rng.normal(0, 0.2, len(shared))
    widths = {}
    for name, clusters in (("customers", holdout.customers), ("rows", np.arange(len(shared)))):
        differences = bootstrap.paired_differences(
            holdout.labels, challenger, champion, clusters, METRICS, 500, seed=0
        )
        low, high = differences["pr_auc"].interval(0.95)
        widths[name] = high - low
    assert widths["customers"] > 1.5 * widths["rows"]


def test_too_few_customers_with_fraud_to_compare_is_named_and_refused(tmp_path: Path) -> None:
    _, holdout, shared = customers_with_bursts(2_000, seed=3)
    fraud_customers = np.unique(holdout.customers[holdout.labels == 1])
    keep = (holdout.labels == 0) | np.isin(holdout.customers, fraud_customers[:6])
    small = Holdout(holdout.labels[keep], holdout.customers[keep], days=10.0)
    scores = shared[keep]

    decision = decide(scored(small, scores), small, GATE, scored(small, scores, "v1"))

    assert not decision.passed
    for check in comparisons(decision.checks).values():
        assert check["ok"] is False and check["interval"] is None
        assert "insufficient evidence" in check["detail"]
        assert "from 6 customers, fewer than 10" in check["detail"]
    assert json.loads(json.dumps(decision.to_dict(), allow_nan=False)) == decision.to_dict()
    console = Console(record=True, width=200)
    run = LocalRun(decision.to_dict(), tmp_path / "decision.json", tmp_path / "pipeline.log")
    print_summary(console, TrainingRun(run, "fraud-detector", None))
    assert "n/a" in console.export_text()  # no estimate, no interval: nothing was computed


def test_a_first_model_is_not_compared() -> None:
    _, holdout, shared = customers_with_bursts(300, seed=3)
    decision = decide(scored(holdout, shared), holdout, GATE)
    assert decision.passed, decision.reasons
    assert comparisons(decision.checks) == {} and decision.champion is None


def test_a_false_positive_rate_whose_upper_bound_is_over_budget_is_refused() -> None:
    """A threshold that flags 1.4 % of good customers' transactions: inside target + tolerance
    (1.5 %) as a point value, but its interval's upper end is not."""
    _, holdout, shared = customers_with_bursts(2_000, seed=3)
    probabilities = probability(shared)
    threshold = float(np.quantile(probabilities[holdout.labels == 0], 1 - 0.014))
    candidate = HoldoutScores(scored(holdout, shared).metrics, probabilities, threshold)

    decision = decide(candidate, holdout, GATE)

    fpr = next(c for c in decision.checks if c["name"] == "fpr_at_threshold")
    assert fpr["estimate"] == pytest.approx(0.014, abs=2e-4) and fpr["estimate"] < fpr["limit"]
    assert fpr["interval"][1] > fpr["limit"] == pytest.approx(0.015)
    assert not decision.passed
    (reason,) = decision.reasons
    assert reason.startswith("failed: fpr_at_threshold <= 0.0150 (upper end of the 95% interval")
    # A tolerance that covers the noise passes the same threshold.
    assert decide(candidate, holdout, GATE.model_copy(update={"fpr_tolerance": 0.01})).passed


def test_more_alerts_a_day_than_the_budget_is_refused() -> None:
    _, holdout, shared = customers_with_bursts(2_000, seed=3)
    candidate = scored(holdout, shared)  # flags its top 0.5 %: 100 rows over ten days
    within = decide(candidate, holdout, GATE.model_copy(update={"max_alerts_per_day": 20}))
    over = decide(candidate, holdout, GATE.model_copy(update={"max_alerts_per_day": 12}))

    assert within.passed, within.reasons
    alerts = next(c for c in over.checks if c["name"] == "alerts_per_day")
    assert alerts["estimate"] == pytest.approx(10.0)
    low, high = alerts["interval"]
    assert low < 10 < high and high > 12
    (reason,) = over.reasons
    assert reason.startswith("failed: alerts_per_day <= 12 (upper end of the 95% interval")


def test_the_decision_is_json_with_each_check_s_estimate_and_interval() -> None:
    rng, holdout, shared = customers_with_bursts(1_000, seed=3)
    champion = scored(holdout, shared + rng.normal(0, 0.1, len(shared)), "v1")
    decision = decide(scored(holdout, shared), holdout, GATE, champion)

    record = json.loads(json.dumps(decision.to_dict(), allow_nan=False))

    assert [c["name"] for c in record["checks"]] == [
        "roc_auc", "pr_auc", "recall_at_fpr", "fpr_at_threshold", "alerts_per_day",
        "pr_auc", "recall_at_fpr",
    ]  # fmt: skip
    keys = {"check", "name", "kind", "value", "estimate", "interval", "limit", "ok", "detail"}
    assert all(keys <= set(c) for c in record["checks"])
    for check in record["checks"][3:]:
        low, high = check["interval"]
        assert low <= check["estimate"] <= high
    assert record["champion"]["pr_auc"] == champion.metrics["pr_auc"]
    evidence = record["evidence"]
    assert evidence["confidence"] == 0.95 and evidence["resamples"] == 1_000
    assert evidence["customers"] == 1_000 and evidence["days"] == 10.0
    assert 0 < evidence["positive_customers"] < evidence["positives"]  # fraud comes in bursts


def test_the_summary_prints_each_check_with_its_interval(tmp_path: Path) -> None:
    rng, holdout, shared = customers_with_bursts(1_000, seed=3)
    champion = scored(holdout, shared + rng.normal(0, 0.1, len(shared)), "v1")
    decision = decide(scored(holdout, shared), holdout, GATE, champion).to_dict()
    console = Console(record=True, width=200)
    run = LocalRun(decision, tmp_path / "decision.json", tmp_path / "pipeline.log")

    print_summary(console, TrainingRun(run, "fraud-detector", None))

    text = console.export_text()
    pr_auc = comparisons(decision["checks"])["pr_auc"]
    low, high = pr_auc["interval"]
    assert f"[{low:+.4f}, {high:+.4f}]" in text and "95% interval" in text
    assert "pr_auc - champion v1 >= -0.020" in text and "alerts_per_day <= 150" in text
    assert "1000 resamples (seed 0) of 1000 customers" in text


def test_one_models_metric_is_sklearns_on_the_holdout_and_its_interval_covers_it() -> None:
    rng = np.random.default_rng(4)
    labels = (rng.random(3_000) < 0.05).astype(int)
    scores = np.clip(labels * 0.3 + rng.random(3_000), 0, None)
    customers = rng.integers(0, 300, 3_000)
    found = bootstrap.clustered_metric(labels, scores, customers, bootstrap.pr_auc, 400, seed=1)
    assert found.estimate == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    low, high = found.interval(0.95)
    assert low < found.estimate < high
    assert found.draws.shape == (400,) and found.undefined == 0
