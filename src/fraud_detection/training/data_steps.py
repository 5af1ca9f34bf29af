"""The training pipeline's first two steps, over data alone: ingest and the training set.

They sit apart from `fraud_detection.training.steps` so that their processes (one per step
under kfp.local and on the cluster) never import scikit-learn, which takes about 2 s a process
and which neither step uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fraud_detection.config import IngestSettings
from fraud_detection.data import distribution
from fraud_detection.data.contract import LABEL
from fraud_detection.data.io import load_transactions, read_parquet, write_parquet
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REFERENCE_FILE
from fraud_detection.training.split import after_warmup, require_both_classes


def ingest(
    transactions_path: Path, registry: ModelRegistry, checks: IngestSettings, out_path: Path
) -> dict[str, Any]:
    """Validate raw transactions against the contract, then their distribution against
    production's reference snapshot (`data.distribution`), and keep the validated copy.

    Raises:
        DataContractError: values break the contract.
        DataDistributionError: the distribution departs from production's reference (a constant
            column, a vanished category, a collapsed label rate, a jump in nulls); nothing is
            written, so nothing downstream runs on it.
    """
    frame = load_transactions(transactions_path)
    require_both_classes(frame, f"{transactions_path}")
    checked = _check_distribution(frame, registry, checks, str(transactions_path))
    write_parquet(frame, out_path)
    return {
        "rows": len(frame),
        "fraud_rate": float(frame[LABEL].mean()),
        "window_start": str(frame["event_timestamp"].min()),
        "window_end": str(frame["event_timestamp"].max()),
        "distribution": checked,
    }


def _check_distribution(
    frame: pd.DataFrame, registry: ModelRegistry, checks: IngestSettings, source: str
) -> dict[str, Any]:
    """The distribution checks' summary; skipped, with the reason, when nothing is there to
    compare with."""
    production = registry.production()
    if production is None:
        reason = f"no production model of {registry.name} yet, so no reference to compare with"
        return {"status": "skipped", "reason": reason}
    reference_file = production.path / REFERENCE_FILE
    reference = read_parquet(reference_file) if reference_file.exists() else None
    if reference is None or reference.empty:
        reason = f"production {production.version} keeps no reference rows ({REFERENCE_FILE})"
        return {"status": "skipped", "reason": reason}
    name = f"production {registry.name} {production.version}"
    comparison = distribution.compare(frame, reference, checks, name)
    comparison.raise_for_problems(source)
    return comparison.summary()


def build_training_set(
    validated_path: Path, feature_repo: Path, feature_service: str, out_path: Path,
    warmup_days: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """Join each transaction with its point-in-time features from Feast, then leave the
    feature warm-up out (`split.after_warmup`): after the join, since a card's velocity
    features are computed from the transactions joined, the warm-up's among them."""
    from fraud_detection.features.feast_import import import_for_reading

    import_for_reading()  # the step only reads the applied registry
    from fraud_detection.features import store as feature_store  # Feast is slow to import

    transactions = read_parquet(validated_path)
    store = feature_store.open_store(feature_repo)
    looked_up = feature_store.service_features(store, feature_service)
    frame = feature_store.training_frame(store, feature_service, transactions)
    frame = after_warmup(frame, warmup_days)
    write_parquet(frame, out_path)
    missing = {name: float(frame[name].isna().mean()) for name in looked_up}
    return {"rows": len(frame), "features": list(looked_up), "missing_share": missing}
