"""Bad input through the command line: a clear message, exit status 2, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fraud_detection.config import Settings
from fraud_detection.loop import prepare_data

pytestmark = pytest.mark.integration


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraud_detection", "--workspace", str(settings.workspace), *args],
        capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "FRAUD_DATA__N_CUSTOMERS": "200", "COLUMNS": "200"},
    )  # fmt: skip


@pytest.fixture
def with_data(new_workspace: Callable[..., Settings]) -> Settings:
    settings = new_workspace(n_customers=200)
    prepare_data(settings)
    return settings


def test_features_without_data_names_the_missing_file(
    new_workspace: Callable[..., Settings],
) -> None:
    result = cli(new_workspace(), "features")
    assert result.returncode == 2
    assert "data file not found" in result.stdout and "make data" in result.stdout


def test_corrupt_data_file(with_data: Settings) -> None:
    with_data.paths.transactions.write_bytes(b"PAR1 this is not parquet")
    result = cli(with_data, "features")
    assert result.returncode == 2
    assert "cannot read" in result.stdout and "transactions.parquet" in result.stdout


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda f: f.drop(columns=["amount"]), "missing columns: amount"),
        (lambda f: f.assign(amount=f["amount"].astype(str)), "amount: expected float"),
        (lambda f: f.assign(amount=-f["amount"]), "amount: "),
        (lambda f: f.assign(merchant_category="casino"), "unknown values 'casino'"),
        (lambda f: f.assign(customer_id=None), "customer_id: "),
        (lambda f: f.iloc[0:0], "the dataset has no rows"),
    ],
    ids=["missing-column", "wrong-type", "out-of-range", "unknown-category", "nulls", "empty"],
)
def test_contract_violations_stop_the_feature_job(
    with_data: Settings, corrupt: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    path: Path = with_data.paths.transactions
    corrupt(pd.read_parquet(path)).to_parquet(path)
    result = cli(with_data, "features")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "violates the transaction data contract" in result.stdout
    assert message in result.stdout
    assert not (with_data.paths.feature_tables / "customer_transaction_stats.parquet").exists()


def test_bad_drift_setting_is_refused(new_workspace: Callable[..., Settings]) -> None:
    result = cli(new_workspace(), "generate", "--drift", "amount_scale=big")
    assert result.returncode == 2
    assert "'big' is not a number" in result.stdout
