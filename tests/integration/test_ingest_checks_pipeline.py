"""The pipeline's ingest step, through kfp.local, finds production's reference from the workspace
and the identity, and stops the run on data the contract lets through but the reference does not.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from fraud_detection.config import Settings
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import FraudDetectionError
from fraud_detection.jobs.prepare import prepare_data
from fraud_detection.pipeline import local_run
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REFERENCE_FILE

pytestmark = pytest.mark.integration


def test_a_constant_column_stops_the_run_at_ingestion_and_registers_nothing(
    new_workspace: Callable[..., Settings],
) -> None:
    settings = new_workspace()
    prepare_data(settings)
    transactions = pd.read_parquet(settings.paths.transactions)
    # A production version whose reference is this history's newest rows: the step reads the
    # reference alone, never the model.
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    model_file = settings.paths.root / "model.joblib"
    model_file.write_bytes(b"production model")
    reference = write_parquet(transactions.tail(5_000), settings.paths.root / REFERENCE_FILE)
    production = registry.register(model_file, {"threshold": 0.5}, {REFERENCE_FILE: reference})
    registry.promote(production.version, reason="test")
    write_parquet(transactions.assign(amount=42.0), settings.paths.transactions)

    with pytest.raises(FraudDetectionError) as failure:
        local_run.run(settings, report=lambda _: None)

    message = str(failure.value)
    assert "ingest-data" in message
    departs = f"{settings.paths.transactions} departs from the reference of production"
    assert f"DataDistributionError: {departs} {settings.model_name} {production.version}" in message
    assert "- amount: constant: standard deviation 0, reference " in message
    assert [v.version for v in registry.versions()] == [production.version]
    assert registry.require_production().version == production.version
