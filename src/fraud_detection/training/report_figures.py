"""The evaluation report's charts (plotly): the precision-recall and ROC curves, each model's
confusion matrix at its deployed threshold, the reliability diagram and the cost of each
threshold. One trace per model, on shared axes, the candidate first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

from fraud_detection.training.cost import cost_at, cost_curve
from fraud_detection.training.evaluate import RELIABILITY_BINS, reliability_table

# The candidate red, production grey.
COLOURS = ("#ed0400", "#4d4d4d")


@dataclass(frozen=True)
class Scored:
    """One model's (calibrated, when it has a calibrator) scores on the holdout, and the
    threshold it is deployed with (chosen by cost within the FPR budget on validation)."""

    name: str
    scores: np.ndarray
    threshold: float


def pr_curve(y_true: np.ndarray, models: Sequence[Scored]) -> go.Figure:
    """Precision against recall over every threshold (scikit-learn's curve, with the points
    that no threshold would be chosen for dropped: a few hundred, not one per row)."""
    figure = go.Figure()
    for model, colour in zip(models, COLOURS, strict=False):
        precision, recall, _ = precision_recall_curve(y_true, model.scores, drop_intermediate=True)
        figure.add_trace(go.Scatter(x=recall, y=precision, mode="lines", name=model.name,
                                    line={"color": colour, "shape": "hv"}))  # fmt: skip
    figure.update_layout(title="Precision-Recall Curve", xaxis_title="recall",
                         yaxis_title="precision", xaxis_range=[0, 1],
                         yaxis_range=[0, 1.02])  # fmt: skip
    return figure


def roc(y_true: np.ndarray, models: Sequence[Scored], target_fpr: float) -> go.Figure:
    """True-positive against false-positive rate, with the gate's FPR budget marked."""
    figure = go.Figure()
    for model, colour in zip(models, COLOURS, strict=False):
        fpr, tpr, _ = roc_curve(y_true, model.scores, drop_intermediate=True)
        figure.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=model.name,
                                    line={"color": colour}))  # fmt: skip
    figure.add_trace(go.Scatter(x=[target_fpr, target_fpr], y=[0, 1], mode="lines",
                                name=f"FPR budget {target_fpr:.2%}",
                                line={"dash": "dot", "color": "grey"}))  # fmt: skip
    figure.update_layout(title="ROC Curve", xaxis_title="false-positive rate",
                         yaxis_title="true-positive rate (recall)", xaxis_range=[0, 1],
                         yaxis_range=[0, 1.02])  # fmt: skip
    return figure


def precision_recall(confusion: list[list[int]]) -> tuple[float, float]:
    """Precision and recall from `[[tn, fp], [fn, tp]]` (`Evaluation.confusion`); 0 where
    nothing was flagged or nothing was fraud."""
    (_, fp), (fn, tp) = confusion
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def confusion_figure(model: Scored, counts: list[list[int]]) -> go.Figure:
    """`model`'s counts of each outcome when flagging at its own deployed threshold
    (`Evaluation.confusion` at `model.threshold`)."""
    precision, recall = precision_recall(counts)
    figure = go.Figure(go.Heatmap(
        z=counts, x=["flagged legitimate (0)", "flagged fraud (1)"],
        y=["legitimate (0)", "fraud (1)"], text=[[f"{v:,}" for v in row] for row in counts],
        texttemplate="%{text}", colorscale="Greys", showscale=False,
        hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
    ))  # fmt: skip
    figure.update_layout(
        title=f"{model.name} at threshold {model.threshold:.4f}<br>"
        f"<sup>precision {precision:.3f}, recall {recall:.3f}</sup>",
        xaxis_title="predicted", yaxis_title="actual", yaxis_autorange="reversed",
        width=560, height=420,
    )  # fmt: skip
    return figure


def reliability_diagram(y_true: np.ndarray, models: Sequence[Scored]) -> go.Figure:
    """Observed fraud rate (with its 95% Wilson interval) against mean predicted probability,
    per equal-width score bin (the model card's reliability table); a dotted vertical line at
    each model's deployed threshold."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                                line={"dash": "dash", "color": "grey"}))  # fmt: skip
    for model, colour in zip(models, COLOURS, strict=False):
        table = reliability_table(y_true, model.scores, RELIABILITY_BINS)
        observed, low, high = (
            np.array([row[key] for row in table])
            for key in ("observed_rate", "observed_low", "observed_high")
        )
        figure.add_trace(go.Scatter(
            x=[row["mean_predicted"] for row in table], y=observed, mode="lines+markers",
            name=model.name, line={"color": colour},
            error_y={"type": "data", "symmetric": False, "array": high - observed,
                     "arrayminus": observed - low},
            customdata=[row["count"] for row in table],
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}"
            "<br>%{customdata} transactions<extra></extra>",
        ))  # fmt: skip
        figure.add_trace(go.Scatter(
            x=[model.threshold, model.threshold], y=[0, 1], mode="lines",
            name=f"{model.name}: deployed threshold {model.threshold:.4f}",
            line={"dash": "dot", "color": colour},
        ))  # fmt: skip
    figure.update_layout(
        xaxis_title="mean predicted fraud probability (bin)",
        yaxis_title="observed fraud rate (95% Wilson interval)",
        xaxis_range=[0, 1], yaxis_range=[0, 1],
    )  # fmt: skip
    return figure


def cost_figure(
    y_true: np.ndarray, amounts: np.ndarray, models: Sequence[Scored], false_alarm_cost: float
) -> go.Figure:
    """Total cost on the holdout against the threshold; each model's deployed threshold and the
    cheapest threshold marked."""
    figure = go.Figure()
    for model, colour in zip(models, COLOURS, strict=False):
        curve = cost_curve(y_true, model.scores, amounts, false_alarm_cost)
        line = go.Scatter(x=curve.thresholds, y=curve.total, mode="lines", name=model.name,
                          line={"color": colour},
                          customdata=np.stack([curve.missed_fraud, curve.false_alarms], axis=-1),
                          hovertemplate="threshold %{x:.3f}<br>total %{y:,.0f}"
                          "<br>missed fraud %{customdata[0]:,.0f}"
                          "<br>false alarms %{customdata[1]}<extra></extra>")  # fmt: skip
        figure.add_trace(line)
        deployed = cost_at(y_true, model.scores, amounts, false_alarm_cost, model.threshold)
        figure.add_trace(go.Scatter(
            x=[model.threshold], y=[deployed], mode="markers+text",
            name=f"{model.name}: deployed threshold", text=["deployed"],
            textposition="top center",
            marker={"size": 12, "symbol": "diamond", "color": colour},
        ))  # fmt: skip
        cheapest_at, cheapest = curve.cheapest()
        figure.add_trace(go.Scatter(
            x=[cheapest_at], y=[cheapest], mode="markers", name=f"{model.name}: cheapest",
            marker={"size": 10, "symbol": "circle-open", "color": colour},
        ))  # fmt: skip
    figure.update_layout(
        xaxis_title="threshold (flag when score >= threshold)",
        yaxis_title="total cost on the holdout",
        xaxis_range=[0, 1],
    )
    return figure
