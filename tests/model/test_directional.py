"""Directional-expectation tests of the trained model: what must raise a fraud score.

Each test takes labelled holdout transactions (days the model never saw), changes one input the
way the data generator makes fraud differ from habit (data/generate.py), keeps everything else,
and checks that the average score rises. The samples are legitimate transactions: fraud ones
already score near 1 and have no room to rise. Trees are not monotone, so single rows may move
either way; the claim is about the average, decided by a seeded paired bootstrap over the rows.

The margin is the sample's own average score before the change: the 95% lower bound of the mean
increase must exceed it, i.e. the average score at least doubles. A bound above 0 alone is not
enough: a model trained with the signal shuffled away still moves scores a little on noise
splits, sometimes significantly so on a thousand rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from trained_model import Trained, one_openmp_thread, train_once

from fraud_detection.data.contract import LABEL
from fraud_detection.training.model import FraudModel

CONFIDENCE = 0.95
RESAMPLES = 2_000
_CHUNK = 250  # resamples drawn at once, bounding the index array's memory
# With the fixture's data the samples hold 1k-4k rows, where the confidence interval is a
# fraction of the effect; fewer rows would let the bootstrap, not the model, decide.
MIN_ROWS = 500


@pytest.fixture(scope="module", autouse=True)
def trained() -> Iterator[Trained]:
    """The session's model (trained once), scored on one OpenMP thread as in serving."""
    with one_openmp_thread():
        yield train_once()


def paired_bootstrap_ci(
    before: np.ndarray, after: np.ndarray, seed: int = 0
) -> tuple[float, float]:
    """Percentile confidence interval of the mean of `after - before` over the rows.

    Args:
        before: Scores of the rows as they were.
        after: Scores of the same rows, changed (same order: the pairs are resampled together).
        seed: Seed of the resampling.

    Returns:
        The (low, high) bounds at `CONFIDENCE`.
    """
    difference = after - before
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            difference[rng.integers(0, len(difference), (_CHUNK, len(difference)))].mean(axis=1)
            for _ in range(RESAMPLES // _CHUNK)
        ]
    )
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def assert_raises_average_score(
    model: FraudModel, before: pd.DataFrame, after: pd.DataFrame, change: str
) -> None:
    assert len(before) >= MIN_ROWS, f"only {len(before)} rows to judge {change}"
    base, moved = model.score(before), model.score(after)
    low, high = paired_bootstrap_ci(base, moved)
    margin = float(base.mean())
    assert low > margin, (
        f"{change}: mean score {base.mean():.4f} -> {moved.mean():.4f} over {len(before)} rows; "
        f"{CONFIDENCE:.0%} CI of the increase [{low:.4f}, {high:.4f}] must lie above "
        f"{margin:.4f} (the average score at least doubling)"
    )


def test_far_from_home_raises_the_score_of_card_not_present_purchases(trained: Trained) -> None:
    """Pins: moving legitimate card-not-present purchases far from home (to the 99th
    percentile of the training distances, or further if they already were) raises their
    average fraud probability.

    For a fraud team: in the generator, 80% of fraud happens hundreds of kilometres from home
    against 12% of habitual spending, and card-not-present is how stolen card numbers are used.
    A model that stopped reacting to distance (a broken location feed imputed to a constant, a
    unit change, a feature dropped in a refactor) would let the most common fraud pattern
    through while its aggregate metrics still look passable.
    """
    train, holdout = trained.split.train, trained.split.holdout
    far = float(np.nanquantile(train["distance_from_home_km"], 0.99))
    before = holdout[
        (holdout[LABEL] == 0) & ~holdout["card_present"] & holdout["distance_from_home_km"].notna()
    ]
    after = before.assign(distance_from_home_km=np.maximum(before["distance_from_home_km"], far))
    assert_raises_average_score(trained.model, before, after, f"distance to >= {far:.0f} km")


def test_night_hour_raises_the_score_of_daytime_purchases(trained: Trained) -> None:
    """Pins: moving legitimate daytime purchases (08:00-20:59 UTC) to 03:00 of the same day,
    every stored feature and the amount unchanged, raises their average fraud probability.

    For a fraud team: habitual spending is quiet between midnight and 06:00 while fraud
    bursts are most frequent then (the generator's hour weights). The hour is a signal the
    first transaction of a burst already carries, before any velocity feature can react.
    """
    holdout = trained.split.holdout
    hour = holdout["event_timestamp"].dt.hour
    before = holdout[(holdout[LABEL] == 0) & hour.between(8, 20)]
    night = before["event_timestamp"].dt.normalize() + pd.Timedelta(hours=3)
    assert_raises_average_score(
        trained.model, before, before.assign(event_timestamp=night), "03:00"
    )
