"""Monitoring on real Evidently reports: reading the log, drift, quality, and the verdict."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import DataSettings, MonitorSettings
from fraud_detection.data.generate import DriftSpec, generate
from fraud_detection.errors import MonitoringError
from fraud_detection.features.aggregates import customer_transaction_stats
from fraud_detection.features.derived import model_frame
from fraud_detection.monitoring.checks import CheckLimits, Judgement, Reference, judge
from fraud_detection.monitoring.log_reader import read_labels, read_window
from fraud_detection.monitoring.reports import drift_report, quality_report
from fraud_detection.monitoring.verdict import decide

LOOKED_UP = ("txn_count_24h", "amount_mean_30d")
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SCORED_AT = (NOW - timedelta(minutes=5)).isoformat()
LIMITS = MonitorSettings(min_rows=100, max_drifted_share=0.3, max_pr_auc_drop=0.1)


def inputs(drift: DriftSpec | None = None, seed: int = 7) -> pd.DataFrame:
    settings = DataSettings(n_customers=150, days=10, end=date(2026, 1, 1), seed=seed)
    frame = generate(settings, drift).transactions
    stats = customer_transaction_stats(frame)
    joined = frame.merge(stats, on=["customer_id", "event_timestamp"], how="left")
    out = model_frame(joined, LOOKED_UP)
    rng = np.random.default_rng(seed)
    prediction = np.clip(0.02 + 0.8 * frame["is_fraud"] + rng.normal(0, 0.05, len(frame)), 0, 1)
    return out.assign(prediction=prediction, is_fraud=frame["is_fraud"],
                      transaction_id=frame["transaction_id"])  # fmt: skip


def write_log(directory: Path, frame: pd.DataFrame, extra_lines: tuple[str, ...] = ()) -> None:
    features = [c for c in frame.columns if c not in ("prediction", "is_fraud", "transaction_id")]
    lines = [
        json.dumps({
            "request_id": f"r{i}", "transaction_id": row["transaction_id"], "customer_id": 1,
            "event_timestamp": NOW.isoformat(), "scored_at": SCORED_AT,
            "model_version": "v1", "fraud_probability": float(row["prediction"]),
            "is_fraud": False, "degraded": False,
            "features": {k: (None if pd.isna(row[k]) else row[k]) for k in features},
        }, default=str)
        for i, row in enumerate(frame.to_dict(orient="records"))
    ]  # fmt: skip
    partition = directory / f"date={NOW:%Y-%m-%d}"
    partition.mkdir(parents=True)
    (partition / "v1-1.jsonl").write_text("\n".join([*lines, *extra_lines]) + "\n")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return inputs()


def columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("prediction", "is_fraud", "transaction_id")]


def judged(reference: pd.DataFrame, current: pd.DataFrame, **limits: int) -> Judgement:
    return judge(Reference.of(reference, columns(reference), 0.5), current, columns(reference),
                 CheckLimits(**limits))  # fmt: skip


def test_corrupt_and_partial_records_are_skipped_and_counted(tmp_path: Path) -> None:
    write_log(tmp_path, inputs(seed=8).head(50),
              ("{not json", '{"scored_at": "2026-01-01T11:00:00+00:00"}', "[1, 2]",
               '{"scored_at": "yesterday", "fraud_probability": 0.1, "model_version": "v",'
               ' "features": {}}'))  # fmt: skip
    window = read_window(tmp_path, NOW - timedelta(hours=1), NOW)
    assert len(window.frame) == 50 and window.skipped == 4 and window.files == 1


def test_records_outside_the_window_are_left_out(tmp_path: Path) -> None:
    write_log(tmp_path, inputs(seed=8).head(20))
    assert read_window(tmp_path, NOW - timedelta(minutes=1), NOW).frame.empty


def test_same_distribution_is_not_drift(tmp_path: Path) -> None:
    """Reference and window: two random halves of one population's traffic."""
    traffic = inputs(seed=8)
    reference = traffic.sample(frac=0.5, random_state=0)
    current = traffic.drop(index=reference.index)
    judgement = judged(reference, current)
    summary = drift_report(reference, current, columns(reference), 0.3, tmp_path, judgement)
    verdict = decide(len(current), 0, judgement, LIMITS)
    assert verdict.status == "ok", verdict.reasons
    assert summary["drifted_columns"] == [] and summary["prediction_drift"]["drifted"] is False
    assert "<html" in (tmp_path / "drift.html").read_text()[:2000].lower()
    assert json.loads((tmp_path / "drift.json").read_text())["rows_current"] == len(current)


def test_shifted_amounts_and_distances_are_drift(reference: pd.DataFrame, tmp_path: Path) -> None:
    current = inputs(DriftSpec(amount_scale=3, distance_scale=4, night_share=0.4), seed=8)
    judgement = judged(reference, current)
    summary = drift_report(reference, current, columns(reference), 0.3, tmp_path, judgement)
    verdict = decide(len(current), 0, judgement, LIMITS)
    assert verdict.status == "drift" and verdict.exit_code == 10 and verdict.retrain
    assert {"amount", "distance_from_home_km"} <= set(summary["drifted_columns"])
    per_column = summary["per_column"]["amount"]
    assert per_column["method"] == "Kolmogorov-Smirnov" and per_column["score"] < 1e-6


def test_too_few_rows_is_insufficient_data_not_an_error() -> None:
    verdict = decide(3, 0, None, LIMITS)
    assert verdict.status == "insufficient_data" and verdict.exit_code == 12
    assert not verdict.retrain


def test_missing_and_mistyped_columns_are_named(reference: pd.DataFrame, tmp_path: Path) -> None:
    current = inputs(seed=8)
    with pytest.raises(MonitoringError, match="lacks columns the model uses: amount"):
        drift_report(reference, current.drop(columns=["amount"]), columns(reference), 0.3, tmp_path)
    with pytest.raises(MonitoringError, match="another type: card_present"):
        drift_report(reference, current.assign(card_present="yes"), columns(reference), 0.3,
                     tmp_path)  # fmt: skip


def test_quality_is_evaluated_with_labels_and_skipped_without(
    reference: pd.DataFrame, tmp_path: Path
) -> None:
    current = inputs(seed=8)
    evaluated = quality_report(current, reference, 0.5, tmp_path / "with")
    assert evaluated["status"] == "evaluated" and evaluated["pr_auc"] > 0.9
    assert (tmp_path / "with" / "quality.html").exists()
    skipped = quality_report(current.drop(columns=["is_fraud"]), reference, 0.5, tmp_path / "no")
    assert skipped["status"] == "skipped: no labels"


def test_quality_loss_on_labelled_traffic_calls_for_retraining(
    reference: pd.DataFrame, tmp_path: Path
) -> None:
    current = inputs(seed=8)
    rng = np.random.default_rng(0)
    guessing = current.assign(prediction=rng.random(len(current)))
    judgement = judged(reference, guessing, min_fraud_labels=3)
    (check,) = judgement.of("quality")
    quality = quality_report(guessing, reference, 0.5, tmp_path, check)
    verdict = decide(len(current), 0, judgement, LIMITS)
    assert verdict.status == "quality" and verdict.exit_code == 11
    assert verdict.reasons[0].startswith("quality: PR-AUC drop")
    assert quality["check"]["status"] == "fail"


def test_labels_are_read_with_when_they_became_known(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"transaction_id": "t1", "is_fraud": 1, "label_available_at": "2026-01-02T00:00:00Z"}\n'
        '{"transaction_id": "t2", "is_fraud": 0}\n{not json\n'
    )
    labels = read_labels(tmp_path)
    assert labels["transaction_id"].tolist() == ["t1", "t2"]
    assert str(labels["label_available_at"].iloc[0]) == "2026-01-02 00:00:00+00:00"
    assert pd.isna(labels["label_available_at"].iloc[1])
