"""The monitoring verdict: a status, its reasons, and a distinct exit code per status.

ok                 0   nothing to do
drift             10   inputs or prediction drifted beyond the limit: retrain
quality           11   PR-AUC on labelled traffic fell beyond the limit: retrain
insufficient_data 12   too few scored rows in the window to judge (not an error)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from fraud_detection.config import MonitorSettings

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
    rows: int, skipped: int, drift: dict[str, Any] | None, quality: dict[str, Any] | None,
    limits: MonitorSettings,
) -> Verdict:  # fmt: skip
    if rows < limits.min_rows or drift is None:
        return Verdict("insufficient_data",
                       [f"{rows} scored rows in the window; at least {limits.min_rows} needed"],
                       rows, skipped)  # fmt: skip
    reasons: list[str] = []
    status: Status = "ok"
    if quality and quality.get("status") == "evaluated":
        drop = quality["reference_pr_auc"] - quality["pr_auc"]
        if drop > limits.max_pr_auc_drop:
            status = "quality"
            reasons.append(
                f"PR-AUC {quality['pr_auc']:.3f} on {quality['rows_labelled']} labelled rows, "
                f"{drop:.3f} below the reference (limit {limits.max_pr_auc_drop:.3f})"
            )
    if drift["drifted_share"] > limits.max_drifted_share:
        status = "drift" if status == "ok" else status
        reasons.append(
            f"{drift['drifted_share']:.0%} of input columns drifted "
            f"({', '.join(drift['drifted_columns'])}; limit {limits.max_drifted_share:.0%})"
        )
    prediction = drift.get("prediction_drift") or {}
    if prediction.get("drifted"):
        reasons.append(f"the prediction drifted ({prediction['method']})")
    return Verdict(status, reasons or ["within limits"], rows, skipped)
