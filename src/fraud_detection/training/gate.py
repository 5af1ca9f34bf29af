"""The validation gate: a candidate ships only if it clears absolute floors and is not worse
than the production model (the champion) by more than a set margin on the same holdout."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fraud_detection.config import GateSettings

# Metrics compared with the champion; higher is better for each.
COMPARED = ("pr_auc", "recall_at_fpr")


@dataclass
class GateDecision:
    passed: bool
    reasons: list[str]
    candidate: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    candidate: dict[str, float],
    gate: GateSettings,
    champion: dict[str, float] | None = None,
    champion_version: str | None = None,
) -> GateDecision:
    """Judge a candidate's holdout metrics.

    Args:
        candidate: The candidate's metrics on the holdout.
        gate: Floors and the allowed regression.
        champion: The production model's metrics on the *same* holdout, if there is one.
        champion_version: Its registry version, for the record.

    Returns:
        The decision, with one line per failed check in `reasons`.
    """
    floors = {
        "roc_auc": gate.min_roc_auc,
        "pr_auc": gate.min_pr_auc,
        "recall_at_fpr": gate.min_recall_at_fpr,
    }
    checks = [
        {
            "check": f"{name} >= {floor:.3f}",
            "value": candidate[name],
            "ok": candidate[name] >= floor,
        }
        for name, floor in floors.items()
    ]
    if champion is not None:
        for name in COMPARED:
            bound = champion[name] - gate.max_regression
            checks.append(
                {
                    "check": f"{name} >= champion {champion[name]:.3f} - {gate.max_regression:.3f}",
                    "value": candidate[name],
                    "ok": candidate[name] >= bound,
                }
            )
    reasons = [f"failed: {c['check']} (candidate {c['value']:.3f})" for c in checks if not c["ok"]]
    return GateDecision(
        passed=not reasons,
        reasons=reasons or ["all checks passed"],
        candidate=candidate,
        champion=champion,
        champion_version=champion_version,
        checks=checks,
    )
