"""The readable end of a training run: metrics, gate checks, the decision, where things are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraud_detection.jobs.events import TrainingRun

_METRICS = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("recall_at_fpr", "recall @ FPR budget"),
    ("recall_at_threshold", "recall @ chosen threshold"),
    ("fpr_at_threshold", "FPR @ chosen threshold"),
    ("brier", "Brier score (lower is better)"),
    ("expected_calibration_error", "calibration error (lower is better)"),
)


def print_summary(console: Console, training: TrainingRun) -> None:
    run, production = training.run, training.production
    decision = run.decision
    candidate, champion = decision["candidate"], decision.get("champion")
    table = Table(title="Holdout metrics", title_justify="left")
    table.add_column("metric")
    table.add_column("candidate", justify="right")
    if champion:
        table.add_column(f"production ({decision.get('champion_version')})", justify="right")
    for key, label in _METRICS:
        row = [label, f"{candidate[key]:.4f}"]
        if champion:
            row.append(f"{champion[key]:.4f}")
        table.add_row(*row)
    console.print(table)
    console.print(
        f"holdout: {int(candidate['rows'])} transactions, {int(candidate['positives'])} fraud; "
        f"FPR budget {candidate['target_fpr']:.2%}"
    )

    evidence = decision.get("evidence") or {}
    level = f"{evidence['confidence']:.0%} " if "confidence" in evidence else ""
    checks = Table(title="Validation gate", title_justify="left")
    checks.add_column("check")
    checks.add_column("estimate", justify="right")
    checks.add_column(f"{level}interval", justify="right")
    checks.add_column("result")
    for check in decision["checks"]:
        verdict = "[green]pass[/]" if check["ok"] else "[red]FAIL[/]"
        checks.add_row(check["check"], *_estimate_and_interval(check), verdict)
    console.print(checks)
    if evidence:
        console.print(
            f"intervals: {evidence['method']}, {evidence['resamples']} resamples (seed "
            f"{evidence['seed']}) of {evidence['customers']} customers; "
            f"{evidence['positives']} fraud rows from {evidence['positive_customers']} customers"
        )

    if decision["passed"]:
        console.print("[bold green]Gate decision: PASSED[/] — the candidate was registered.")
    else:
        console.print(
            "[bold red]Gate decision: REJECTED[/] — nothing registered; production untouched."
        )
        for reason in decision["reasons"]:
            console.print(f"  - {reason}")
    if production is not None:
        console.print(f"production model: {training.model_name} version {production.version}")
        _print_path(console, "  model card:", production.path / "model_card.json")
    _print_path(console, "gate decision:", run.decision_file)
    _print_path(console, "pipeline log: ", run.log_file)


def _estimate_and_interval(check: dict[str, Any]) -> tuple[str, str]:
    """A check's estimate and interval as they read: a difference signed, a daily volume to one
    place, a rate or metric to four; a missing value (insufficient evidence) as "n/a"."""
    estimate, interval = check.get("estimate", check.get("value")), check.get("interval")
    kind, name = check.get("kind"), check.get("name")

    def number(x: float | None) -> str:
        if x is None:
            return "n/a"
        if name == "alerts_per_day":
            return f"{x:.1f}"
        return f"{x:+.4f}" if kind == "comparison" else f"{x:.4f}"

    shown = "" if interval is None else f"[{number(interval[0])}, {number(interval[1])}]"
    return number(estimate), shown


def _print_path(console: Console, label: str, path: Path) -> None:
    # Never wrapped, at any width: a path broken across lines cannot be copied.
    console.print(f"{label} {path}", markup=False, soft_wrap=True)
