"""The model the behavioural tests judge: trained once per session, the project's way, on a
small pinned history.

The training set is built with the project's feature functions: each transaction's velocity over
its card's earlier transactions, and the customer profile (a snapshot older than the history, so
the point-in-time join Feast performs reduces to a plain join); no feature store is needed.
`steps.train` fits the model, its calibrator and its cost-chosen threshold, and the tests get
the model loaded back from its file, as serving loads it.

A helper module rather than a conftest.py: mypy checks `tests/` without packages, where a
second conftest.py would clash with tests/integration/conftest.py.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's dependency

from fraud_detection.config import DataSettings, GateSettings, TrainingSettings
from fraud_detection.data.contract import LABEL_AVAILABLE_AT
from fraud_detection.data.generate import GeneratedData, generate
from fraud_detection.data.io import write_parquet
from fraud_detection.features.aggregates import PROFILE_FEATURES, customer_profile
from fraud_detection.features.velocity import VELOCITY_FEATURES, velocity_features
from fraud_detection.training import steps
from fraud_detection.training.model import FraudModel
from fraud_detection.training.split import Split, time_split

# The same pinned history end as the integration tests (FRAUD_DATA__END picks another day).
DATA_END = date.fromisoformat(os.environ.get("FRAUD_DATA__END") or "2026-03-02")
# 2,500 customers over 40 days: about 225k transactions, 0.25% of them reported fraud, in
# bursts; 20 days train, 10 validation (56k rows, 148 frauds on 43 cards: enough episodes to
# calibrate on), 10 holdout (56k rows, 170 frauds on 50 cards).
DATA = DataSettings(n_customers=2_500, days=40, end=DATA_END, seed=7)
# The production hyperparameters; only the split and the seed are pinned here.
PARAMS = TrainingSettings(holdout_days=10, validation_days=10, seed=7)
TARGET_FPR = 0.01
# The feature service's features, in its order (feature_repo/features.py: fraud_features_v2).
LOOKED_UP = (*VELOCITY_FEATURES, *PROFILE_FEATURES)


@dataclass(frozen=True)
class Trained:
    history: GeneratedData  # the generated transactions and customers
    split: Split  # the labelled training set, split as `steps.train` splits it
    model: FraudModel  # fitted on split.train, calibrated and thresholded on split.validation


def point_in_time_training_set(history: GeneratedData) -> pd.DataFrame:
    """Each transaction joined with the stored features that existed just before it.

    Args:
        history: Generated transactions and customer snapshot.

    Returns:
        One row per transaction with every input column plus `LOOKED_UP`, ordered as
        `features.store.training_frame` orders them.
    """
    # Every label taken as known at once (no arrival times, so the split leaves no label gap):
    # these tests judge the model's behaviour, not how late its labels arrive.
    transactions = history.transactions.drop(columns=[LABEL_AVAILABLE_AT], errors="ignore")
    joined = transactions.assign(**velocity_features(transactions))
    profile = customer_profile(history.customers).drop(columns="event_timestamp")
    joined = joined.merge(profile, on="customer_id", how="left")
    return joined.sort_values(["event_timestamp", "transaction_id"], ignore_index=True)


@contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Fit and score on one OpenMP thread, as the served model runs (`OMP_NUM_THREADS=1`, see
    serving/local_server.py): on a small shared machine OpenMP's spinning threads make a fit
    several times slower, and neither the fit nor the scores depend on the thread count."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@functools.cache
def train_once() -> Trained:
    """The pinned history and the model `steps.train` makes of it (built once per process)."""
    history = generate(DATA)
    labelled = point_in_time_training_set(history)
    with tempfile.TemporaryDirectory() as tmp, one_openmp_thread():
        training_set = write_parquet(labelled, Path(tmp) / "training_set.parquet")
        steps.train(training_set, LOOKED_UP, PARAMS, TARGET_FPR, Path(tmp) / "model.joblib",
                    GateSettings().false_alarm_cost)  # fmt: skip
        model = FraudModel.load(Path(tmp) / "model.joblib")
    split = time_split(labelled, PARAMS.holdout_days, PARAMS.validation_days)
    return Trained(history=history, split=split, model=model)
