"""`make backtest`: the rolling backtest of the workspace's history
(`fraud_detection.training.backtest`), on the training set the pipeline would build."""

from __future__ import annotations

from collections.abc import Callable

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.jobs.prepare import prepare_data, prepare_features
from fraud_detection.training.backtest import DEFAULT_WINDOWS, Backtest, rolling_backtest
from fraud_detection.training.split import after_warmup


def from_workspace(
    settings: Settings, windows: int = DEFAULT_WINDOWS, step_days: float | None = None,
    holdout_days: int | None = None, progress: Callable[[str], None] = print,
) -> Backtest:  # fmt: skip
    """The backtest of the workspace's history, on the training set the pipeline would build:
    the data and features stages (skipped when unchanged), then Feast's point-in-time join of
    the feature service, then `rolling_backtest`.

    Args:
        holdout_days: Each window's holdout, instead of `settings.training.holdout_days`.
    """
    from fraud_detection.features import store as feature_store  # Feast is slow to import

    prepare_data(settings)
    prepare_features(settings, progress=progress)
    transactions = load_transactions(settings.paths.transactions)
    store = feature_store.open_store(settings.paths.feature_repo)
    looked_up = feature_store.service_features(store, settings.feature_service)
    params = settings.training
    progress(f"point-in-time training set of {len(transactions):,} transactions")
    frame = feature_store.training_frame(store, settings.feature_service, transactions)
    # After the join: the warm-up's transactions count in the later rows' velocity windows.
    frame = after_warmup(frame, params.feature_warmup_days)
    if holdout_days is not None:
        params = params.model_copy(update={"holdout_days": holdout_days})
    progress(f"{windows} windows: fitting one model each")
    return rolling_backtest(frame, looked_up, params, settings.gate.target_fpr, windows, step_days)
