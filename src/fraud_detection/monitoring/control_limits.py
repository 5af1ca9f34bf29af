"""Control limits for what the model decides: the window's decline rate and score quantiles,
each beside the band a window of the same size drawn like the reference would fall in.

Prometheus compares them (FraudDeclineRateOutOfControl, FraudScoreQuantileOutOfControl in
charts/fraud-detection/files/alert-rules.yaml); the monitor pushes them with its verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

QUANTILES = (0.5, 0.9, 0.99)
# Shewhart's three standard errors: a false alarm in about 1 window of 370 per limit.
SIGMAS = 3.0


def decline_limits(reference_rate: float, rows: int) -> tuple[float, float]:
    """The reference's decline rate +- SIGMAS binomial standard errors at `rows` decisions."""
    if rows < 1:
        raise ValueError(f"control limits need at least one row in the window, got {rows}")
    spread = SIGMAS * math.sqrt(reference_rate * (1 - reference_rate) / rows)
    return max(0.0, reference_rate - spread), min(1.0, reference_rate + spread)


def quantile_limits(reference: np.ndarray, q: float, rows: int) -> tuple[float, float]:
    """Where the q-quantile of `rows` scores drawn like `reference` falls: the reference's
    scores at q +- SIGMAS sqrt(q(1-q)/rows) (the order statistic's normal approximation)."""
    if rows < 1:
        raise ValueError(f"control limits need at least one row in the window, got {rows}")
    spread = SIGMAS * math.sqrt(q * (1 - q) / rows)
    low, high = np.quantile(reference, [max(0.0, q - spread), min(1.0, q + spread)])
    return float(low), float(high)


def control_metrics(
    window_scores: Sequence[float] | np.ndarray, reference_scores: Sequence[float] | np.ndarray,
    threshold: float,
) -> str:  # fmt: skip
    """Prometheus text: decline rate and score quantiles of the window with their limits."""
    window, reference = np.asarray(window_scores, float), np.asarray(reference_scores, float)
    for name, scores in (("window", window), ("reference", reference)):
        if scores.size == 0 or not np.isfinite(scores).all():
            raise ValueError(f"the {name} scores must be a non-empty set of finite numbers")
    rows = int(window.size)
    rate = float((window >= threshold).mean())
    low, high = decline_limits(float((reference >= threshold).mean()), rows)
    lines = [
        *_gauge("fraud_monitor_decline_rate", "Share of the window's transactions declined.",
                [("", rate)]),
        *_gauge("fraud_monitor_decline_rate_lower_limit",
                "Lower control limit of the decline rate (reference, 3 standard errors).",
                [("", low)]),
        *_gauge("fraud_monitor_decline_rate_upper_limit",
                "Upper control limit of the decline rate (reference, 3 standard errors).",
                [("", high)]),
    ]  # fmt: skip
    limits = {q: quantile_limits(reference, q, rows) for q in QUANTILES}
    observed = np.quantile(window, QUANTILES)
    lines += _gauge(
        "fraud_monitor_score_quantile", "Quantiles of the window's fraud scores.",
        [(_label(q), float(v)) for q, v in zip(QUANTILES, observed, strict=True)],
    )  # fmt: skip
    for bound, index in (("lower", 0), ("upper", 1)):
        lines += _gauge(
            f"fraud_monitor_score_quantile_{bound}_limit",
            f"{bound.capitalize()} control limit of each score quantile (from the reference).",
            [(_label(q), limits[q][index]) for q in QUANTILES],
        )
    return "\n".join(lines) + "\n"


def _label(q: float) -> str:
    return f'{{quantile="{q:g}"}}'


def _gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    return [
        f"# HELP {name} {help_text}",
        f"# TYPE {name} gauge",
        *(f"{name}{labels} {value:.6g}" for labels, value in samples),
    ]
