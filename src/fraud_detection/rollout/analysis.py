"""Canary analysis: a pure decision over measurements of the stable and the candidate predictor.

The candidate is promoted only if it was ready, saw enough traffic, is not meaningfully worse
than the stable predictor on errors or tail latency (live traffic), and is shown not worse by
more than `max_quality_drop` on the labelled probe set: the lower end of the interval of
candidate - stable at or above -max_quality_drop on every metric (`rollout.probe` says why
that test, and where the evidence comes from). Every check is reported, passed or not, so a
rollback says exactly why, and one for want of evidence says so and how many rows would do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fraud_detection.config import RolloutSettings
from fraud_detection.rollout.probe import Comparison, ProbeEvidence, rows_needed


@dataclass(frozen=True)
class Measurements:
    """What one predictor did during the analysis window."""

    ready: bool
    requests: int = 0
    errors: int = 0
    latencies_ms: tuple[float, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 95)) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": float(np.percentile(self.latencies_ms, 50)) if self.latencies_ms else None,
            "p95_ms": self.p95_ms if self.latencies_ms else None,
        }


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class CanaryVerdict:
    promote: bool
    checks: tuple[Check, ...]
    stable: dict[str, Any]
    candidate: dict[str, Any]
    probe: dict[str, Any] = field(default_factory=dict)  # `ProbeEvidence.to_dict()`

    @property
    def reasons(self) -> list[str]:
        failed = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        return failed or ["every check passed"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": self.reasons}


def analyse(
    stable: Measurements, candidate: Measurements, limits: RolloutSettings,
    probe: ProbeEvidence | None = None,
) -> CanaryVerdict:  # fmt: skip
    """Decide promote (True) or roll back (False) from the two predictors' live measurements
    and the probe set's evidence (None: there is none, and the quality checks fail). A
    candidate that never became ready has one check, that one."""
    checks = live_checks(stable, candidate, limits)
    if candidate.ready:
        checks += _quality(probe, limits)
    scored = probe or ProbeEvidence(source="", rows=0, frauds=0, fraud_customers=0,
                                    confidence=limits.confidence, stable={})  # fmt: skip
    return CanaryVerdict(
        promote=all(c.ok for c in checks),
        checks=tuple(checks),
        stable={**stable.summary(), **_prefixed(scored.stable)},
        candidate={**candidate.summary(), **_prefixed(scored.candidate)},
        probe=probe.to_dict() if probe else {},
    )


def live_checks(
    stable: Measurements, candidate: Measurements, limits: RolloutSettings
) -> list[Check]:
    """What live traffic shows: ready, enough traffic, error rate, tail latency. The candidate's
    model runs where the rollout runs (the probe set) only when all of these pass."""
    checks = [Check("ready", candidate.ready, "candidate ready" if candidate.ready
                    else "candidate never became ready")]  # fmt: skip
    if candidate.ready:
        checks += [
            _enough_traffic(candidate, limits),
            _error_rate(stable, candidate, limits),
            _latency(stable, candidate, limits),
        ]
    return checks


def not_scored(checks: list[Check]) -> str:
    """Why the candidate's model is not run on the probe set ("" when it may be)."""
    failed = [c.name for c in checks if not c.ok]
    if not failed:
        return ""
    return f"not scored: the candidate failed its live checks ({', '.join(failed)})"


def _prefixed(metrics: dict[str, float]) -> dict[str, float]:
    return {f"probe_{k}": v for k, v in metrics.items()}


def _enough_traffic(candidate: Measurements, limits: RolloutSettings) -> Check:
    ok = candidate.requests >= limits.min_requests
    return Check(
        "traffic", ok, f"{candidate.requests} requests (at least {limits.min_requests} needed)"
    )


def _error_rate(stable: Measurements, candidate: Measurements, limits: RolloutSettings) -> Check:
    bound = stable.error_rate + limits.max_error_rate_increase
    return Check(
        "error_rate",
        candidate.error_rate <= bound,
        f"candidate {candidate.error_rate:.2%} vs stable {stable.error_rate:.2%} "
        f"(limit {bound:.2%})",
    )


def _latency(stable: Measurements, candidate: Measurements, limits: RolloutSettings) -> Check:
    if not candidate.latencies_ms:
        return Check("latency_p95", False, "no successful candidate requests to time")
    if not stable.latencies_ms:
        return Check("latency_p95", True, "no stable latencies to compare with")
    bound = stable.p95_ms * limits.max_p95_latency_ratio + limits.latency_slack_ms
    return Check(
        "latency_p95",
        candidate.p95_ms <= bound,
        f"candidate {candidate.p95_ms:.1f} ms vs stable {stable.p95_ms:.1f} ms "
        f"(limit {bound:.1f} ms)",
    )


def _quality(probe: ProbeEvidence | None, limits: RolloutSettings) -> list[Check]:
    return [_compared(metric, probe, limits) for metric in limits.quality_metrics]


def _compared(metric: str, probe: ProbeEvidence | None, limits: RolloutSettings) -> Check:
    name = f"probe_{metric}"
    if probe is None:
        return Check(name, False, "no probe-set evidence")
    found = probe.comparisons.get(metric)
    if found is None:
        return Check(name, False, probe.problem or "no comparison on the probe set")
    margin = limits.max_quality_drop
    detail = _described(found, probe, margin)
    if found.lower >= -margin:
        return Check(name, True, detail)
    if found.upper < -margin:
        return Check(name, False, f"worse than stable by more than the margin: {detail}")
    if found.half_width > margin / 2 or probe.rows < limits.probe_rows:
        needed = max(rows_needed(probe.rows, found.half_width, margin), limits.probe_rows)
        return Check(
            name, False,
            f"insufficient evidence: {detail}; an interval of half the margin needs about "
            f"{needed:,} labelled rows (probe_rows={limits.probe_rows:,})",
        )  # fmt: skip
    return Check(name, False, f"may be worse than stable by more than the margin: {detail}")


def _described(found: Comparison, probe: ProbeEvidence, margin: float) -> str:
    return (
        f"candidate {found.candidate:.3f} vs stable {found.stable:.3f}, difference "
        f"{found.difference:+.3f}, {probe.confidence:.0%} interval [{found.lower:+.3f}, "
        f"{found.upper:+.3f}] (promoted when its lower end is at least {-margin:+.3f}) on "
        f"{probe.rows:,} rows, {probe.frauds} fraud of {probe.fraud_customers} customers"
    )
