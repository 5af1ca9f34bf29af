"""Fault injection in monitoring: a prediction log with corrupt and torn records.

The reader's count of skipped records is proved in tests/unit/monitoring/test_monitoring.py;
this proves the whole job judges the sound records anyway and reports the count in every output.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fraud_detection.config import Settings
from fraud_detection.monitoring.job import run_monitor
from fraud_detection.registry import ModelRegistry

pytestmark = pytest.mark.integration

SOUND_ROWS = 600


def test_monitor_skips_corrupt_records_counts_them_and_still_judges_the_rest(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    """A day of prediction log holding sound records (the production reference, so no drift)
    plus garbage: bad JSON, a JSON array, a record without features, a probability given as
    text, undecodable bytes, a file of nothing but garbage, and a last line torn mid-record.
    Each bad line is skipped and counted; the verdict is reached on the sound rows and the
    count is in the result, verdict.json and metrics.prom."""
    root = tmp_path / "workspace"
    shutil.copytree(trained_workspace.paths.root, root)
    settings = trained_workspace.model_copy(update={"workspace": root})
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    model = production.load()
    reference = pd.read_parquet(production.path / "reference.parquet")
    raw = reference.sample(SOUND_ROWS, random_state=0)
    inputs = model.inputs(raw)
    features = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
    end = datetime.now(UTC)
    scored_at = (end - timedelta(hours=1)).isoformat()
    sound = [
        json.dumps({
            "transaction_id": f"t{i}", "scored_at": scored_at, "model_version": production.version,
            "fraud_probability": float(p), "features": row,
        }, default=str)
        for i, (row, p) in enumerate(zip(features, raw["prediction"], strict=True))
    ]  # fmt: skip
    bad = [
        "{not json",
        "[1, 2, 3]",
        json.dumps({"scored_at": scored_at, "fraud_probability": 0.1, "model_version": "v"}),
        json.dumps({"scored_at": scored_at, "fraud_probability": "0.1", "features": {}}),
    ]
    day = settings.paths.root / "log" / f"date={end - timedelta(hours=1):%Y-%m-%d}"
    day.mkdir(parents=True)
    torn = sound[-1][: len(sound[-1]) // 2]
    lines = [*sound[:300], *bad, *sound[300:-1]]
    (day / "v-1.jsonl").write_bytes(
        "\n".join(lines).encode() + b"\n" + bytes(range(128, 256)) + b"\n" + torn.encode()
    )
    (day / "v-2.jsonl").write_bytes(b"\x00\xff garbage \x80\x81")
    skipped = len(bad) + 3  # the undecodable line, the garbage file, the torn line

    result = run_monitor(settings, end=end, log_dir=settings.paths.root / "log")

    assert result.verdict.skipped_records == skipped
    assert result.verdict.rows == SOUND_ROWS - 1
    assert result.verdict.status == "ok", result.verdict.reasons
    verdict = json.loads((result.out_dir / "verdict.json").read_text())
    assert verdict["skipped_records"] == skipped and verdict["rows"] == SOUND_ROWS - 1
    metrics = (result.out_dir / "metrics.prom").read_text().splitlines()
    assert f"fraud_monitor_skipped_records {skipped}" in metrics
