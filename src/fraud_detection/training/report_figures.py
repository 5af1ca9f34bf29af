"""The evaluation report's own charts, which Evidently's classification preset does not draw:
the reliability diagram and the cost of each threshold. One trace per model, on shared axes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from sklearn.calibration import calibration_curve

from fraud_detection.training.cost import cost_at, cost_curve

RELIABILITY_BINS = 10  # equal-width, as in the expected calibration error of the model card
# Evidently's colours for its current and reference data: the candidate, then production.
COLOURS = ("#ed0400", "#4d4d4d")


@dataclass(frozen=True)
class Scored:
    """One model's scores on the holdout, and the threshold it is deployed with."""

    name: str
    scores: np.ndarray
    threshold: float


def reliability_diagram(y_true: np.ndarray, models: Sequence[Scored]) -> go.Figure:
    """Observed fraud rate against mean predicted probability, per score bin."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                                line={"dash": "dash", "color": "grey"}))  # fmt: skip
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    for model, colour in zip(models, COLOURS, strict=False):
        observed, predicted = calibration_curve(
            y_true, model.scores, n_bins=RELIABILITY_BINS, strategy="uniform"
        )
        # calibration_curve drops empty bins; count the rest for the hover text.
        counts = np.histogram(model.scores, bins=edges)[0]
        counts = counts[counts > 0]
        figure.add_trace(go.Scatter(
            x=predicted, y=observed, mode="lines+markers", name=model.name, line={"color": colour},
            customdata=counts, hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}"
            "<br>%{customdata} transactions<extra></extra>",
        ))  # fmt: skip
    figure.update_layout(
        xaxis_title="mean predicted fraud probability (bin)",
        yaxis_title="observed fraud rate",
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
