"""The validation gate: a candidate ships only if it clears absolute floors, keeps its operating
point within budget, and is not shown worse than the production model (the champion) by more
than a margin on the same holdout.

Three kinds of check, each one entry of the decision's `checks`:

- **Floors** on the candidate's holdout metrics (ROC-AUC, PR-AUC, recall at the FPR budget):
  sanity limits far below a working model, judged on the point values.
- **Operating point** at the candidate's deployed threshold (`FraudModel.threshold`, chosen
  before the holdout): its false-positive rate on the holdout's legitimate transactions and its
  alert volume (flagged holdout transactions per day). Each is refused when the *upper* end of
  its interval exceeds its budget: `target_fpr + fpr_tolerance`, and `max_alerts_per_day`.
- **Non-inferiority to the champion** on PR-AUC and on recall at the FPR budget: the candidate
  is refused when the *lower* end of the interval of (candidate - champion) lies below
  `-max_regression`. A point difference inside the margin does not pass when the holdout
  cannot tell; a difference the holdout cannot distinguish from zero does.

Every interval is a two-sided percentile interval at `GateSettings.confidence` (0.95 by default;
each end used alone is a one-sided bound at 97.5 %) from one customer-clustered bootstrap of the
holdout (`training.bootstrap`): the comparisons are paired (both models on the same resample),
and the operating point uses the same resamples. The seed makes the decision reproducible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fraud_detection.config import GateSettings
from fraud_detection.training import bootstrap

# Metrics compared with the champion; higher is better for each.
COMPARED = ("pr_auc", "recall_at_fpr")
# The interval method, for the record.
METHOD = "two-sided percentile interval, customer-clustered bootstrap"


@dataclass(frozen=True)
class Holdout:
    """The holdout rows the gate judges on; every score vector follows this row order.

    Attributes:
        labels: 1 for fraud, per row.
        customers: Each row's customer: the bootstrap resamples customers, not rows.
        days: How many days the holdout spans (`TrainingSettings.holdout_days`), to turn
            flagged transactions into a daily alert volume.
    """

    labels: np.ndarray
    customers: np.ndarray
    days: float

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.customers) or len(self.labels) == 0:
            raise ValueError(
                f"a holdout needs one customer per label and at least one row, not "
                f"{len(self.labels)} labels and {len(self.customers)} customers"
            )
        if not self.days > 0:
            raise ValueError(f"a holdout spans a positive number of days, not {self.days}")

    @property
    def positives(self) -> int:
        return int((self.labels == 1).sum())

    @property
    def positive_customers(self) -> int:
        return int(np.unique(self.customers[self.labels == 1]).size)


@dataclass(frozen=True)
class HoldoutScores:
    """One model on the holdout: its metrics (`Evaluation.metrics()`), its score per row, and
    its deployed threshold."""

    metrics: dict[str, float]
    scores: np.ndarray
    threshold: float
    version: str | None = None


@dataclass
class GateDecision:
    """What the gate decided and on what evidence; `to_dict()` is JSON-serialisable (the
    pipeline writes it as the `decision` artifact; the model card keeps it).

    Each entry of `checks` has `check` (readable, starting with the quantity's name), `name`,
    `kind` (floor, operating_point, comparison), `estimate` (also as `value`), `interval`
    ([low, high] at `evidence["confidence"]`, or None for a floor), `limit`, `ok` and `detail`.
    `evidence` says how the intervals were drawn and on how much data.
    """

    passed: bool
    reasons: list[str]
    candidate: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    candidate: HoldoutScores,
    holdout: Holdout,
    gate: GateSettings,
    champion: HoldoutScores | None = None,
) -> GateDecision:
    """Judge a candidate on the holdout (see the module docstring for the checks).

    Args:
        candidate: The candidate's metrics, holdout scores and deployed threshold.
        holdout: Labels, customers and length in days of the holdout rows.
        gate: Floors, budgets, the margin, the confidence level and the bootstrap's settings.
        champion: The production model scored on the *same* holdout rows, if there is one.

    Returns:
        The decision, with one line per failed check in `reasons`.
    """
    for model in (candidate, champion):
        if model is not None and len(model.scores) != len(holdout.labels):
            raise ValueError(
                f"{len(model.scores)} scores for a holdout of {len(holdout.labels)} rows"
            )
    checks = _floors(candidate.metrics, gate) + operating_point(candidate, holdout, gate)
    if champion is not None:
        checks += compare(candidate, champion, holdout, gate)
    reasons = [f"failed: {c['check']} ({c['detail']})" for c in checks if not c["ok"]]
    return GateDecision(
        passed=not reasons,
        reasons=reasons or ["all checks passed"],
        candidate=candidate.metrics,
        champion=None if champion is None else champion.metrics,
        champion_version=None if champion is None else champion.version,
        checks=checks,
        evidence=_evidence(holdout, gate),
    )


def _floors(metrics: dict[str, float], gate: GateSettings) -> list[dict[str, Any]]:
    floors = {
        "roc_auc": gate.min_roc_auc,
        "pr_auc": gate.min_pr_auc,
        "recall_at_fpr": gate.min_recall_at_fpr,
    }
    return [
        _check(
            f"{name} >= {floor:.3f}",
            name,
            "floor",
            metrics[name],
            None,
            floor,
            ok=metrics[name] >= floor,
            detail=f"candidate {metrics[name]:.3f}",
        )
        for name, floor in floors.items()
    ]


def operating_point(
    candidate: HoldoutScores, holdout: Holdout, gate: GateSettings
) -> list[dict[str, Any]]:
    """The false-positive rate and the flagged transactions per day at the candidate's
    deployed threshold, each with its interval, against its budget (upper end)."""
    flagged = candidate.scores >= candidate.threshold
    legitimate = holdout.labels != 1
    draws = {"resamples": gate.bootstrap_resamples, "seed": gate.bootstrap_seed}
    fpr = bootstrap.ratio_of_sums(flagged & legitimate, legitimate, holdout.customers, **draws)
    alerts = bootstrap.ratio_of_sums(flagged, None, holdout.customers, **draws)
    per_day = alerts.scaled(1 / holdout.days)
    level = f"{gate.confidence:.0%}"
    at = f"at threshold {candidate.threshold:.4f}"

    fpr_budget = gate.target_fpr + gate.fpr_tolerance
    fpr_low, fpr_high = fpr.interval(gate.confidence, higher_is_better=False)
    false_alarms = int((flagged & legitimate).sum())
    day_low, day_high = per_day.interval(gate.confidence, higher_is_better=False)
    return [
        _check(
            f"fpr_at_threshold <= {fpr_budget:.4f}",
            "fpr_at_threshold", "operating_point", fpr.estimate, (fpr_low, fpr_high), fpr_budget,
            ok=fpr_high <= fpr_budget,
            detail=f"upper end of the {level} interval {fpr_high:.4f}: FPR {fpr.estimate:.4f} "
            f"[{fpr_low:.4f}, {fpr_high:.4f}], {false_alarms} of {int(legitimate.sum())} "
            f"legitimate holdout transactions flagged {at}; budget {gate.target_fpr:.4f} + "
            f"tolerance {gate.fpr_tolerance:.4f}",
        ),
        _check(
            f"alerts_per_day <= {gate.max_alerts_per_day:g}",
            "alerts_per_day", "operating_point", per_day.estimate, (day_low, day_high),
            gate.max_alerts_per_day, ok=day_high <= gate.max_alerts_per_day,
            detail=f"upper end of the {level} interval {day_high:.1f}: {per_day.estimate:.1f} "
            f"a day [{day_low:.1f}, {day_high:.1f}], {int(flagged.sum())} holdout transactions "
            f"flagged over {holdout.days:g} days {at}",
        ),
    ]  # fmt: skip


def compare(
    candidate: HoldoutScores, champion: HoldoutScores, holdout: Holdout, gate: GateSettings
) -> list[dict[str, Any]]:
    """Non-inferiority of the candidate on each `COMPARED` metric: one check each, with the
    point difference (candidate - champion), its paired bootstrap interval and the margin.

    Too little evidence is refused: with fewer than `gate.min_fraud_customers` customers
    holding fraud in the holdout, a bootstrap of customers cannot describe the noise (its
    intervals come out too narrow), so each comparison fails and says why.
    """
    margin = gate.max_regression
    level = f"{gate.confidence:.0%}"
    versus = f"champion {champion.version}" if champion.version else "champion"
    fraud_customers = holdout.positive_customers
    if fraud_customers < gate.min_fraud_customers:
        detail = (
            f"insufficient evidence: {holdout.positives} fraud rows from {fraud_customers} "
            f"customers, fewer than {gate.min_fraud_customers}; the holdout cannot tell the "
            f"candidate from the {versus}, so it may not replace it"
        )
        return [
            _check(
                f"{name} - {versus} >= -{margin:.3f}",
                name,
                "comparison",
                math.nan,
                None,
                -margin,
                ok=False,
                detail=detail,
            )
            for name in COMPARED
        ]
    metrics = {
        "pr_auc": bootstrap.pr_auc,
        "recall_at_fpr": bootstrap.recall_at_fpr(gate.target_fpr),
    }
    differences = bootstrap.paired_differences(
        holdout.labels, candidate.scores, champion.scores, holdout.customers, metrics,
        gate.bootstrap_resamples, gate.bootstrap_seed,
    )  # fmt: skip
    checks = []
    for name in COMPARED:
        difference = differences[name]
        low, high = difference.interval(gate.confidence)
        ok = low >= -margin
        verdict = (
            f"the holdout shows the candidate at most {margin:.3f} worse"
            if ok
            else f"the holdout shows the candidate more than {margin:.3f} worse"
            if high < -margin
            else f"the holdout cannot rule out that the candidate is more than {margin:.3f} worse"
        )
        checks.append(
            _check(
                f"{name} - {versus} >= -{margin:.3f}",
                name,
                "comparison",
                difference.estimate,
                (low, high),
                -margin,
                ok=ok,
                detail=f"lower end of the {level} interval {low:+.4f}: difference "
                f"{difference.estimate:+.4f} [{low:+.4f}, {high:+.4f}], candidate "
                f"{candidate.metrics[name]:.4f}, champion {champion.metrics[name]:.4f}; {verdict}",
                undefined_resamples=difference.undefined,
            )
        )
    return checks


def _check(
    check: str, name: str, kind: str, estimate: float, interval: tuple[float, float] | None,
    limit: float, *, ok: bool, detail: str, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """One check as plain JSON values (non-finite numbers become None)."""
    value = _number(estimate)
    return {
        "check": check,
        "name": name,
        "kind": kind,
        "value": value,
        "estimate": value,
        "interval": None if interval is None else [_number(x) for x in interval],
        "limit": float(limit),
        "ok": bool(ok),
        "detail": detail,
        **extra,
    }


def _number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _evidence(holdout: Holdout, gate: GateSettings) -> dict[str, Any]:
    return {
        "method": METHOD,
        "confidence": gate.confidence,
        "resamples": gate.bootstrap_resamples,
        "seed": gate.bootstrap_seed,
        "rows": len(holdout.labels),
        "customers": int(np.unique(holdout.customers).size),
        "positives": holdout.positives,
        "positive_customers": holdout.positive_customers,
        "days": float(holdout.days),
    }
