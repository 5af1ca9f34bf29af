"""Distribution checks against production's reference: quiet on an ordinary regenerated history,
and naming the problem for every kind of damage the row-by-row contract lets through."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import DataSettings, IngestSettings
from fraud_detection.data import distribution
from fraud_detection.data.contract import validate_transactions
from fraud_detection.data.generate import generate
from fraud_detection.errors import DataDistributionError

END = date(2026, 3, 2)
SMALL = {"n_customers": 400, "days": 40}  # the integration tests' workspace
HOLDOUT_DAYS, REFERENCE_ROWS = 10, 20_000  # what the register step keeps as the reference


@functools.cache  # the fixtures' histories are also the first case's: generate each once
def history(seed: int, **data: int) -> pd.DataFrame:
    return validate_transactions(generate(DataSettings(seed=seed, end=END, **data)).transactions)


def reference_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest rows of the holdout, as the registry keeps them beside a model card."""
    start = pd.Timestamp(END, tz="UTC") - timedelta(days=HOLDOUT_DAYS)
    return frame[frame["event_timestamp"] >= start].tail(REFERENCE_ROWS)


def compare(current: pd.DataFrame, reference: pd.DataFrame, **settings: float) -> list[str]:
    """The failed checks, as (column, check) names."""
    found = distribution.compare(current, reference, IngestSettings(**settings), "production v1")
    return [f"{p.column}: {p.check}" for p in found.problems]


@pytest.fixture(scope="module")
def current() -> pd.DataFrame:
    return history(1)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return reference_of(history(2))


@pytest.mark.parametrize("size", [{}, SMALL], ids=["default", "small"])
@pytest.mark.parametrize("seeds", [(1, 2), (3, 4), (5, 6)], ids=str)
def test_an_undrifted_regenerated_history_raises_no_alarm(
    seeds: tuple[int, int], size: dict[str, int]
) -> None:
    incoming, production = history(seeds[0], **size), history(seeds[1], **size)
    result = distribution.compare(
        incoming, reference_of(production), IngestSettings(), "production v1"
    )
    assert result.problems == ()
    # Every kind of check ran: spread, category shares, label rate, null share.
    assert result.checks == 2 + 2 * 9 + 2 * 2 + 1 + 1
    assert result.not_compared == ()


def _constant_amount(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(amount=42.0)


def _card_always_present(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(card_present=True)


def _gift_cards_gone(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        merchant_category=frame["merchant_category"].replace("gift_cards", "retail")
    )


def _most_fraud_unlabelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Seven in ten confirmed frauds lose their label (a broken label join, say)."""
    fraud = frame.index[frame["is_fraud"] == 1]
    lost = np.random.default_rng(0).choice(fraud, size=int(len(fraud) * 0.7), replace=False)
    out = frame.copy()
    out.loc[lost, "is_fraud"] = 0
    return out


def _locations_lost(frame: pd.DataFrame) -> pd.DataFrame:
    """1.5% of distances go missing: under the contract's 2% cap, five times the usual share."""
    out = frame.copy()
    lost = np.random.default_rng(0).random(len(out)) < 0.015
    out.loc[lost, "distance_from_home_km"] = np.nan
    return out


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_constant_amount, ["amount: constant"]),
        (_card_always_present, ["card_present: constant", "card_present: category vanished"]),
        (_gift_cards_gone, ["merchant_category: category vanished"]),
        (_most_fraud_unlabelled, ["is_fraud: label rate collapsed"]),
        (_locations_lost, ["distance_from_home_km: null share jumped"]),
    ],
    ids=["constant-column", "constant-flag", "vanished-category", "label-collapse", "null-jump"],
)
def test_damage_within_the_contract_is_named(
    current: pd.DataFrame, reference: pd.DataFrame,
    damage: Callable[[pd.DataFrame], pd.DataFrame], expected: list[str],
) -> None:  # fmt: skip
    broken = validate_transactions(damage(current))  # the contract lets it through
    assert compare(broken, reference) == expected


def test_a_problem_states_the_observed_and_the_reference_value(
    current: pd.DataFrame, reference: pd.DataFrame
) -> None:
    result = distribution.compare(
        _gift_cards_gone(current), reference, IngestSettings(), "production v1"
    )
    (problem,) = result.problems
    share = float((reference["merchant_category"] == "gift_cards").mean())
    assert (problem.measure, problem.observed) == ("share of 'gift_cards'", 0.0)
    assert problem.reference == pytest.approx(share)
    assert problem.bound == pytest.approx(share * IngestSettings().min_category_share_ratio)
    assert str(problem) == (
        f"merchant_category: category vanished: share of 'gift_cards' 0, reference {share:.4g} "
        f"(fails below {problem.bound:.4g})"
    )
    with pytest.raises(DataDistributionError) as failure:
        result.raise_for_problems("transactions.parquet")
    assert failure.value.problems == [str(problem)]
    assert str(failure.value).startswith(
        "transactions.parquet departs from the reference of production v1:\n  - merchant_category"
    )


def _with_fraud_rate(frame: pd.DataFrame, rows: int, frauds: int) -> pd.DataFrame:
    legit, fraud = frame[frame["is_fraud"] == 0], frame[frame["is_fraud"] == 1]
    return pd.concat([legit.head(rows - frauds), fraud.head(frauds)], ignore_index=True)


def test_the_label_rate_bound_widens_with_fewer_rows(
    current: pd.DataFrame, reference: pd.DataFrame
) -> None:
    """A fraud rate of 0.05% is a fifth of the reference's: a collapse in 100,000 rows, but no
    fraud in 500 rows is within the binomial noise of the reference's rate (1.4 expected)."""
    assert 0.002 < reference["is_fraud"].mean() < 0.004
    assert compare(_with_fraud_rate(current, 100_000, 50), reference) == [
        "is_fraud: label rate collapsed"
    ]
    assert "is_fraud: label rate collapsed" not in compare(
        _with_fraud_rate(current, 500, 0), reference
    )


def test_the_thresholds_come_from_the_settings(
    current: pd.DataFrame, reference: pd.DataFrame
) -> None:
    """Nine frauds in ten unlabelled: a collapse under the default bound (half the reference's
    rate), within a looser one. A milder loss is not decidable here: the 20,000-row reference
    holds about 55 frauds, so its rate is known to within about +-40% (noise_z = 3)."""
    fraud = current.index[current["is_fraud"] == 1]
    lost = current.copy()
    lost.loc[fraud.difference(fraud[::10]), "is_fraud"] = 0  # a tenth keep their label
    assert compare(lost, reference) == ["is_fraud: label rate collapsed"]
    assert compare(lost, reference, min_label_rate_ratio=0.05) == []


def test_columns_the_reference_lacks_are_listed_not_compared(
    current: pd.DataFrame, reference: pd.DataFrame
) -> None:
    older = reference.drop(columns=["distance_from_home_km"])
    result = distribution.compare(current, older, IngestSettings(), "production v0")
    assert result.not_compared == ("distance_from_home_km",)
    assert result.problems == ()
    assert result.summary()["not_compared"] == ["distance_from_home_km"]
