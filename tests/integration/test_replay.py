"""A day of live traffic replayed in time order through the real BentoML service: the features
the prediction log records are the offline point-in-time features of the same transactions.

The service records every scored transaction in the card event store, so each transaction's
velocity counts the day's earlier ones, as the offline builder counts them from the history.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import production_server

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.features import store as feature_store
from fraud_detection.features.velocity import VELOCITY_FEATURES, velocity_features
from fraud_detection.monitoring.traffic import fresh_transactions
from fraud_detection.rollout.traffic import Client, payloads


def _live_day(settings: Settings) -> pd.DataFrame:
    day = fresh_transactions(settings, DriftSpec(), 100_000, seed=5)
    # A stolen card: five uses within four minutes, in the middle of a day it is not otherwise
    # used (the history ends the day before).
    known = pd.read_parquet(settings.paths.transactions, columns=["customer_id"])["customer_id"]
    card = int(sorted(set(known) - set(day["customer_id"]))[0])
    start = day["event_timestamp"].iloc[len(day) // 2]
    burst = day.iloc[[0] * 5].assign(
        customer_id=card,
        event_timestamp=[start + pd.Timedelta(minutes=m) for m in range(5)],
        transaction_id=[f"burst-{i}" for i in range(5)],
    )
    return pd.concat([day, burst]).sort_values("event_timestamp", kind="stable", ignore_index=True)


def test_a_replayed_day_is_served_its_point_in_time_features(
    trained_workspace: Settings, tmp_path: Path
) -> None:
    # A copy, its card events rebuilt from the history alone: other tests of the shared
    # workspace record traffic of the same day there, and the replay records its own.
    settings = trained_workspace.model_copy(update={"workspace": tmp_path / "ws"})
    shutil.copytree(trained_workspace.paths.root, settings.paths.root, symlinks=True)
    history = pd.read_parquet(settings.paths.transactions)
    store = feature_store.open_store(settings.paths.feature_repo)
    end = settings.data.end_timestamp()
    feature_store.backfill_card_events(store, history, end, replace=True)
    day = _live_day(settings)
    with production_server(settings, tmp_path) as url:
        client = Client(url)
        try:
            for row in payloads(day):  # one request per transaction, in time order
                status, body, _ = client.score([row])
                assert status == 200, body
        finally:
            client.close()
    logged = pd.DataFrame(
        {"transaction_id": r["transaction_id"], **r["features"]}
        for path in sorted((tmp_path / "predictions").rglob("*.jsonl"))
        for r in map(json.loads, path.read_text().splitlines())
    ).set_index("transaction_id")
    everything = pd.concat([history, day], ignore_index=True)
    offline = velocity_features(everything).iloc[len(history) :].set_index(day["transaction_id"])

    served = logged.loc[offline.index, list(VELOCITY_FEATURES)].astype("float64")
    equal = np.isclose(served, offline, rtol=0, atol=1e-9, equal_nan=True).all(axis=1)
    assert len(day) > 300
    assert equal.mean() >= 0.995, served[~equal].join(offline[~equal], rsuffix="_offline")
    assert served.loc[[f"burst-{i}" for i in range(5)], "txn_count_1h"].tolist() == [0, 1, 2, 3, 4]
