"""The evaluation report: one self-contained HTML page on the candidate's holdout results, for
the person who decides whether to trust the gate.

Sections, each an element with its own id: `summary` (metrics and the cost model),
`pr-curve`, `roc-curve`, `confusion-matrix` (Evidently's classification preset; production
beside the candidate as Evidently's reference data), `reliability` and `cost` (plotly, in
`report_figures`). Scores are what `FraudModel.score` returns: calibrated, for a model with a
calibrator. Each section is an Evidently dashboard drawn by Evidently's JavaScript
bundle, which carries plotly.js: the page is one file and needs no network to be read.
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fraud_detection.errors import EvaluationReportError
from fraud_detection.training.cost import cost_at, cost_curve
from fraud_detection.training.evaluate import evaluate
from fraud_detection.training.report_figures import Scored, cost_figure, reliability_diagram

if TYPE_CHECKING:
    from evidently.legacy.model.widget import BaseWidgetInfo

SECTIONS = {
    "summary": "Summary",
    "pr-curve": "Precision-recall curve",
    "roc-curve": "ROC curve",
    "confusion-matrix": "Confusion matrix at the deployed threshold",
    "reliability": "Reliability diagram",
    "cost": "Cost against threshold",
}
_TARGET, _SCORE = "is_fraud", "prediction"


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
    except EvaluationReportError:
        raise
    except Exception as exc:  # Evidently and plotly raise many types on data they refuse
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
    from evidently.legacy.renderers.html_widgets import plotly_figure

    y, models = inputs.y_true, inputs.models
    dashboards: dict[str, list[BaseWidgetInfo]] = {
        **_curves(inputs),
        "confusion-matrix": [w for m in models for w in _confusion(y, m)],
        "reliability": [plotly_figure(title="", figure=reliability_diagram(y, models))],
        "cost": [plotly_figure(title="", figure=cost_figure(y, inputs.amounts, models,
                                                            inputs.false_alarm_cost))],
    }  # fmt: skip
    return _page(title, _intros(inputs), _summary_table(inputs), dashboards)


def _curves(inputs: ReportInputs) -> dict[str, list[BaseWidgetInfo]]:
    """Evidently's PR and ROC curves; production's (Evidently's reference) beside the
    candidate's (Evidently's current)."""
    from evidently import Report
    from evidently.presets import ClassificationPreset

    champion = inputs.champion
    snapshot = Report([ClassificationPreset(probas_threshold=inputs.candidate.threshold)]).run(
        _dataset(inputs.y_true, inputs.candidate),
        None if champion is None else _dataset(inputs.y_true, champion),
    )
    widgets = snapshot.to_snapshot_model().widgets
    names = [m.name for m in inputs.models]
    return {
        "pr-curve": [_renamed(w, names) for w in _titled(widgets, "Precision-Recall Curve")],
        "roc-curve": [_renamed(w, names) for w in _titled(widgets, "ROC Curve")],
    }


def _confusion(y_true: np.ndarray, model: Scored) -> list[BaseWidgetInfo]:
    """Evidently's quality counters and confusion matrix of one model at its own threshold."""
    from evidently import Report
    from evidently.presets.classification import ClassificationQuality

    report = Report([ClassificationQuality(probas_threshold=model.threshold, conf_matrix=True)])
    widgets = report.run(_dataset(y_true, model), None).to_snapshot_model().widgets
    counters = next(w for w in widgets if w.title.endswith("Model Quality Metrics"))
    counters = counters.copy(update={"title": f"{model.name} at threshold {model.threshold:.4f}"})
    _, matrix = _titled(widgets, "Confusion Matrix")
    return [counters, matrix]


def _dataset(y_true: np.ndarray, model: Scored) -> Any:
    from evidently import BinaryClassification, DataDefinition, Dataset

    definition = DataDefinition(
        numerical_columns=[_SCORE],
        classification=[BinaryClassification(target=_TARGET, prediction_probas=_SCORE)],
    )
    frame = pd.DataFrame({_TARGET: y_true.astype(int), _SCORE: model.scores.astype(float)})
    return Dataset.from_pandas(frame, data_definition=definition)


def _titled(widgets: Sequence[BaseWidgetInfo], label: str) -> list[BaseWidgetInfo]:
    """The header Evidently labels `label` and the chart that follows it."""
    for i, widget in enumerate(widgets[:-1]):
        counters = (widget.params or {}).get("counters", []) if widget.type == "counter" else []
        if [c.get("label") for c in counters] == [label]:
            return list(widgets[i : i + 2])
    raise EvaluationReportError(f"Evidently's classification report has no {label!r} chart")


def _renamed(widget: BaseWidgetInfo, names: list[str]) -> BaseWidgetInfo:
    """Evidently titles side-by-side plots "current" and "reference": name the models instead."""
    if widget.type != "big_graph":
        return widget
    renamed = widget.copy(deep=True)
    by_dataset = dict(zip(("current", "reference"), names, strict=False))
    for note in renamed.params["layout"].get("annotations", []):
        note["text"] = by_dataset.get(note.get("text"), note.get("text"))
    return renamed


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


def _summary_table(inputs: ReportInputs) -> str:
    y, amounts = inputs.y_true, inputs.amounts
    columns = {}
    for model in inputs.models:
        result = evaluate(y, model.scores, model.threshold, inputs.target_fpr, amounts=amounts)
        flagged = model.scores >= model.threshold
        cheapest_at, cheapest = cost_curve(y, model.scores, amounts,
                                           inputs.false_alarm_cost).cheapest()  # fmt: skip
        columns[model.name] = [
            f"{result.roc_auc:.4f}", f"{result.pr_auc:.4f}", f"{result.recall_at_fpr:.4f}",
            f"{model.threshold:.4f}", f"{result.recall_at_threshold:.4f}",
            f"{result.fpr_at_threshold:.4f}",
            f"{(y[flagged] == 1).mean() if flagged.any() else 0.0:.4f}",
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
    title: str, intros: dict[str, str], summary: str, dashboards: dict[str, list[BaseWidgetInfo]]
) -> str:
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.utils import NumpyEncoder
    from evidently.legacy.utils.dashboard import STATIC_PATH, dashboard_info_to_json

    static = Path(STATIC_PATH)
    sections, draws = [], []
    for section, heading in SECTIONS.items():
        body = summary if section == "summary" else f'<div id="dashboard-{section}"></div>'
        sections.append(
            f'<section id="{section}"><h2>{html.escape(heading)}</h2>'
            f"<p>{html.escape(intros[section])}</p>{body}</section>"
        )
        if section in dashboards:
            widgets = dashboards[section]
            info = dashboard_info_to_json(DashboardInfo(name=heading, widgets=widgets))
            graphs = json.dumps(
                {g.id: _graph_params(g) for w in widgets for g in w.get_additional_graphs()},
                cls=NumpyEncoder,
            )
            draws.append(
                f"window.drawDashboard({_script_safe(info)}, new Map(Object.entries("
                f'{_script_safe(graphs)})), "dashboard-{section}");'
            )
    contents = "".join(f'<li><a href="#{s}">{html.escape(h)}</a></li>' for s, h in SECTIONS.items())
    font = static.joinpath("material-ui-icons.woff2").read_bytes()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style>
@font-face {{font-family: 'Material Icons'; font-style: normal; font-weight: 400;
  src: url(data:font/woff2;base64,{base64.b64encode(font).decode()}) format('woff2');}}
.material-icons {{font-family: 'Material Icons'; font-size: 24px; line-height: 1;
  display: inline-block; white-space: nowrap; direction: ltr;}}
body {{font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 1rem;}}
section {{margin: 2rem 0;}} table {{border-collapse: collapse;}}
th, td {{border: 1px solid #ccc; padding: 0.3rem 0.8rem; text-align: right;}}
th:first-child, td:first-child {{text-align: left;}}
</style></head>
<body><h1>{html.escape(title)}</h1><nav><ol>{contents}</ol></nav>
{"".join(sections)}
<script>var global = globalThis</script>
<script>{static.joinpath("index.js").read_text(encoding="utf-8")}</script>
<script>{"".join(draws)}</script>
</body></html>
"""


def _graph_params(graph: Any) -> Any:
    """An additional graph as Evidently's own page embeds it (`render_widgets`)."""
    params = getattr(graph, "params", None)
    return params if params is not None else graph.dict()


def _script_safe(data: str) -> str:
    """JSON inside a <script> element: a "</" in a string must not end the element."""
    return data.replace("</", "<\\/")


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
