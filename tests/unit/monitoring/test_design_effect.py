"""Effective sizes of rows that come in cards: the within-card correlation the reference gives,
Kish's design effect, and a decline-rate test that keeps its level on clustered traffic
(pinned seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraud_detection.monitoring.checks import (
    CheckLimits,
    Reference,
    _rate_check,
    card_codes,
    cluster_size,
    design_effect,
    intraclass_correlation,
    judge,
)


def clustered(cards: int, rows_per_card: int, a: float, b: float, seed: int) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """0/1 rows whose card has its own rate, Beta(a, b): within-card correlation 1/(a+b+1)."""
    rng = np.random.default_rng(seed)
    rate = rng.beta(a, b, cards)
    codes = np.repeat(np.arange(cards), rows_per_card)
    return (rng.random(codes.size) < rate[codes]).astype(float), codes


def test_cluster_size_is_the_size_weighted_mean_card() -> None:
    assert cluster_size(np.array([0, 1, 2, 2])) == pytest.approx((1 + 1 + 4) / 4)
    assert cluster_size(None) == 1.0
    assert design_effect(0.1, 11.0) == pytest.approx(2.0)
    assert design_effect(0.5, 1.0) == 1.0


def test_the_within_card_correlation_is_recovered() -> None:
    y, codes = clustered(20_000, 5, a=0.5, b=49.5, seed=3)  # rate 1 %, correlation 1/51
    assert intraclass_correlation(y, codes) == pytest.approx(1 / 51, rel=0.3)
    independent, codes = clustered(20_000, 5, a=1_000, b=99_000, seed=4)  # one rate for all
    assert intraclass_correlation(independent, codes) < 0.005


def test_without_cards_or_variation_rows_count_as_independent() -> None:
    y, codes = clustered(100, 5, a=1, b=9, seed=5)
    assert intraclass_correlation(y, None) == 0.0
    assert intraclass_correlation(np.zeros(500), codes) == 0.0
    assert card_codes(pd.DataFrame({"amount": [1.0, 2.0]})) is None


def test_the_decline_test_keeps_its_level_on_clustered_traffic_only_with_the_design_effect() -> (
    None
):  # fmt: skip
    """Cards of five rows whose decline rates differ (correlation 0.5): the row-counted test
    fires several times its level on windows drawn like the reference; the design effect
    brings it back within it."""
    alpha, windows = 0.05, 300
    ref_y, ref_codes = clustered(4_000, 5, a=0.2, b=0.8, seed=0)  # rate 20 %, correlation 0.5
    rho = intraclass_correlation(ref_y, ref_codes)
    assert rho == pytest.approx(0.5, rel=0.25)
    ref_effect = design_effect(rho, cluster_size(ref_codes))
    fired_rows = fired_cards = 0
    for seed in range(1, windows + 1):
        y, codes = clustered(200, 5, a=0.2, b=0.8, seed=seed)
        args = ("decline_rate", "decline_rate", int(y.sum()), y.size, int(ref_y.sum()),
                ref_y.size, alpha)  # fmt: skip
        fired_rows += _rate_check(*args).failed  # type: ignore[arg-type]
        effects = (design_effect(rho, cluster_size(codes)), ref_effect)
        fired_cards += _rate_check(*args, effects).failed  # type: ignore[arg-type]
    assert fired_rows / windows > 3 * alpha  # 64 of 300
    assert fired_cards / windows < 1.6 * alpha  # 7 of 300; 15 expected at the level


def test_judge_sizes_the_decline_and_quantile_tests_by_their_design_effect() -> None:
    rng = np.random.default_rng(8)

    def frame(cards: int, seed: int) -> pd.DataFrame:
        y, codes = clustered(cards, 4, a=0.8, b=3.2, seed=seed)
        return pd.DataFrame({
            "amount": rng.lognormal(3.5, 0.9, y.size),
            "prediction": np.where(y == 1, rng.beta(8, 2, y.size), rng.beta(1, 30, y.size)),
            "customer_id": [f"c{c}" for c in codes],
        })  # fmt: skip

    reference = Reference.of(frame(3_000, 0), ["amount"], threshold=0.5)
    assert reference.rho["decline_rate"] == pytest.approx(0.2, rel=0.3)
    judgement = judge(reference, frame(500, 1), ["amount"], CheckLimits(resamples=200))
    decline = judgement.of("decline_rate")[0]
    assert decline.method == "beta-binomial rate (design effect)"
    assert not decline.failed
    assert all("design effect" in c.method for c in judgement.of("score_quantile"))


def test_the_upper_bound_errs_toward_more_noise_where_the_estimate_is_loose() -> None:
    y, codes = clustered(2_000, 5, a=0.2, b=19.8, seed=6)  # rate 1 %: about 100 hits
    point = intraclass_correlation(y, codes)
    upper = intraclass_correlation(y, codes, upper=0.9)
    assert upper > point
    assert intraclass_correlation(y, codes, upper=0.9) == upper  # seeded
    many, codes = clustered(40_000, 5, a=0.2, b=19.8, seed=6)  # 20 times the cards
    assert (
        intraclass_correlation(many, codes, upper=0.9) - intraclass_correlation(many, codes)
        < (upper - point) / 2
    )
