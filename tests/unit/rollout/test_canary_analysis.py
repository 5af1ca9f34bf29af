"""Canary analysis as a pure function: each reason to roll back, and the promotion.

The probe set's evidence is given as intervals here; test_canary_noise.py builds it from
trained models."""

from __future__ import annotations

from fraud_detection.config import RolloutSettings
from fraud_detection.rollout.analysis import Measurements, analyse
from fraud_detection.rollout.probe import Comparison, ProbeEvidence, rows_needed

LIMITS = RolloutSettings(
    min_requests=20, max_error_rate_increase=0.01, max_p95_latency_ratio=2.0,
    latency_slack_ms=5.0, max_quality_drop=0.1, probe_rows=50_000,
)  # fmt: skip
QUALITY = {"pr_auc": 0.80, "recall_at_fpr": 0.70}


def healthy(**overrides: object) -> Measurements:
    values: dict[str, object] = {
        "ready": True, "requests": 100, "errors": 0,
        "latencies_ms": tuple(float(x) for x in range(10, 30)),
    }  # fmt: skip
    values.update(overrides)
    return Measurements(**values)  # type: ignore[arg-type]


def evidence(
    lower: float = -0.02, upper: float = 0.02, rows: int = 60_000, **problem: str
) -> ProbeEvidence:
    """Both metrics compared with the interval [lower, upper] around their midpoint."""
    difference = (lower + upper) / 2
    comparisons = {
        name: Comparison(name, value, value + difference, difference, lower, upper)
        for name, value in QUALITY.items()
    }
    return ProbeEvidence(
        source="probe.parquet", rows=rows, frauds=200, fraud_customers=80, confidence=0.95,
        stable=dict(QUALITY), candidate={k: v + difference for k, v in QUALITY.items()},
        comparisons={} if problem else comparisons, problem=problem.get("problem", ""),
    )  # fmt: skip


def failed(verdict_checks: object) -> set[str]:
    return {c.name for c in verdict_checks if not c.ok}  # type: ignore[attr-defined]


def test_candidate_as_good_as_stable_is_promoted() -> None:
    verdict = analyse(healthy(), healthy(), LIMITS, evidence())
    assert verdict.promote
    assert verdict.reasons == ["every check passed"]
    assert verdict.stable["probe_pr_auc"] == QUALITY["pr_auc"]
    assert verdict.probe["rows"] == 60_000


def test_candidate_that_never_became_ready_is_rolled_back() -> None:
    verdict = analyse(healthy(), Measurements(ready=False), LIMITS)
    assert not verdict.promote
    assert failed(verdict.checks) == {"ready"}


def test_more_errors_than_stable_rolls_back() -> None:
    verdict = analyse(healthy(errors=1), healthy(errors=10), LIMITS, evidence())
    assert not verdict.promote
    assert failed(verdict.checks) == {"error_rate"}
    assert "10.00%" in verdict.reasons[0]


def test_error_rate_within_the_allowed_increase_passes() -> None:
    assert analyse(healthy(errors=1), healthy(errors=1), LIMITS, evidence()).promote


def test_slow_candidate_rolls_back_on_p95_latency() -> None:
    slow = healthy(latencies_ms=tuple(float(x) for x in range(100, 120)))
    verdict = analyse(healthy(), slow, LIMITS, evidence())
    assert failed(verdict.checks) == {"latency_p95"}


def test_latency_slack_absorbs_noise_on_fast_predictors() -> None:
    fast = healthy(latencies_ms=(1.0,) * 20)
    slightly_slower = healthy(latencies_ms=(4.0,) * 20)  # 4x, but within 2x + 5 ms
    assert analyse(fast, slightly_slower, LIMITS, evidence()).promote


def test_a_candidate_shown_worse_than_the_margin_rolls_back() -> None:
    verdict = analyse(healthy(), healthy(), LIMITS, evidence(-0.25, -0.12))
    assert failed(verdict.checks) == {"probe_pr_auc", "probe_recall_at_fpr"}
    assert verdict.reasons[0].startswith("probe_pr_auc: worse than stable by more than")


def test_the_lower_bound_decides_not_the_point_estimate() -> None:
    """A candidate whose interval reaches below -margin is rolled back even though its point
    estimate is better than stable's; one whose lower end clears it is promoted even though
    its point estimate is a little worse (shipping a worse model is the error that matters)."""
    assert not analyse(healthy(), healthy(), LIMITS, evidence(-0.11, 0.13)).promote
    assert analyse(healthy(), healthy(), LIMITS, evidence(-0.095, 0.015)).promote


def test_too_wide_an_interval_is_insufficient_evidence_naming_the_rows_needed() -> None:
    verdict = analyse(healthy(), healthy(), LIMITS, evidence(-0.15, 0.15, rows=20_000))
    assert not verdict.promote
    reason = verdict.reasons[0]
    assert reason.startswith("probe_pr_auc: insufficient evidence")
    assert f"about {rows_needed(20_000, 0.15, 0.1):,} labelled rows" in reason
    assert rows_needed(20_000, 0.15, 0.1) == 180_000  # 20,000 x (2 x 0.15 / 0.1)^2


def test_fewer_rows_than_probe_rows_promote_when_the_bound_clears_the_margin() -> None:
    """A clearly better candidate needs fewer rows to show it; the bound, not the row count,
    decides."""
    assert analyse(healthy(), healthy(), LIMITS, evidence(0.01, 0.2, rows=4_000)).promote


def test_missing_probe_evidence_for_the_candidate_rolls_back() -> None:
    verdict = analyse(healthy(), healthy(), LIMITS)
    assert failed(verdict.checks) == {"probe_pr_auc", "probe_recall_at_fpr"}


def test_a_probe_without_a_comparison_rolls_back_with_its_problem() -> None:
    problem = "insufficient evidence: the probe holds fraud of 4 customers"
    verdict = analyse(healthy(), healthy(), LIMITS, evidence(problem=problem))
    assert failed(verdict.checks) == {"probe_pr_auc", "probe_recall_at_fpr"}
    assert verdict.reasons == [f"probe_pr_auc: {problem}", f"probe_recall_at_fpr: {problem}"]


def test_too_little_canary_traffic_is_not_evidence() -> None:
    verdict = analyse(healthy(), healthy(requests=5), LIMITS, evidence())
    assert failed(verdict.checks) == {"traffic"}


def test_every_check_is_reported_even_when_promoting() -> None:
    names = {c.name for c in analyse(healthy(), healthy(), LIMITS, evidence()).checks}
    assert names == {"ready", "traffic", "error_rate", "latency_p95", "probe_pr_auc",
                     "probe_recall_at_fpr"}  # fmt: skip
