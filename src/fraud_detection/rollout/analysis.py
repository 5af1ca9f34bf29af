"""Canary analysis: a pure decision over measurements of the stable and the candidate predictor.

The candidate is promoted only if it was ready, saw enough traffic, and is not meaningfully
worse than the stable predictor on errors, tail latency, or quality on a labelled probe set.
Every check is reported, passed or not, so a rollback says exactly why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fraud_detection.config import RolloutSettings


@dataclass(frozen=True)
class Measurements:
    """What one predictor did during the analysis window."""

    ready: bool
    requests: int = 0
    errors: int = 0
    latencies_ms: tuple[float, ...] = ()
    quality: dict[str, float] = field(default_factory=dict)  # e.g. pr_auc on the probe set

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
            **{f"probe_{k}": v for k, v in self.quality.items()},
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

    @property
    def reasons(self) -> list[str]:
        failed = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        return failed or ["every check passed"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": self.reasons}


def analyse(
    stable: Measurements, candidate: Measurements, limits: RolloutSettings
) -> CanaryVerdict:
    """Decide promote (True) or roll back (False) from the two predictors' measurements."""
    checks = [Check("ready", candidate.ready, "candidate ready" if candidate.ready
                    else "candidate never became ready")]  # fmt: skip
    if candidate.ready:
        checks += [
            _enough_traffic(candidate, limits),
            _error_rate(stable, candidate, limits),
            _latency(stable, candidate, limits),
            *_quality(stable, candidate, limits),
        ]
    return CanaryVerdict(
        promote=all(c.ok for c in checks),
        checks=tuple(checks),
        stable=stable.summary(),
        candidate=candidate.summary(),
    )


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


def _quality(stable: Measurements, candidate: Measurements, limits: RolloutSettings) -> list[Check]:
    checks = []
    for metric in limits.quality_metrics:
        theirs, ours = stable.quality.get(metric), candidate.quality.get(metric)
        if ours is None:
            checks.append(Check(f"probe_{metric}", False, "candidate has no probe-set result"))
            continue
        if theirs is None:
            checks.append(Check(f"probe_{metric}", True, f"candidate {ours:.3f}; no stable result"))
            continue
        bound = theirs - limits.max_quality_drop
        checks.append(
            Check(
                f"probe_{metric}",
                ours >= bound,
                f"candidate {ours:.3f} vs stable {theirs:.3f} (at least {bound:.3f})",
            )
        )
    return checks
