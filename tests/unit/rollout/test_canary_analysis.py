"""Canary analysis as a pure function: each reason to roll back, and the promotion."""

from __future__ import annotations

from fraud_detection.config import RolloutSettings
from fraud_detection.rollout.analysis import Measurements, analyse

LIMITS = RolloutSettings(
    min_requests=20, max_error_rate_increase=0.01, max_p95_latency_ratio=2.0,
    latency_slack_ms=5.0, max_quality_drop=0.02,
)  # fmt: skip
QUALITY = {"pr_auc": 0.80, "recall_at_fpr": 0.70}


def healthy(**overrides: object) -> Measurements:
    values: dict[str, object] = {
        "ready": True, "requests": 100, "errors": 0,
        "latencies_ms": tuple(float(x) for x in range(10, 30)), "quality": dict(QUALITY),
    }  # fmt: skip
    values.update(overrides)
    return Measurements(**values)  # type: ignore[arg-type]


def failed(verdict_checks: object) -> set[str]:
    return {c.name for c in verdict_checks if not c.ok}  # type: ignore[attr-defined]


def test_candidate_as_good_as_stable_is_promoted() -> None:
    verdict = analyse(healthy(), healthy(), LIMITS)
    assert verdict.promote
    assert verdict.reasons == ["every check passed"]


def test_candidate_that_never_became_ready_is_rolled_back() -> None:
    verdict = analyse(healthy(), Measurements(ready=False), LIMITS)
    assert not verdict.promote
    assert failed(verdict.checks) == {"ready"}


def test_more_errors_than_stable_rolls_back() -> None:
    verdict = analyse(healthy(errors=1), healthy(errors=10), LIMITS)
    assert not verdict.promote
    assert failed(verdict.checks) == {"error_rate"}
    assert "10.00%" in verdict.reasons[0]


def test_error_rate_within_the_allowed_increase_passes() -> None:
    assert analyse(healthy(errors=1), healthy(errors=1), LIMITS).promote


def test_slow_candidate_rolls_back_on_p95_latency() -> None:
    slow = healthy(latencies_ms=tuple(float(x) for x in range(100, 120)))
    verdict = analyse(healthy(), slow, LIMITS)
    assert failed(verdict.checks) == {"latency_p95"}


def test_latency_slack_absorbs_noise_on_fast_predictors() -> None:
    fast = healthy(latencies_ms=(1.0,) * 20)
    slightly_slower = healthy(latencies_ms=(4.0,) * 20)  # 4x, but within 2x + 5 ms
    assert analyse(fast, slightly_slower, LIMITS).promote


def test_worse_quality_on_the_probe_set_rolls_back() -> None:
    worse = healthy(quality={"pr_auc": 0.70, "recall_at_fpr": 0.69})
    verdict = analyse(healthy(), worse, LIMITS)
    assert failed(verdict.checks) == {"probe_pr_auc"}


def test_missing_probe_result_for_the_candidate_rolls_back() -> None:
    verdict = analyse(healthy(), healthy(quality={}), LIMITS)
    assert failed(verdict.checks) == {"probe_pr_auc", "probe_recall_at_fpr"}


def test_too_little_canary_traffic_is_not_evidence() -> None:
    verdict = analyse(healthy(), healthy(requests=5), LIMITS)
    assert failed(verdict.checks) == {"traffic"}


def test_every_check_is_reported_even_when_promoting() -> None:
    names = {c.name for c in analyse(healthy(), healthy(), LIMITS).checks}
    assert names == {"ready", "traffic", "error_rate", "latency_p95", "probe_pr_auc",
                     "probe_recall_at_fpr"}  # fmt: skip
