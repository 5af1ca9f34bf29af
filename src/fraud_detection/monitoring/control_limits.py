"""Control limits for what the model decides, as Prometheus gauges: the window's decline rate
(overall and per segment) and score quantiles, each beside the band its check accepts.

The band is the check's own (`monitoring.checks`: exact beta-binomial tests at the level the
false-alarm budget gives them), so a value outside its limits is exactly a failed check and a
`drift` verdict; Prometheus compares them too (FraudDeclineRateOutOfControl,
FraudScoreQuantileOutOfControl, FraudSegmentDeclineRateOutOfControl in
charts/fraud-detection/files/alert-rules.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fraud_detection.monitoring.checks import QUANTILES, Check, Judgement, quantile_test, rate_test

# The levels of one window's decline-rate and quantile tests at the default budget (1 %):
# checks.FAMILY_WEIGHTS gives each family 15 %, the quantile family splits it three ways.
DECLINE_ALPHA = 0.01 * 0.15
QUANTILE_ALPHA = 0.01 * 0.15 / len(QUANTILES)


def control_metrics(
    window_scores: Sequence[float] | np.ndarray, reference_scores: Sequence[float] | np.ndarray,
    threshold: float, decline_alpha: float = DECLINE_ALPHA,
    quantile_alpha: float = QUANTILE_ALPHA,
) -> str:  # fmt: skip
    """Prometheus text: decline rate and score quantiles of the window with their limits,
    computed from the scores alone (the job formats its judgement with `judgement_metrics`)."""
    window, reference = np.asarray(window_scores, float), np.asarray(reference_scores, float)
    for name, scores in (("window", window), ("reference", reference)):
        if scores.size == 0 or not np.isfinite(scores).all():
            raise ValueError(f"the {name} scores must be a non-empty set of finite numbers")
    declined, ref_declined = int((window >= threshold).sum()), int((reference >= threshold).sum())
    _, low, high = rate_test(declined, window.size, ref_declined, reference.size, decline_alpha)
    decline = Check(
        "decline_rate",
        "decline_rate",
        "pass",
        decline_alpha,
        observed=declined / window.size,
        lower_limit=low,
        upper_limit=high,
    )
    ordered = np.sort(reference)
    quantiles = []
    for q in QUANTILES:
        observed, _, q_low, q_high = quantile_test(window, ordered, q, quantile_alpha)
        quantiles.append(
            Check(
                "score_quantile",
                f"score_quantile:{q:g}",
                "pass",
                quantile_alpha,
                observed=observed,
                lower_limit=q_low,
                upper_limit=q_high,
            )
        )
    return _format([decline, *quantiles])


def judgement_metrics(judgement: Judgement) -> str:
    """Prometheus text of every check of the window: the control limits, each segment's decline
    rate (or that it was skipped), PR-AUC against its floor, and each check's p-value, level
    and failure."""
    lines = _format(judgement.checks).splitlines()
    checks = [c for c in judgement.checks if c.status != "skipped"]
    lines += _gauge("fraud_monitor_family_alpha",
                    "Probability that a window drawn like the reference fails any check.",
                    [("", judgement.family_alpha)])  # fmt: skip
    lines += _gauge("fraud_monitor_check_failed", "1 when the check failed its test.",
                    [(_check_labels(c), float(c.failed)) for c in checks])  # fmt: skip
    lines += _gauge("fraud_monitor_check_p_value", "p-value of the check's test.",
                    [(_check_labels(c), c.p_value or 0.0) for c in checks])  # fmt: skip
    lines += _gauge("fraud_monitor_check_alpha", "Significance level the budget gave the check.",
                    [(_check_labels(c), c.alpha) for c in checks])  # fmt: skip
    segments = judgement.of("segment")
    lines += _gauge("fraud_monitor_segment_rows", "Rows of each segment in the window.",
                    [(_segment_label(c), float(c.rows)) for c in segments])  # fmt: skip
    lines += _gauge(
        "fraud_monitor_segment_skipped",
        "1 when the segment had too few rows for its own check.",
        [(_segment_label(c), float(c.status == "skipped")) for c in segments],
    )
    quality = [c for c in judgement.of("quality") if c.status != "skipped"]
    for check in quality:
        lines += _gauge("fraud_monitor_pr_auc", "PR-AUC of the window's matured labels.",
                        [("", check.observed or 0.0)])  # fmt: skip
        lines += _gauge("fraud_monitor_pr_auc_floor",
                        "The reference's PR-AUC less the allowed drop (max_pr_auc_drop).",
                        [("", check.lower_limit or 0.0)])  # fmt: skip
        lines += _gauge("fraud_monitor_pr_auc_drop_lower_bound",
                        "One-sided lower confidence bound of the PR-AUC drop (check level).",
                        [("", check.statistic or 0.0)])  # fmt: skip
    labelled = next(iter(judgement.of("quality")), None)
    if labelled is not None:
        lines += _gauge("fraud_monitor_matured_labels", "Window rows whose label has matured.",
                        [("", float(labelled.rows))])  # fmt: skip
    return "\n".join(lines) + "\n"


def _format(checks: Sequence[Check]) -> str:
    by_family = {f: [c for c in checks if c.family == f and c.status != "skipped"]
                 for f in ("decline_rate", "score_quantile", "segment")}  # fmt: skip
    lines: list[str] = []
    for check in by_family["decline_rate"]:
        lines += _gauge("fraud_monitor_decline_rate",
                        "Share of the window's transactions declined.",
                        [("", check.observed or 0.0)])  # fmt: skip
        lines += _gauge("fraud_monitor_decline_rate_lower_limit",
                        "Lower control limit of the decline rate (from the reference).",
                        [("", check.lower_limit or 0.0)])  # fmt: skip
        lines += _gauge("fraud_monitor_decline_rate_upper_limit",
                        "Upper control limit of the decline rate (from the reference).",
                        [("", check.upper_limit or 0.0)])  # fmt: skip
    quantiles = by_family["score_quantile"]
    if quantiles:
        labels = [_quantile_label(c) for c in quantiles]
        lines += _gauge("fraud_monitor_score_quantile", "Quantiles of the window's fraud scores.",
                        [(lab, c.observed or 0.0) for lab, c in zip(labels, quantiles,
                                                                    strict=True)])  # fmt: skip
        for bound in ("lower", "upper"):
            lines += _gauge(
                f"fraud_monitor_score_quantile_{bound}_limit",
                f"{bound.capitalize()} control limit of each score quantile (from the reference).",
                [(lab, getattr(c, f"{bound}_limit") or 0.0)
                 for lab, c in zip(labels, quantiles, strict=True)],
            )  # fmt: skip
    segments = by_family["segment"]
    if segments:
        lines += _gauge("fraud_monitor_segment_decline_rate",
                        "Share of each segment's transactions declined.",
                        [(_segment_label(c), c.observed or 0.0) for c in segments])  # fmt: skip
        for bound in ("lower", "upper"):
            lines += _gauge(
                f"fraud_monitor_segment_decline_rate_{bound}_limit",
                f"{bound.capitalize()} control limit of each segment's decline rate.",
                [(_segment_label(c), getattr(c, f"{bound}_limit") or 0.0) for c in segments],
            )
    return "\n".join(lines) + "\n" if lines else ""


def _quantile_label(check: Check) -> str:
    return f'{{quantile="{check.name.split(":", 1)[1]}"}}'


def _segment_label(check: Check) -> str:
    return f'{{segment="{check.name}"}}'


def _check_labels(check: Check) -> str:
    return f'{{family="{check.family}",check="{check.name}"}}'


def _gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    if not samples:
        return []
    return [
        f"# HELP {name} {help_text}",
        f"# TYPE {name} gauge",
        *(f"{name}{labels} {_number(value)}" for labels, value in samples),
    ]


def _number(value: float) -> str:
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"
