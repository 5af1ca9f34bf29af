"""The monitoring verdict: a status, its reasons, and a distinct exit code per status.

ok                 0   every check passed (or was skipped for too few rows)
drift             10   an input, the prediction, the decline rate, a score quantile or a
                       segment's decline rate left the reference's distribution: retrain
quality           11   PR-AUC on matured labels fell more than the limit below the reference's,
                       beyond its confidence bound: retrain
insufficient_data 12   too few scored rows in the window to judge (not an error)

The checks and how the false-alarm budget is split among them: `monitoring.checks`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from fraud_detection.config import MonitorSettings
from fraud_detection.monitoring.checks import DRIFT_FAMILIES, Check, Judgement

Status = Literal["ok", "drift", "quality", "insufficient_data"]
EXIT_CODES: dict[str, int] = {"ok": 0, "drift": 10, "quality": 11, "insufficient_data": 12}


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: list[str]
    rows: int
    skipped_records: int

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def retrain(self) -> bool:
        return self.status in ("drift", "quality")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code, "retrain": self.retrain}


def decide(
    rows: int, skipped: int, judgement: Judgement | None, limits: MonitorSettings
) -> Verdict:
    """The window's status from its checks: quality before drift (a model that got worse is
    the stronger reason), each failed check named with its p-value and level."""
    if rows < limits.min_rows or judgement is None:
        return Verdict("insufficient_data",
                       [f"{rows} scored rows in the window; at least {limits.min_rows} needed"],
                       rows, skipped)  # fmt: skip
    quality = judgement.failed(("quality",))
    drift = judgement.failed(DRIFT_FAMILIES)
    status: Status = "quality" if quality else "drift" if drift else "ok"
    reasons = [_reason(c) for c in (*quality, *drift)]
    return Verdict(status, reasons or ["within limits"], rows, skipped)


def _reason(check: Check) -> str:
    if check.family == "quality":
        return f"quality: {check.detail}"
    where = ""
    if check.observed is not None:
        where = (f" ({check.observed:.4g} outside {check.lower_limit:.4g}-"
                 f"{check.upper_limit:.4g})")  # fmt: skip
    return (f"{check.family} {check.name}: {check.method} p={check.p_value:.2g} <= "
            f"alpha {check.alpha:.2g}{where}")  # fmt: skip
