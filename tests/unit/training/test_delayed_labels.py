"""Labels arrive late: each row's arrival time, the split that reads only the labels known at
its cutoff, and the rolling backtest built on it.

The data is a small synthetic history built here (not the generator's), so each assertion
rests on rows whose timing the test fixes: a pinned start, seed and layout.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's dependency

from fraud_detection.config import LabelSettings, TrainingSettings
from fraud_detection.data.contract import MERCHANT_CATEGORIES, validate_transactions
from fraud_detection.data.labels import add_label_arrival, labels_known_at
from fraud_detection.errors import DataContractError, TrainingError
from fraud_detection.training.backtest import rolling_backtest
from fraud_detection.training.split import time_split

START = pd.Timestamp("2026-01-01", tz="UTC")
LABELS = LabelSettings()  # median 21 days, sigma 0.5, maturity 30 days
DAY = pd.Timedelta(days=1)
# The split the pipeline uses by default: 15 days train at 60 days of history, gap = maturity.
LOOKED_UP = ("amount_mean_30d", "credit_limit")
PARAMS = TrainingSettings(holdout_days=10, validation_days=5, label_gap_days=30, max_iter=10)


def history(
    days: int = 60, per_day: int = 150, fraud_share: float = 0.04, seed: int = 3
) -> pd.DataFrame:
    """Transactions spread over `days` from START, fraud (big, far, card not present) among
    them at `fraud_share`, each on a card of its own so every fraud is a dispute of its own."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    fraud = rng.random(n) < fraud_share
    events = START + pd.to_timedelta(np.sort(rng.integers(0, days * 86_400, n)), unit="s")
    legit_amount = rng.lognormal(3.5, 0.6, n)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"t-{i}" for i in range(n)],
            "customer_id": np.where(fraud, 100_000 + np.arange(n), rng.integers(1_000, 1_400, n)),
            "event_timestamp": events,
            "amount": np.where(fraud, rng.lognormal(5, 0.6, n), legit_amount).round(2),
            "merchant_category": rng.choice(np.array(MERCHANT_CATEGORIES), n),
            "distance_from_home_km": np.where(
                fraud, rng.exponential(300, n), rng.exponential(10, n)
            ).round(2),
            "card_present": ~fraud & (rng.random(n) < 0.8),
            "is_fraud": fraud.astype("int64"),
            # Two looked-up features, so the model has every input it expects.
            "amount_mean_30d": rng.lognormal(3.5, 0.3, n).round(2),
            "credit_limit": rng.choice([1_000.0, 5_000.0, 20_000.0], n),
        }
    )
    return frame


def delays_days(frame: pd.DataFrame) -> pd.Series:
    return (frame["label_available_at"] - frame["event_timestamp"]) / DAY


# --- arrival times ------------------------------------------------------------------------------


def test_arrival_times_are_deterministic_and_follow_the_truncated_lognormal() -> None:
    frame = history(days=200, per_day=100, fraud_share=0.2)  # about 4,000 single-row disputes
    timed = add_label_arrival(frame, LABELS, seed=11)

    assert timed.equals(add_label_arrival(frame, LABELS, seed=11))
    assert not timed.equals(add_label_arrival(frame, LABELS, seed=12))
    columns = list(frame.columns)
    assert list(timed.columns) == [*columns[:8], "label_available_at", *columns[8:]]
    delay = delays_days(timed)
    fraud = timed["is_fraud"] == 1
    assert (delay[~fraud] == LABELS.maturity_days).all()  # legitimate: known at maturity
    assert delay[fraud].between(0, LABELS.maturity_days).all()
    # The log-delay is a normal truncated at the maturity period (one draw per dispute here).
    mu, sigma = np.log(LABELS.fraud_delay_median_days), LABELS.fraud_delay_sigma
    upper = (np.log(LABELS.maturity_days) - mu) / sigma
    truncated = stats.truncnorm(-np.inf, upper, loc=mu, scale=sigma)
    result = stats.kstest(np.log(delay[fraud]), truncated.cdf)
    assert fraud.sum() > 3_000 and result.pvalue > 0.001, result
    validate_transactions(timed)  # the contract keeps the column and accepts it


def test_a_cards_burst_is_reported_at_once_and_never_before_it_happened() -> None:
    burst = pd.DataFrame(
        {
            "customer_id": [7, 7, 7, 8],
            "event_timestamp": START + pd.to_timedelta([0, 5, 120, 1], unit="min"),
            "is_fraud": [1, 1, 1, 1],
        }
    )
    timed = add_label_arrival(burst, LABELS, seed=1)
    same_card = timed["label_available_at"].iloc[:3]
    assert same_card.nunique() == 1  # one dispute: one chargeback for the burst
    assert (timed["label_available_at"] >= timed["event_timestamp"]).all()
    assert (delays_days(timed) <= LABELS.maturity_days).all()


def test_the_contract_refuses_a_label_known_before_its_transaction() -> None:
    timed = add_label_arrival(history(days=3), LABELS, seed=1)
    timed.loc[0, "label_available_at"] = timed.loc[0, "event_timestamp"] - DAY
    with pytest.raises(DataContractError, match="label_available_at: 1 labels known before"):
        validate_transactions(timed)
    unlabelled = validate_transactions(timed.drop(columns=["is_fraud"]), include_label=False)
    assert "label_available_at" not in unlabelled.columns  # scoring requests never carry it


# --- the split ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed() -> pd.DataFrame:
    return add_label_arrival(history(), LABELS, seed=5)


def test_the_holdout_holds_only_matured_rows_and_the_gap_is_respected(timed: pd.DataFrame) -> None:
    split = time_split(timed, PARAMS.holdout_days, PARAMS.validation_days, label_gap_days=30)
    cutoff = timed["event_timestamp"].max()
    assert split.cutoff == cutoff
    holdout = split.holdout
    assert (holdout["label_available_at"] <= cutoff).all()
    assert (holdout["event_timestamp"] + LABELS.maturity_days * DAY <= cutoff).all()
    assert holdout["event_timestamp"].max() <= cutoff - 30 * DAY
    assert holdout["event_timestamp"].min() >= cutoff - 40 * DAY
    # Every row of the holdout window is kept: matured, so none was dropped for its label.
    window = timed["event_timestamp"].between(cutoff - 40 * DAY, cutoff - 30 * DAY)
    assert len(holdout) == int(window.sum())
    # train < validation < holdout, and nothing of the gap in any part.
    assert split.train["event_timestamp"].max() < split.validation["event_timestamp"].min()
    assert split.validation["event_timestamp"].max() < holdout["event_timestamp"].min()
    for part in (split.train, split.validation, holdout):
        assert (part["event_timestamp"] <= cutoff - 30 * DAY).all()
    assert split.window()["label_gap_days"] == "30.0"
    # By default the gap is the data's longest label delay: its maturity period.
    default = time_split(timed, PARAMS.holdout_days, PARAMS.validation_days)
    assert default.label_gap_days == LABELS.maturity_days
    pd.testing.assert_frame_equal(default.holdout, holdout)


def test_without_the_gap_the_holdout_is_refused_as_immature(timed: pd.DataFrame) -> None:
    cutoff = timed["event_timestamp"].max()
    newest = timed[(timed["event_timestamp"] >= cutoff - 10 * DAY) & (timed["is_fraud"] == 1)]
    # The newest 10 days: with a 3-week median delay, only a few frauds are reported yet.
    assert labels_known_at(newest, cutoff).mean() < 0.1
    with pytest.raises(TrainingError, match=r"still unknown at the cutoff.*label_gap_days"):
        time_split(timed, 10, 5, label_gap_days=0)
    with pytest.raises(TrainingError, match="still unknown"):
        time_split(timed, 10, 5, label_gap_days=LABELS.maturity_days - 1)


def test_fraud_not_reported_by_the_cutoff_is_no_positive_in_training(timed: pd.DataFrame) -> None:
    cutoff = timed["event_timestamp"].max() - 12 * DAY  # a past run: its future is not there
    late = timed.copy()
    # A fraud inside the training window whose chargeback comes after the cutoff.
    train_fraud = late.index[(late["is_fraud"] == 1) & (late["event_timestamp"] < START + 2 * DAY)]
    late.loc[train_fraud[:3], "label_available_at"] = cutoff + DAY

    split = time_split(late, 10, 5, label_gap_days=30, cutoff=cutoff)
    parts = (split.train, split.validation, split.holdout)
    assert not any(set(train_fraud[:3]) & set(part.index) for part in parts)  # nor a negative
    assert set(train_fraud[3:]) <= set(split.train.index)
    for part in parts:
        assert (part["label_available_at"] <= cutoff).all()
        assert (part["event_timestamp"] <= cutoff - 30 * DAY).all()
    assert split.holdout["event_timestamp"].max() <= cutoff - 30 * DAY


def test_data_without_arrival_times_is_split_as_before(timed: pd.DataFrame) -> None:
    old = timed.drop(columns=["label_available_at"])
    split = time_split(old, 10, 5, label_gap_days=30)  # no arrival times: no gap

    newest = old["event_timestamp"].max()
    holdout_start = newest - 10 * DAY
    validation_start = holdout_start - 5 * DAY
    events = old["event_timestamp"]
    pd.testing.assert_frame_equal(split.train, old[events < validation_start])
    pd.testing.assert_frame_equal(
        split.validation, old[(events >= validation_start) & (events < holdout_start)]
    )
    pd.testing.assert_frame_equal(split.holdout, old[events >= holdout_start])
    assert split.cutoff is None and "label_cutoff" not in split.window()


# --- the backtest -------------------------------------------------------------------------------


def test_the_backtest_windows_never_overlap_their_own_training_data(timed: pd.DataFrame) -> None:
    params = PARAMS.model_copy(update={"holdout_days": 5})
    with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP spinning slows small fits
        done = rolling_backtest(timed, LOOKED_UP, params, target_fpr=0.05, windows=3)

    assert len(done.windows) == 3
    cutoffs = [pd.Timestamp(w.cutoff) for w in done.windows]
    assert cutoffs == sorted(cutoffs) and cutoffs[-1] == timed["event_timestamp"].max()
    assert all(b - a == 5 * DAY for a, b in itertools.pairwise(cutoffs))
    for window, cutoff in zip(done.windows, cutoffs, strict=True):
        assert pd.Timestamp(window.train_end) < pd.Timestamp(window.holdout_start)
        assert pd.Timestamp(window.holdout_end) <= cutoff - 30 * DAY  # matured at its cutoff
        assert window.holdout_frauds > 0 and window.train_frauds > 0
        assert 0 <= window.pr_auc <= 1 and 0 <= window.recall_at_fpr <= 1
    holdouts = [(pd.Timestamp(w.holdout_start), pd.Timestamp(w.holdout_end)) for w in done.windows]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(holdouts))  # disjoint
    summary = done.summary("pr_auc")
    values = [w.pr_auc for w in done.windows]
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["sd"] == pytest.approx(np.std(values, ddof=1))
    assert summary["low"] <= summary["mean"] <= summary["high"]


def test_a_backtest_longer_than_the_history_names_what_it_needs(timed: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match=r"backtest window 1 of 4 .* need 75 days"):
        rolling_backtest(timed, LOOKED_UP, PARAMS, target_fpr=0.05, windows=4)
