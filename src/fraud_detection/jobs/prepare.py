"""The first two stages of the embedded loop, jobs of their own (`fraud-detection generate`,
`fraud-detection features`): each safe to re-run and skipped when its inputs did not change.

Every stage records a small stamp (what it was built from) next to its output; a stage whose
stamp matches its current inputs reports "unchanged" instead of redoing the work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraud_detection import fingerprint
from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec, generate
from fraud_detection.data.io import load_customers, load_transactions, read_parquet, write_parquet


@dataclass
class StageResult:
    name: str
    skipped: bool
    details: dict[str, Any] = field(default_factory=dict)


def customers_path(settings: Settings) -> Path:
    return settings.paths.transactions.with_name("customers.parquet")


def prepare_data(
    settings: Settings, drift: DriftSpec | None = None, force: bool = False
) -> StageResult:
    """Generate the synthetic history unless the same settings already produced it."""
    drift = drift or DriftSpec()
    transactions = settings.paths.transactions
    inputs = {"data": settings.data.model_dump(mode="json"), "drift": drift.__dict__,
              "end": settings.data.end_timestamp().isoformat()}  # fmt: skip
    stamp = transactions.with_name("_generated.json")
    if not force and transactions.exists() and _stamp_matches(stamp, inputs):
        return StageResult("data", skipped=True, details={"path": str(transactions)})
    data = generate(settings.data, drift)
    write_parquet(data.transactions, transactions)
    write_parquet(data.customers, customers_path(settings))
    _write_stamp(stamp, inputs)
    return StageResult(
        "data",
        skipped=False,
        details={
            "path": str(transactions),
            "rows": len(data.transactions),
            "fraud_rate": round(float(data.transactions["is_fraud"].mean()), 4),
        },
    )


def prepare_features(settings: Settings, progress: Callable[[str], None] = print) -> StageResult:
    """Build the feature tables (if the data changed), `feast apply`, and load the online store
    with the values as of the data's end."""
    from fraud_detection.features import store as feature_store  # Feast is slow to import

    paths = settings.paths
    inputs = {"data": fingerprint.of_files(paths.transactions, customers_path(settings))}
    stamp = paths.feature_tables / "_built.json"
    skipped = _stamp_matches(stamp, inputs)
    if skipped:  # unchanged since it was validated: read it for the card events only
        transactions = read_parquet(paths.transactions)
    else:
        progress("validating data against the contract and building feature tables")
        transactions = load_transactions(paths.transactions)
        customers = load_customers(customers_path(settings))
        feature_store.build_feature_tables(transactions, customers, paths.feature_tables)
    progress("feast apply")
    store = feature_store.apply(paths.feature_repo)
    end = settings.data.end_timestamp()
    progress(f"feast materialize: online values as of {end:%Y-%m-%d %H:%M} UTC (the data's end)")
    feature_store.materialize_window(store, end)
    recorded = feature_store.backfill_card_events(store, transactions, end, replace=not skipped)
    progress(f"card events: {recorded:,} transactions of the last 30 days recorded")
    if not skipped:  # stamped last: a failed step above is redone on the next run
        _write_stamp(stamp, inputs)
    return StageResult("features", skipped=skipped, details={"tables": str(paths.feature_tables)})


def backfill_card_events(settings: Settings, config_file: Path) -> StageResult:
    """Record the history's last 30 days in the card events beside the online store that
    `config_file` configures (the cluster's Redis: serving there starts from them). It only
    adds, so running it again never drops an event serving recorded."""
    from fraud_detection.features import store as feature_store  # Feast is slow to import

    store = feature_store.open_store(settings.paths.feature_repo, config_file)
    transactions = load_transactions(settings.paths.transactions)
    recorded = feature_store.backfill_card_events(
        store, transactions, settings.data.end_timestamp()
    )
    return StageResult("card events", skipped=False, details={"recorded": recorded})


def _stamp_matches(stamp: Path, inputs: dict[str, Any]) -> bool:
    if not stamp.exists():
        return False
    try:
        return bool(json.loads(stamp.read_text()).get("inputs") == fingerprint.of_value(inputs))
    except (OSError, json.JSONDecodeError):
        return False


def _write_stamp(stamp: Path, inputs: dict[str, Any], **extra: Any) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"inputs": fingerprint.of_value(inputs), **extra}, indent=2))
