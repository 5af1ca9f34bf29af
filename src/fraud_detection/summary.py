"""The readable end of a training run: metrics, gate checks, the decision, where things are."""

from __future__ import annotations

from pathlib import Path

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

    checks = Table(title="Validation gate", title_justify="left")
    checks.add_column("check")
    checks.add_column("candidate", justify="right")
    checks.add_column("result")
    for check in decision["checks"]:
        verdict = "[green]pass[/]" if check["ok"] else "[red]FAIL[/]"
        checks.add_row(check["check"], f"{check['value']:.4f}", verdict)
    console.print(checks)

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


def _print_path(console: Console, label: str, path: Path) -> None:
    # Never wrapped, at any width: a path broken across lines cannot be copied.
    console.print(f"{label} {path}", markup=False, soft_wrap=True)
