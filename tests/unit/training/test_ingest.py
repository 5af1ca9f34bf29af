"""The ingest step: the contract, then the distribution against production's reference snapshot
(skipped, with the reason, until there is a production model); a departure writes nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from fraud_detection.config import DataSettings, IngestSettings
from fraud_detection.data.generate import generate
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import DataDistributionError
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REFERENCE_FILE
from fraud_detection.training import data_steps

DATA = DataSettings(n_customers=400, days=40, end=date(2026, 3, 2))


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return generate(DATA).transactions


def registry_with_production(root: Path, reference: pd.DataFrame | None) -> ModelRegistry:
    """A registry whose production version keeps `reference` (None: no reference file)."""
    registry = ModelRegistry(root / "registry", "fraud-detector")
    model_file = root / "model.joblib"
    model_file.write_bytes(b"the step never loads the model")
    extra = (
        {}
        if reference is None
        else {REFERENCE_FILE: write_parquet(reference, root / "ref.parquet")}
    )
    registered = registry.register(model_file, {"threshold": 0.5}, extra)
    registry.promote(registered.version, reason="test")
    return registry


def ingest(frame: pd.DataFrame, registry: ModelRegistry, tmp_path: Path) -> dict[str, object]:
    raw = write_parquet(frame, tmp_path / "raw.parquet")
    return data_steps.ingest(raw, registry, IngestSettings(), tmp_path / "validated.parquet")


def test_without_production_the_checks_are_skipped_with_the_reason(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    summary = ingest(transactions.assign(amount=42.0), registry, tmp_path)
    assert summary["distribution"] == {
        "status": "skipped",
        "reason": "no production model of fraud-detector yet, so no reference to compare with",
    }
    assert (tmp_path / "validated.parquet").exists()


def test_a_production_without_reference_rows_skips_the_checks(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    registry = registry_with_production(tmp_path, reference=None)
    checked = ingest(transactions, registry, tmp_path)["distribution"]
    assert isinstance(checked, dict) and checked["status"] == "skipped"
    assert "keeps no reference rows (reference.parquet)" in checked["reason"]


def test_data_like_productions_passes_and_records_what_it_was_compared_with(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    reference = generate(DATA.model_copy(update={"seed": 8})).transactions.tail(5_000)
    registry = registry_with_production(tmp_path, reference)
    checked = ingest(transactions, registry, tmp_path)["distribution"]
    version = registry.require_production().version
    assert isinstance(checked, dict)
    assert (checked["status"], checked["problems"]) == ("passed", [])
    assert checked["reference"] == f"production fraud-detector {version}"
    assert (tmp_path / "validated.parquet").exists()


def test_a_constant_column_stops_ingestion_before_anything_is_written(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    registry = registry_with_production(tmp_path, transactions.tail(5_000))
    with pytest.raises(DataDistributionError) as failure:
        ingest(transactions.assign(amount=42.0), registry, tmp_path)
    (problem,) = failure.value.problems
    assert problem.startswith("amount: constant: standard deviation 0, reference ")
    assert str(tmp_path / "raw.parquet") in str(failure.value)
    assert not (tmp_path / "validated.parquet").exists()


def test_the_data_steps_never_import_scikit_learn() -> None:
    """Each pipeline step is a process of its own: ingest and the training set, which fit no
    model, must not pay scikit-learn's import (about 2 s a process), nor SciPy's."""
    imports = (
        "import sys, fraud_detection.training.data_steps, fraud_detection.pipeline.parameters; "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", imports], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
