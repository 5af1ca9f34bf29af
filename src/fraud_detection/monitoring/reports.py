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

PREDICTION = "prediction"
_DRIFT_TEST = "Value Drift for column "
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
    out_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    """Per-column drift, share of drifted columns, and drift of the prediction itself.

    Evidently picks each column's method by type and size (K-S or chi²/Z-test p-values for
    small samples, Wasserstein or Jensen-Shannon distances for large ones) with its default
    thresholds; its per-column test decides "drifted". Writes drift.html and drift.json.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    check_columns(reference, current, columns)
    # A column with no values cannot be tested: never served in the reference means nothing
    # to compare; never present in live traffic (but present before) is drift in itself.
    unused = [c for c in columns if reference[c].isna().all()]
    vanished = [c for c in columns if c not in unused and current[c].isna().all()]
    columns = [c for c in columns if c not in unused and c not in vanished]
    numeric = [c for c in [*columns, PREDICTION] if c not in CATEGORICAL_FEATURES]
    categorical = [c for c in columns if c in CATEGORICAL_FEATURES]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    wanted = [*columns, PREDICTION]
    report = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(_typed(current[wanted], numeric), data_definition=definition),
        Dataset.from_pandas(_typed(reference[wanted], numeric), data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out_dir / "drift.html"))
    result = json.loads(snapshot.json())
    failed = {
        test["name"].removeprefix(_DRIFT_TEST): test["status"] == "FAIL"
        for test in result.get("tests", [])
        if test["name"].startswith(_DRIFT_TEST)
    }
    per_column: dict[str, dict[str, Any]] = {}
    share = 0.0
    for metric in result["metrics"]:
        match = _VALUE_DRIFT.match(metric["metric_name"])
        if match:
            column = match["column"]
            per_column[column] = {
                "score": float(metric["value"]), "method": match["method"],
                "drifted": failed.get(column, False),
            }  # fmt: skip
        elif metric["metric_name"].startswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    for column in vanished:
        per_column[column] = {"score": None, "method": "no values in the log", "drifted": True}
    features = {k: v for k, v in per_column.items() if k != PREDICTION}
    summary = {
        "rows_reference": len(reference),
        "rows_current": len(current),
        "drifted_share": float(np.mean([v["drifted"] for v in features.values()]))
        if features else share,
        "drifted_columns": sorted(k for k, v in features.items() if v["drifted"]),
        "prediction_drift": per_column.get(PREDICTION),
        "per_column": per_column,
        "not_compared": unused,
        "html": str(out_dir / "drift.html"),
    }  # fmt: skip
    (out_dir / "drift.json").write_text(json.dumps(summary, indent=2))
    return summary


def quality_report(
    current: pd.DataFrame, reference: pd.DataFrame, threshold: float, out_dir: Path
) -> dict[str, Any]:
    """Classification quality on labelled live rows against the reference's; quality.html/json.

    `current` and `reference` need `is_fraud` and `prediction`; without labels the report is
    skipped, and the summary says so.
    """
    labelled = current.dropna(subset=["is_fraud"]) if "is_fraud" in current else current.iloc[0:0]
    out_dir.mkdir(parents=True, exist_ok=True)
    if labelled.empty or labelled["is_fraud"].nunique() < 2:
        reason = "no labels" if labelled.empty else "labels hold a single class"
        summary: dict[str, Any] = {"status": f"skipped: {reason}", "rows_labelled": len(labelled)}
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
        "html": str(out_dir / "quality.html"),
    }
    (out_dir / "quality.json").write_text(json.dumps(summary, indent=2))
    return summary


def _typed(frame: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out
