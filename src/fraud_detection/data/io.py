"""Validated reads and atomic writes of the raw tables."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from fraud_detection.data.contract import validate_customers, validate_transactions
from fraud_detection.errors import DataError


def read_parquet(path: Path, hint: str = "") -> pd.DataFrame:
    """Read a Parquet file, turning a missing or corrupt file into a `DataError`."""
    if not path.exists():
        raise DataError(f"data file not found: {path}" + (f"; {hint}" if hint else ""))
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read {path} as Parquet ({type(exc).__name__}: {exc})") from exc


def load_transactions(path: Path, include_label: bool = True) -> pd.DataFrame:
    """Read raw transactions and enforce the data contract."""
    frame = read_parquet(path, hint="generate it with `make data`")
    return validate_transactions(frame, source=str(path), include_label=include_label)


def load_customers(path: Path) -> pd.DataFrame:
    return validate_customers(read_parquet(path, hint="generate it with `make data`"), str(path))


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
