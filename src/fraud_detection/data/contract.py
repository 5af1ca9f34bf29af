"""The transaction data contract: the one place that says what a valid transaction table is.

Every reader of raw transactions (feature jobs, the training pipeline, monitoring) goes through
`validate_transactions`, so bad data stops at ingestion with every violation listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fraud_detection.errors import DataContractError

ColumnKind = Literal["int", "float", "bool", "string", "timestamp", "category"]

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "online_retail",
    "electronics",
    "travel",
    "entertainment",
    "gift_cards",
)


@dataclass(frozen=True)
class Column:
    """One column's type, range, allowed values and null policy."""

    name: str
    kind: ColumnKind
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    max_null_fraction: float = 0.0
    unique: bool = False
    description: str = ""
    # An optional column may be absent (older files); when present it is checked and kept.
    required: bool = True


TRANSACTION_COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", "string", unique=True, description="Unique transaction id."),
    Column("customer_id", "int", min=0, description="Card holder; the Feast entity key."),
    Column("event_timestamp", "timestamp", description="When the card was used (UTC)."),
    Column("amount", "float", min=0.0, max=50_000.0, description="Amount in account currency."),
    Column("merchant_category", "category", allowed=MERCHANT_CATEGORIES),
    Column(
        "distance_from_home_km",
        "float",
        min=0.0,
        max=20_037.5,  # half the Earth's circumference
        max_null_fraction=0.02,
        description="Distance from the card holder's home; null when the location is unknown.",
    ),
    Column("card_present", "bool", description="Chip or swipe (true) or card-not-present."),
    Column("is_fraud", "int", min=0, max=1, description="Label: 1 for confirmed fraud."),
    Column(
        "label_available_at",
        "timestamp",
        required=False,
        description="When the label became known (UTC): the chargeback's arrival for fraud, the "
        "end of the maturity period for legitimate transactions; never before event_timestamp. "
        "Training reads only the labels known at its cutoff (`training.split`). Optional: "
        "files without it are read as labelled at once.",
    ),
)

LABEL = "is_fraud"
LABEL_AVAILABLE_AT = "label_available_at"
# The label and when it arrived: what scoring requests and unlabelled logs leave out.
LABEL_COLUMNS: tuple[str, ...] = (LABEL, LABEL_AVAILABLE_AT)

CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "int", min=0, unique=True),
    Column("event_timestamp", "timestamp", description="When this profile snapshot was taken."),
    Column("account_age_days", "int", min=0, max=36_500),
    Column("credit_limit", "float", min=0.0, max=1_000_000.0),
)


def contract_columns(include_label: bool = True) -> tuple[Column, ...]:
    """The contract's columns; scoring requests and unlabelled logs leave out the label and
    its arrival time."""
    return tuple(c for c in TRANSACTION_COLUMNS if include_label or c.name not in LABEL_COLUMNS)


def validate_transactions(
    frame: pd.DataFrame, source: str = "transactions", include_label: bool = True
) -> pd.DataFrame:
    """Check `frame` against the contract and return it with canonical dtypes.

    Args:
        frame: Raw transactions.
        source: Name used in error messages (usually the file path).
        include_label: Whether the label column is required (and the label's arrival time
            kept when present).

    Returns:
        The contract's columns only (optional ones when present), in contract order, with
        canonical dtypes.

    Raises:
        DataContractError: listing every violation found.
    """
    valid = validate_table(frame, contract_columns(include_label), source)
    if LABEL_AVAILABLE_AT in valid.columns:
        early = int((valid[LABEL_AVAILABLE_AT] < valid["event_timestamp"]).sum())
        if early:
            raise DataContractError(
                source,
                [f"{LABEL_AVAILABLE_AT}: {early} labels known before their transaction happened "
                 "(label_available_at < event_timestamp)"],
            )  # fmt: skip
    return valid


def validate_customers(frame: pd.DataFrame, source: str = "customers") -> pd.DataFrame:
    """Check a customer-profile table against `CUSTOMER_COLUMNS`."""
    return validate_table(frame, CUSTOMER_COLUMNS, source)


def validate_table(frame: pd.DataFrame, columns: tuple[Column, ...], source: str) -> pd.DataFrame:
    """Check `frame` against `columns`, returning those columns with canonical dtypes."""
    violations: list[str] = []
    if frame.empty:
        raise DataContractError(source, ["the dataset has no rows"])
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        violations.append(f"missing columns: {', '.join(missing)}")
    columns = tuple(c for c in columns if c.name in frame.columns or c.required)
    for column in columns:
        if column.name in frame.columns:
            violations.extend(_check_column(frame[column.name], column))
    if violations:
        raise DataContractError(source, violations)
    return _canonical(frame, columns)


def _check_column(values: pd.Series, column: Column) -> list[str]:
    name, problems = column.name, []
    nulls = int(values.isna().sum())
    if nulls / len(values) > column.max_null_fraction:
        allowed = (
            f"at most {column.max_null_fraction:.1%} allowed"
            if column.max_null_fraction
            else "none allowed"
        )
        problems.append(f"{name}: {nulls} null values ({nulls / len(values):.1%}; {allowed})")
    present = values.dropna()
    type_problem = _type_problem(present, column)
    if type_problem:
        return [*problems, f"{name}: {type_problem}"]
    if column.min is not None or column.max is not None:
        numeric = present.astype("float64")
        low = column.min if column.min is not None else -np.inf
        high = column.max if column.max is not None else np.inf
        outside = numeric[~numeric.between(low, high)]
        if len(outside):
            problems.append(
                f"{name}: {len(outside)} values outside [{low}, {high}] "
                f"(e.g. {_examples(outside.tolist())})"
            )
    if column.allowed is not None:
        unknown = sorted(set(present.astype(str)) - set(column.allowed))
        if unknown:
            problems.append(
                f"{name}: unknown values {_examples(unknown)}; allowed: {', '.join(column.allowed)}"
            )
    if column.unique and present.duplicated().any():
        problems.append(f"{name}: {int(present.duplicated().sum())} duplicate values")
    return problems


def _type_problem(values: pd.Series, column: Column) -> str | None:
    dtype = values.dtype
    expected = {
        "int": pd.api.types.is_integer_dtype,
        "float": lambda d: pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d),
        "bool": pd.api.types.is_bool_dtype,
        "timestamp": pd.api.types.is_datetime64_any_dtype,
    }
    if column.kind in ("string", "category"):
        matches = _all_strings(values)
    else:
        matches = bool(expected[column.kind](dtype))
    return None if matches else f"expected {column.kind}, found dtype {dtype}"


def _all_strings(values: pd.Series) -> bool:
    """Whether every (non-null) value is a `str`: pandas' C type inference, so a million rows
    take a fraction of a second; a categorical is judged by its categories."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = pd.Series(values.cat.categories)
    elif not pd.api.types.is_string_dtype(values.dtype):
        return False
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _canonical(frame: pd.DataFrame, columns: Iterable[Column]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column.name]
        if column.kind == "timestamp":
            values = pd.to_datetime(values, utc=True)
        elif column.kind == "int":
            values = values.astype("int64")
        elif column.kind == "float":
            values = values.astype("float64")
        elif column.kind in ("string", "category"):
            values = values.astype(str)
        out[column.name] = values
    return out.reset_index(drop=True)


def _examples(values: list[object], limit: int = 3) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")
