"""The evaluation report: one self-contained HTML page on the candidate's holdout results, for
the person who decides whether to trust the gate.

Sections, each an element with its own id: `summary` (metrics and the cost model), `pr-curve`,
`roc-curve`, `confusion-matrix`, `reliability` and `cost`, the charts drawn with plotly
(`report_figures`), production beside the candidate. Scores are what `FraudModel.score`
returns: calibrated, for a model with a calibrator. plotly.js is inlined once: the page is one
file and needs no network to be read.

Plotly rather than Evidently's classification preset: Evidently watches live traffic (the
monitor's drift and quality reports), but as this page's renderer it meant laying our charts
out through its legacy dashboard internals, and importing it and running three of its reports
was 9 of the evaluate step's 13 s, in every pipeline run.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.offline

from fraud_detection.errors import EvaluationReportError
from fraud_detection.training.cost import cost_at, cost_curve
from fraud_detection.training.evaluate import Evaluation, evaluate
from fraud_detection.training.report_figures import (
    Scored,
    confusion_figure,
    cost_figure,
    pr_curve,
    precision_recall,
    reliability_diagram,
    roc,
)

SECTIONS = {
    "summary": "Summary",
    "pr-curve": "Precision-recall curve",
    "roc-curve": "ROC curve",
    "confusion-matrix": "Confusion matrix at the deployed threshold",
    "reliability": "Reliability diagram",
    "cost": "Cost against threshold",
}


@dataclass(frozen=True)
class ReportInputs:
    """What the report shows: holdout labels and amounts, the candidate, and production (the
    champion) scored on the same rows when there is one."""

    y_true: np.ndarray
    amounts: np.ndarray
    candidate: Scored
    champion: Scored | None
    target_fpr: float
    false_alarm_cost: float

    @property
    def models(self) -> list[Scored]:
        return [self.candidate] if self.champion is None else [self.candidate, self.champion]


def write_report(inputs: ReportInputs, out: Path, title: str) -> Path:
    """Build the report and write it to `out` whole: it appears there complete or not at all.

    Raises:
        EvaluationReportError: if it cannot be built or written; nothing is left at `out`.
    """
    try:
        page = render(inputs, title)
    except Exception as exc:  # scikit-learn and plotly raise many types on data they refuse
        raise EvaluationReportError(
            f"cannot build the evaluation report for {out}: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        _write_atomic(out, page)
    except OSError as exc:
        raise EvaluationReportError(f"cannot write the evaluation report {out}: {exc}") from exc
    return out


def render(inputs: ReportInputs, title: str) -> str:
    """The whole page as one HTML string."""
    y, models = inputs.y_true, inputs.models
    # Each model at its own threshold, once: the summary's figures and its confusion matrix.
    evaluations = [
        evaluate(y, m.scores, m.threshold, inputs.target_fpr, amounts=inputs.amounts)
        for m in models
    ]
    charts: dict[str, list[go.Figure]] = {
        "pr-curve": [pr_curve(y, models)],
        "roc-curve": [roc(y, models, inputs.target_fpr)],
        "confusion-matrix": [
            confusion_figure(m, e.confusion) for m, e in zip(models, evaluations, strict=True)
        ],
        "reliability": [reliability_diagram(y, models)],
        "cost": [cost_figure(y, inputs.amounts, models, inputs.false_alarm_cost)],
    }
    return _page(title, _intros(inputs), _summary_table(inputs, evaluations), charts)


def _intros(inputs: ReportInputs) -> dict[str, str]:
    """A sentence or two per section on what it shows and how to read it."""
    candidate, champion = inputs.candidate, inputs.champion
    beside = (
        f"{champion.name} (the champion) is scored on the same rows, beside the candidate."
        if champion is not None
        else "There is no production model yet: the candidate is shown alone."
    )
    return {
        "summary": f"The candidate on the time-based holdout: {len(inputs.y_true):,} "
        f"transactions, {int(inputs.y_true.sum()):,} of them fraud. {beside}",
        "pr-curve": "Precision against recall over every threshold: under heavy class "
        "imbalance the curve that stays higher for longer ranks fraud better.",
        "roc-curve": f"True-positive against false-positive rate; the gate reads recall at "
        f"{inputs.target_fpr:.2%} FPR, the far left of this curve.",
        "confusion-matrix": f"Counts of each outcome when flagging at the deployed threshold "
        f"(the candidate's, {candidate.threshold:.4f}, the cheapest threshold within the FPR "
        "budget on the validation split); each model at its own threshold. Class 1 is fraud.",
        "reliability": "Observed fraud rate (bars: 95% Wilson interval) against the calibrated "
        "predicted probability in ten equal-width score bins: points on the diagonal mean a "
        "score of 0.3 is fraud 30% of the time. Dotted lines mark each model's deployed "
        "threshold.",
        "cost": f"The holdout's total cost at each threshold. Cost model: a missed fraud costs "
        f"its amount; a false alarm costs a review, {inputs.false_alarm_cost:,.2f} "
        "(gate settings, false_alarm_cost); a caught fraud costs nothing. Diamonds mark each "
        "model's deployed threshold (chosen by this cost model on the validation split, "
        "within the FPR budget), open circles the cheapest threshold on this holdout.",
    }


def _summary_table(inputs: ReportInputs, evaluations: list[Evaluation]) -> str:
    """One column per model; `evaluations` are theirs, at their own thresholds."""
    y, amounts = inputs.y_true, inputs.amounts
    columns = {}
    for model, result in zip(inputs.models, evaluations, strict=True):
        cheapest_at, cheapest = cost_curve(y, model.scores, amounts,
                                           inputs.false_alarm_cost).cheapest()  # fmt: skip
        columns[model.name] = [
            f"{result.roc_auc:.4f}", f"{result.pr_auc:.4f}", f"{result.recall_at_fpr:.4f}",
            f"{model.threshold:.4f}", f"{result.recall_at_threshold:.4f}",
            f"{result.fpr_at_threshold:.4f}",
            f"{precision_recall(result.confusion)[0]:.4f}",
            f"{result.brier:.4f}", f"{result.expected_calibration_error:.4f}",
            f"{result.fraud_amount_caught:,.0f} ({result.fraud_amount_share_caught:.1%})",
            f"{cost_at(y, model.scores, amounts, inputs.false_alarm_cost, model.threshold):,.0f}",
            f"{cheapest:,.0f} at {cheapest_at:.3f}",
        ]  # fmt: skip
    labels = [
        "ROC-AUC", "PR-AUC", f"recall @ {inputs.target_fpr:.2%} FPR", "deployed threshold",
        "recall @ threshold", "FPR @ threshold", "precision @ threshold",
        "Brier score (lower is better)", "calibration error (lower is better)",
        "fraud amount caught @ threshold", "cost @ threshold", "cheapest cost on the holdout",
    ]  # fmt: skip
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{html.escape(values[i])}</td>" for values in columns.values())
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _page(
    title: str, intros: dict[str, str], summary: str, charts: dict[str, list[go.Figure]]
) -> str:
    sections = []
    for section, heading in SECTIONS.items():
        if section == "summary":
            body = summary
        else:
            body = '<div class="charts">' + "".join(
                figure.to_html(full_html=False, include_plotlyjs=False,
                               div_id=f"chart-{section}-{i}", default_width="100%")
                for i, figure in enumerate(charts[section])
            ) + "</div>"  # fmt: skip
        sections.append(
            f'<section id="{section}"><h2>{html.escape(heading)}</h2>'
            f"<p>{html.escape(intros[section])}</p>{body}</section>"
        )
    contents = "".join(f'<li><a href="#{s}">{html.escape(h)}</a></li>' for s, h in SECTIONS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style>
body {{font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 1rem;}}
section {{margin: 2rem 0;}} table {{border-collapse: collapse;}}
.charts {{display: flex; flex-wrap: wrap; gap: 1rem;}} .charts > div {{flex: 1 1 auto;}}
th, td {{border: 1px solid #ccc; padding: 0.3rem 0.8rem; text-align: right;}}
th:first-child, td:first-child {{text-align: left;}}
</style>
<script>{plotly.offline.get_plotlyjs()}</script></head>
<body><h1>{html.escape(title)}</h1><nav><ol>{contents}</ol></nav>
{"".join(sections)}
</body></html>
"""


def _write_atomic(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
