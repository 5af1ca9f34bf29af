"""The canary's quality decision knows its noise: trained models on a pinned synthetic world,
scored on labelled point-in-time rows by `rollout.probe` and judged by `analysis.analyse`.

- Five candidates of the same quality as stable are never rolled back on quality. The seed of
  `fit` alone does not change a tree (test_deploy_challenger.py), so each model, stable
  included, is fitted with its own seed on its own 90 % of the training customers: what a
  retrain on the same history varies.
- A worse candidate, fitted without the velocity features (the bursts of a compromised card), is
  rolled back on every one of four disjoint probe draws (consecutive windows of the probe days).

The world has a higher fraud rate than the default data so that small models train fast on
few rows; its probe (about 95,000 rows, 900 frauds of 300 customers) holds more fraud than the
default data's holdout, so its intervals are narrower than the default's
(docs/serving-rollout.md has the default data's figures). The settings are the defaults, the
margin 0.1 among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pytest
from training_data import velocity_training_set

from fraud_detection.config import DataSettings, RolloutSettings, TrainingSettings
from fraud_detection.data.generate import generate
from fraud_detection.features.aggregates import PROFILE_FEATURES
from fraud_detection.features.velocity import VELOCITY_FEATURES
from fraud_detection.rollout.analysis import CanaryVerdict, Measurements, analyse
from fraud_detection.rollout.probe import gather
from fraud_detection.training.model import FraudModel, fit

LOOKED_UP = (*VELOCITY_FEATURES, *PROFILE_FEATURES)
PARAMS = TrainingSettings(learning_rate=0.15, max_iter=40, max_leaf_nodes=15)
LIMITS = RolloutSettings()
TARGET_FPR = 0.01
TRAIN_DAYS = 14
SEEDS = (1, 2, 3, 4, 5)
DRAWS = 4


@dataclass(frozen=True)
class World:
    train: pd.DataFrame
    probe: pd.DataFrame  # the newest days: labelled, point-in-time rows no model was fitted on
    stable: FraudModel
    candidates: dict[int, FraudModel]
    worse: FraudModel


def _customers_of(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    customers = np.sort(train["customer_id"].unique())
    kept = np.random.default_rng(seed).choice(customers, int(0.9 * len(customers)), replace=False)
    return train[train["customer_id"].isin(kept)]


@pytest.fixture(scope="module")
def world() -> World:
    data = generate(DataSettings(n_customers=2_000, days=35, fraud_rate=0.01, end=date(2026, 3, 2)))
    rows = velocity_training_set(data)
    cut = rows["event_timestamp"].min() + pd.Timedelta(days=TRAIN_DAYS)
    train, probe = rows[rows["event_timestamp"] < cut], rows[rows["event_timestamp"] >= cut]

    def trained(seed: int, features: tuple[str, ...] = LOOKED_UP) -> FraudModel:
        chosen = _customers_of(train, seed)
        return fit(chosen, features, PARAMS.model_copy(update={"seed": seed}))

    return World(
        train=train, probe=probe.reset_index(drop=True), stable=trained(0),
        candidates={seed: trained(seed) for seed in SEEDS}, worse=trained(0, PROFILE_FEATURES),
    )  # fmt: skip


def healthy() -> Measurements:
    return Measurements(ready=True, requests=100, errors=0, latencies_ms=(10.0,) * 20)


def canary(world: World, candidate: FraudModel, probe: pd.DataFrame) -> CanaryVerdict:
    evidence = gather(
        probe, "probe.parquet", world.stable, lambda: candidate, LIMITS, TARGET_FPR, seed=0
    )
    return analyse(healthy(), healthy(), LIMITS, evidence)


def table(name: str, verdict: CanaryVerdict) -> str:
    comparisons = verdict.probe["comparisons"]
    return f"{name}: " + "; ".join(
        f"{m} {c['difference']:+.3f} [{c['lower']:+.3f}, {c['upper']:+.3f}]"
        for m, c in comparisons.items()
    )


def test_a_model_against_itself_differs_by_nothing(world: World) -> None:
    probe = canary(world, world.stable, world.probe).probe
    assert probe["fraud_customers"] >= LIMITS.min_fraud_customers
    # The same model on both sides: no difference at all, and an interval of zero.
    assert {c["lower"] for c in probe["comparisons"].values()} == {0.0}


def test_five_candidates_of_the_same_quality_are_never_rolled_back(world: World) -> None:
    for seed, candidate in world.candidates.items():
        verdict = canary(world, candidate, world.probe)
        print(table(f"seed {seed}", verdict))
        assert verdict.promote, verdict.reasons
        for comparison in verdict.probe["comparisons"].values():
            # Each interval is at most half the margin wide on each side: the probe holds enough
            # fraud for the comparison (what `probe_rows` sizes on the default data).
            assert (comparison["upper"] - comparison["lower"]) / 2 <= LIMITS.max_quality_drop / 2


def test_a_candidate_without_the_velocity_features_is_rolled_back_on_every_draw(
    world: World,
) -> None:
    whole = canary(world, world.worse, world.probe)
    print(table("no velocity features, whole probe", whole))
    for comparison in whole.probe["comparisons"].values():
        assert comparison["upper"] < 0  # worse on both metrics beyond the probe's noise
    windows = np.array_split(np.arange(len(world.probe)), DRAWS)
    for draw, window in enumerate(windows):
        verdict = canary(world, world.worse, world.probe.iloc[window])
        print(table(f"no velocity features, draw {draw}", verdict))
        assert not verdict.promote
        assert {"probe_pr_auc", "probe_recall_at_fpr"} & {
            c.name for c in verdict.checks if not c.ok
        }
