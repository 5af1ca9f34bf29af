"""Point-in-time training sets for the unit tests and `bench/world.py`, and how well each single
model input separates fraud from legitimate traffic.

`point_in_time_training_set` joins generated transactions with the batch aggregates that existed
just before each (as Feast's historical retrieval does for feature service `…_v1`) and with the
customers' profile; `velocity_training_set` joins them with the real-time velocity of `…_v2`
(`velocity_features`, the definition serving uses) instead. `holdout_evaluation` is a model's
holdout metrics computed apart from the pipeline's evaluate step, to check it against.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from fraud_detection.config import DataSettings, TrainingSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.data.generate import GeneratedData, generate
from fraud_detection.features.aggregates import (
    as_of_just_before,
    customer_profile,
    customer_transaction_stats,
)
from fraud_detection.features.derived import model_frame
from fraud_detection.features.velocity import velocity_features
from fraud_detection.training import steps
from fraud_detection.training.evaluate import Evaluation, evaluate_frame
from fraud_detection.training.model import FraudModel

# Quantile bins of a numeric input in `single_feature_auc`: fine enough to follow a non-monotone
# relation (night and day, near and far), coarse enough that each bin holds hundreds of rows.
_BINS = 50


def point_in_time_training_set(n_customers: int, days: int) -> pd.DataFrame:
    """Generated transactions with the `…_v1` aggregates as of just before each and the profile.

    Every label is taken as known at once (the arrival times are dropped, so the split leaves
    no label gap): the tests using it judge training, gating and reporting, not label delays.
    """
    from fraud_detection.data.contract import LABEL_AVAILABLE_AT  # here: bench/world.py imports
    # this module and also runs against generators older than the column

    data = generate(DataSettings(n_customers=n_customers, days=days, end=date(2026, 1, 1)))
    frame = data.transactions.drop(columns=[LABEL_AVAILABLE_AT], errors="ignore")
    frame = frame.sort_values("event_timestamp", ignore_index=True)
    stats = customer_transaction_stats(frame).sort_values("event_timestamp")
    keys = frame.assign(as_of=as_of_just_before(frame["event_timestamp"]))
    joined = pd.merge_asof(
        keys.sort_values("as_of"), stats.rename(columns={"event_timestamp": "stats_at"}),
        left_on="as_of", right_on="stats_at", by="customer_id",
    )  # fmt: skip
    joined = joined.merge(data.customers.drop(columns="event_timestamp"), on="customer_id")
    return joined.sort_values("event_timestamp", ignore_index=True)


def velocity_training_set(data: GeneratedData) -> pd.DataFrame:
    """Each transaction with its velocity over the card's earlier transactions and the profile
    (a snapshot older than the history, so Feast's point-in-time join is a plain join here)."""
    transactions = data.transactions
    joined = transactions.assign(**velocity_features(transactions))
    profile = customer_profile(data.customers).drop(columns="event_timestamp")
    joined = joined.merge(profile, on="customer_id", how="left")
    return joined.sort_values(["event_timestamp", "transaction_id"], ignore_index=True)


def single_feature_auc(values: pd.Series, labels: np.ndarray, groups: np.ndarray) -> float:
    """The ROC-AUC of the best ranking one input alone allows.

    The larger of: the input used as a score in either direction (a monotone rule), and the
    fraud rate of the input's bin (each category, or one of `_BINS` quantile bins; missing values
    a bin of their own), which also credits a non-monotone relation such as the hour of day.
    The bin rates are cross-fitted over two halves of the customers (`groups`): each row is
    scored with the rates of the other half, so a bin's noise (a few frauds in it) is not
    mistaken for signal, and one card's burst never grades itself.
    """
    if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
        bins = values.astype(str).to_numpy()
        monotone = 0.5
    else:
        numeric = values.astype("float64")
        known = numeric.notna().to_numpy()
        monotone = 0.5
        if known.any() and 0 < labels[known].sum() < known.sum():
            auc = float(roc_auc_score(labels[known], numeric[known]))
            monotone = max(auc, 1 - auc)
        if numeric.nunique() > _BINS:
            bins = pd.qcut(numeric, _BINS, duplicates="drop").astype(str).to_numpy()
        else:
            bins = numeric.astype(str).to_numpy()
    half = groups % 2 == 0
    rate = np.zeros(len(labels))
    for fit_on in (half, ~half):
        rates = pd.Series(labels[fit_on]).groupby(bins[fit_on]).mean()
        rate[~fit_on] = pd.Series(bins[~fit_on]).map(rates).fillna(0.0).to_numpy()
    binned = float(roc_auc_score(labels, rate))
    return max(monotone, binned)


def single_feature_aucs(frame: pd.DataFrame, looked_up: tuple[str, ...]) -> dict[str, float]:
    """`single_feature_auc` of every model input (request, looked-up and derived features),
    highest first."""
    inputs = model_frame(frame, looked_up)
    labels = frame[LABEL].to_numpy()
    groups = frame["customer_id"].to_numpy()
    aucs = {name: single_feature_auc(inputs[name], labels, groups) for name in inputs.columns}
    return dict(sorted(aucs.items(), key=lambda item: -item[1]))


def holdout_evaluation(
    model_path: Path, training_set_path: Path, params: TrainingSettings, target_fpr: float
) -> Evaluation:
    """The model's metrics on the training set's holdout, the model scoring it itself: what
    the evaluate step must return, computed apart from it."""
    model = FraudModel.load(model_path)
    holdout = steps._holdout(training_set_path, params)
    return evaluate_frame(
        holdout, model.score(holdout), model.threshold, target_fpr, params.alerts_per_day
    )
