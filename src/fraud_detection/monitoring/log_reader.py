"""Read a time window of the prediction log (and delayed labels) into a frame.

Corrupt or partial records (bad JSON, missing keys, wrong types) are skipped and counted, so
one torn line cannot stop monitoring; the count is reported with the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

REQUIRED = {"scored_at": str, "fraud_probability": float, "model_version": str, "features": dict}


@dataclass(frozen=True)
class LogWindow:
    frame: pd.DataFrame  # one row per record: the features, fraud_probability, meta columns
    skipped: int
    files: int


def read_window(log_dir: Path, start: datetime, end: datetime) -> LogWindow:
    """Records with `start <= scored_at < end` from `date=YYYY-MM-DD/*.jsonl` partitions."""
    rows: list[dict[str, Any]] = []
    skipped = files = 0
    for path in _partitions(log_dir, start, end):
        files += 1
        with path.open(errors="replace") as handle:
            for line in handle:
                record = _parse(line)
                if record is None:
                    skipped += 1
                    continue
                scored_at = datetime.fromisoformat(record["scored_at"])
                if start <= scored_at < end:
                    rows.append({**record["features"], **_meta(record, scored_at)})
    return LogWindow(pd.DataFrame(rows), skipped, files)


def read_labels(labels_dir: Path) -> pd.DataFrame:
    """Delayed ground truth from `*.jsonl` (bad lines skipped): `transaction_id`, `is_fraud`,
    and `label_available_at` (when the label became known; NaT where a line does not say)."""
    rows = []
    for path in sorted(labels_dir.glob("*.jsonl")) if labels_dir.exists() else []:
        for line in path.open(errors="replace"):
            try:
                item = json.loads(line)
                rows.append({"transaction_id": str(item["transaction_id"]),
                             "is_fraud": int(item["is_fraud"]),
                             "label_available_at": item.get("label_available_at")})  # fmt: skip
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                continue
    frame = pd.DataFrame(rows, columns=["transaction_id", "is_fraud", "label_available_at"])
    frame["label_available_at"] = pd.to_datetime(
        frame["label_available_at"], utc=True, errors="coerce"
    )
    return frame


def _partitions(log_dir: Path, start: datetime, end: datetime) -> list[Path]:
    days = {(start + timedelta(days=i)).strftime("%Y-%m-%d")
            for i in range((end.date() - start.date()).days + 1)}  # fmt: skip
    return sorted(p for d in days for p in (log_dir / f"date={d}").glob("*.jsonl"))


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    for key, kind in REQUIRED.items():
        value = record.get(key)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            continue
        if not isinstance(value, kind):
            return None
    try:
        datetime.fromisoformat(record["scored_at"])
    except ValueError:
        return None
    return record


def _meta(record: dict[str, Any], scored_at: datetime) -> dict[str, Any]:
    return {
        "prediction": float(record["fraud_probability"]),
        "model_version": record["model_version"],
        "transaction_id": None if record.get("transaction_id") is None
        else str(record["transaction_id"]),
        "customer_id": record.get("customer_id"),
        "scored_at": scored_at,
    }  # fmt: skip
