"""Evidently reports: data drift of the model's inputs and prediction, and classification
quality when labels have arrived. Each is saved as HTML (to look at) and summarised as JSON
(for the verdict and for alerting)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from fraud_detection.errors import MonitoringError
from fraud_detection.features.derived import CATEGORICAL_FEATURES
from fraud_detection.monitoring.checks import (
    CATEGORY_TESTED,
    PREDICTION,
    Check,
    CheckLimits,
    Judgement,
    Reference,
    judge,
)

_VALUE_DRIFT = re.compile(r"ValueDrift\(column=(?P<column>[^,]+),method=(?P<method>[^,]+)")


def check_columns(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> None:
    """Fail, naming them, if the log lacks reference columns or holds them as another type."""
    missing = [c for c in columns if c not in current.columns]
    if missing:
        raise MonitoringError(f"prediction log lacks columns the model uses: {', '.join(missing)}")
    mismatched = [
        f"{c} (log {current[c].dtype}, reference {reference[c].dtype})"
        for c in columns
        if c not in CATEGORICAL_FEATURES
        and not pd.api.types.is_numeric_dtype(current[c].dropna().infer_objects())
        and current[c].notna().any()
    ]
    if mismatched:
        raise MonitoringError(f"prediction log columns of another type: {', '.join(mismatched)}")


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], drift_share: float,
    out_dir: Path, judgement: Judgement | None = None, family_alpha: float = 0.01,
) -> dict[str, Any]:  # fmt: skip
    """Per-column drift, share of drifted columns, and drift of the prediction itself.

    The decisions are `judgement`'s (`checks.judge`; computed here at `family_alpha` when not
    given): K-S for numeric inputs and the prediction, chi-squared for categories and the
    card-present flag, each at its share of the false-alarm budget. Evidently renders the same
    tests at the same thresholds into drift.html, for a person to read; its own dataset-level
    line uses `drift_share`. Writes drift.html and drift.json.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    check_columns(reference, current, columns)
    if judgement is None:
        judgement = judge(Reference.of(reference, columns, 0.5), current, columns,
                          CheckLimits(family_alpha=family_alpha))  # fmt: skip
    decided = {c.name: c for c in judgement.of("feature_drift")}
    prediction = next(iter(judgement.of("prediction_drift")), None)
    # A column with no values cannot be tested: never served in the reference means nothing
    # to compare; never present in live traffic (but present before) is drift in itself.
    unused = [c for c in columns if reference[c].isna().all()]
    vanished = [c for c in columns if c not in unused and current[c].isna().all()]
    shown = [c for c in columns if c not in unused and c not in vanished]
    categorical = [c for c in shown if c in CATEGORY_TESTED]
    numeric = [c for c in [*shown, PREDICTION] if c not in categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    wanted = [*shown, PREDICTION]
    methods = {c: "chisquare" if c in categorical else "ks" for c in wanted}
    thresholds = {c: decided[c].alpha for c in shown if c in decided}
    if prediction is not None:
        thresholds[PREDICTION] = prediction.alpha
    report = Report([DataDriftPreset(drift_share=drift_share, per_column_method=methods,
                                     per_column_threshold=thresholds)],
                    include_tests=True)  # fmt: skip
    snapshot = report.run(
        Dataset.from_pandas(_typed(current[wanted], numeric), data_definition=definition),
        Dataset.from_pandas(_typed(reference[wanted], numeric), data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out_dir / "drift.html"))
    result = json.loads(snapshot.json())
    shown_value = {
        match["column"]: float(metric["value"])
        for metric in result["metrics"]
        if (match := _VALUE_DRIFT.match(metric["metric_name"]))
    }
    per_column: dict[str, dict[str, Any]] = {
        name: {"score": check.p_value, "method": check.method, "drifted": check.failed,
               "alpha": check.alpha, "statistic": check.statistic,
               "report_value": shown_value.get(name)}
        for name, check in decided.items()
    }  # fmt: skip
    if prediction is not None:
        per_column[PREDICTION] = {
            "score": prediction.p_value, "method": prediction.method,
            "drifted": prediction.failed, "alpha": prediction.alpha,
            "statistic": prediction.statistic, "report_value": shown_value.get(PREDICTION),
        }  # fmt: skip
    features = {k: v for k, v in per_column.items() if k != PREDICTION}
    summary = {
        "rows_reference": len(reference),
        "rows_current": len(current),
        "drifted_share": float(np.mean([v["drifted"] for v in features.values()]))
        if features else 0.0,
        "drifted_columns": sorted(k for k, v in features.items() if v["drifted"]),
        "prediction_drift": per_column.get(PREDICTION),
        "per_column": per_column,
        "not_compared": unused,
        "html": str(out_dir / "drift.html"),
    }  # fmt: skip
    (out_dir / "drift.json").write_text(json.dumps(summary, indent=2))
    return summary


def quality_report(
    current: pd.DataFrame, reference: pd.DataFrame, threshold: float, out_dir: Path,
    check: Check | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Classification quality on labelled live rows against the reference's; quality.html/json.

    `current` and `reference` need `is_fraud` and `prediction`; rows whose label has not
    matured hold NaN there and are left out. Without labels the report is skipped, and the
    summary says so. `check` (the `quality` check of `checks.judge`) adds its decision: the
    PR-AUC drop's confidence bound against the limit.
    """
    labelled = current.dropna(subset=["is_fraud"]) if "is_fraud" in current else current.iloc[0:0]
    out_dir.mkdir(parents=True, exist_ok=True)
    if labelled.empty or labelled["is_fraud"].nunique() < 2:
        reason = "no labels" if labelled.empty else "labels hold a single class"
        summary: dict[str, Any] = {
            "status": f"skipped: {reason}",
            "rows_labelled": len(labelled),
            "check": None if check is None else check.to_dict(),
        }
        (out_dir / "quality.json").write_text(json.dumps(summary, indent=2))
        return summary
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    definition = DataDefinition(
        numerical_columns=[PREDICTION],
        classification=[BinaryClassification(target="is_fraud", prediction_probas=PREDICTION)],
    )
    columns = ["is_fraud", PREDICTION]
    snapshot = Report([ClassificationPreset(probas_threshold=threshold)]).run(
        Dataset.from_pandas(
            labelled[columns].astype({"is_fraud": int}), data_definition=definition
        ),
        Dataset.from_pandas(
            reference[columns].astype({"is_fraud": int}), data_definition=definition
        ),
    )
    snapshot.save_html(str(out_dir / "quality.html"))
    y, scores = labelled["is_fraud"].astype(int).to_numpy(), labelled[PREDICTION].to_numpy()
    ref_y, ref_scores = (
        reference["is_fraud"].astype(int).to_numpy(),
        reference[PREDICTION].to_numpy(),
    )
    summary = {
        "status": "evaluated",
        "rows_labelled": len(labelled),
        "pr_auc": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "reference_pr_auc": float(average_precision_score(ref_y, ref_scores)),
        "fraud_labels": int(y.sum()),
        "check": None if check is None else check.to_dict(),
        "html": str(out_dir / "quality.html"),
    }
    (out_dir / "quality.json").write_text(json.dumps(summary, indent=2))
    return summary


def _typed(frame: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out
