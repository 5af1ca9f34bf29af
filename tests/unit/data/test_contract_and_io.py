"""The data contract names every violation; reads and writes fail or succeed cleanly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import DataSettings
from fraud_detection.data.contract import validate_customers, validate_transactions
from fraud_detection.data.generate import generate
from fraud_detection.data.io import load_transactions, read_parquet, write_parquet
from fraud_detection.errors import DataContractError, DataError

SMALL = DataSettings(n_customers=80, days=20, end=date(2026, 1, 1))


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return generate(SMALL).transactions


def violations(frame: pd.DataFrame, **kwargs: bool) -> list[str]:
    with pytest.raises(DataContractError) as failure:
        validate_transactions(frame, source="t.parquet", **kwargs)
    assert "t.parquet" in str(failure.value)
    return failure.value.violations


def test_generated_data_satisfies_the_contract_with_canonical_dtypes(
    transactions: pd.DataFrame,
) -> None:
    valid = validate_transactions(transactions)
    assert str(valid["event_timestamp"].dt.tz) == "UTC"
    assert valid["amount"].dtype == "float64"
    assert valid["is_fraud"].dtype == "int64"
    validate_customers(generate(SMALL).customers)


def test_missing_column_is_named(transactions: pd.DataFrame) -> None:
    assert violations(transactions.drop(columns=["amount"])) == ["missing columns: amount"]


def test_wrong_type_is_named(transactions: pd.DataFrame) -> None:
    (problem,) = violations(transactions.assign(amount=transactions["amount"].astype(str)))
    assert problem.startswith("amount: expected float")


@pytest.mark.parametrize(
    "non_strings",
    [
        pytest.param(lambda s: s.where(s.index != 3, 7), id="one-int-among-strings"),
        pytest.param(lambda s: s.map(lambda v: v.encode()), id="bytes"),
        pytest.param(lambda s: pd.Series(pd.Categorical(s.factorize()[0])), id="int-categories"),
    ],
)
def test_a_text_column_with_non_strings_is_refused(
    transactions: pd.DataFrame, non_strings: Callable[[pd.Series], pd.Series]
) -> None:
    merchants = non_strings(transactions["merchant_category"].astype(object))
    (problem,) = violations(transactions.assign(merchant_category=merchants))
    assert problem.startswith("merchant_category: expected category, found dtype")


def test_a_categorical_of_strings_is_accepted(transactions: pd.DataFrame) -> None:
    categorical = transactions.assign(
        merchant_category=transactions["merchant_category"].astype("category")
    )
    valid = validate_transactions(categorical)
    assert valid["merchant_category"].tolist() == transactions["merchant_category"].tolist()


@pytest.mark.parametrize(("column", "value"), [("amount", -1.0), ("is_fraud", 2)])
def test_out_of_range_values_are_named(
    transactions: pd.DataFrame, column: str, value: float
) -> None:
    frame = transactions.copy()
    frame.loc[0, column] = value
    (problem,) = violations(frame)
    assert problem.startswith(f"{column}: 1 values outside")


def test_too_many_nulls_are_refused(transactions: pd.DataFrame) -> None:
    frame = transactions.copy()
    frame.loc[: len(frame) // 10, "distance_from_home_km"] = np.nan  # 10% > 2% allowed
    (problem,) = violations(frame)
    assert "distance_from_home_km" in problem and "null" in problem


def test_nulls_where_none_are_allowed_are_refused(transactions: pd.DataFrame) -> None:
    frame = transactions.copy()
    frame.loc[3, "customer_id"] = None
    assert any("customer_id" in v and "none allowed" in v for v in violations(frame))


def test_unknown_category_and_duplicate_ids_are_listed_together(
    transactions: pd.DataFrame,
) -> None:
    frame = transactions.copy()
    frame.loc[0, "merchant_category"] = "casino"
    frame.loc[1, "transaction_id"] = frame.loc[2, "transaction_id"]
    found = violations(frame)
    assert len(found) == 2
    assert any("merchant_category: unknown values 'casino'" in v for v in found)
    assert any("transaction_id: 1 duplicate values" in v for v in found)


def test_empty_dataset_is_refused(transactions: pd.DataFrame) -> None:
    assert violations(transactions.iloc[0:0]) == ["the dataset has no rows"]


def test_label_is_optional_for_unlabelled_traffic(transactions: pd.DataFrame) -> None:
    valid = validate_transactions(transactions.drop(columns=["is_fraud"]), include_label=False)
    assert "is_fraud" not in valid.columns


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file not found: .*nothing\.parquet"):
        read_parquet(tmp_path / "nothing.parquet")


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"cannot read .*corrupt\.parquet as Parquet"):
        read_parquet(corrupt)


def test_load_enforces_the_contract(tmp_path: Path, transactions: pd.DataFrame) -> None:
    path = write_parquet(transactions.assign(amount=-transactions["amount"]), tmp_path / "t.pq")
    with pytest.raises(DataContractError, match="amount"):
        load_transactions(path)


def test_write_is_atomic_and_replaces(tmp_path: Path, transactions: pd.DataFrame) -> None:
    target = tmp_path / "out" / "t.parquet"
    write_parquet(transactions.head(5), target)
    write_parquet(transactions.head(7), target)
    assert len(pd.read_parquet(target)) == 7
    assert [p.name for p in target.parent.iterdir()] == ["t.parquet"]
