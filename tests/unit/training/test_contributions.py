"""TreeSHAP contributions of the fitted trees: equal to Shapley values computed by enumerating
every feature subset, and adding up to the model's log-odds on rows that reach every split kind
(every category, an unknown one, missing values, values on thresholds)."""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from small_model import small_model

from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.serving import parity
from fraud_detection.training.contributions import TreeContributions
from fraud_detection.training.model import FraudModel


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return small_model()


def log_odds(model: FraudModel, matrix: np.ndarray) -> np.ndarray:
    raw: np.ndarray = model.pipeline[-1]._raw_predict(matrix).ravel()
    return raw


def goes_left(node: np.void, bitsets: np.ndarray, known: np.ndarray, value: float) -> bool:
    """scikit-learn's rule for one node (`_predict_one_from_raw_data`), written out."""
    if np.isnan(value):
        return bool(node["missing_go_to_left"])
    if not node["is_categorical"]:
        return bool(value <= node["num_threshold"])
    code = int(value)
    if value >= 0 and bitsets[node["bitset_idx"]][code // 32] >> (code % 32) & 1:
        return True
    if value >= 0 and known[code // 32] >> (code % 32) & 1:
        return False
    return bool(node["missing_go_to_left"])


def exact_shapley(classifier: HistGradientBoostingClassifier, x: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = E[f(X) | X_S = x_S], the expectation taken down the trees by
    the training rows' shares, over all 2^n subsets S at once."""
    n = len(x)
    subsets = np.array(list(itertools.product([False, True], repeat=n)))  # (2^n, n)
    known_sets, f_idx_map = classifier._bin_mapper.make_known_categories_bitsets()
    value = np.full(len(subsets), float(classifier._baseline_prediction.ravel()[0]))
    for (predictor,) in classifier._predictors:
        nodes = predictor.nodes

        def expected(
            i: int, nodes: np.ndarray = nodes, predictor: object = predictor
        ) -> np.ndarray:
            node = nodes[i]
            if node["is_leaf"]:
                return np.full(len(subsets), node["value"])
            left, right = int(node["left"]), int(node["right"])
            feature = int(node["feature_idx"])
            known = known_sets[f_idx_map[feature]]
            bitsets = predictor.raw_left_cat_bitsets  # type: ignore[attr-defined]
            to_left, to_right = expected(left), expected(right)
            chosen = to_left if goes_left(node, bitsets, known, x[feature]) else to_right
            unknown = (nodes[left]["count"] * to_left + nodes[right]["count"] * to_right) / node[
                "count"
            ]
            return np.where(subsets[:, feature], chosen, unknown)

        value = value + expected(0)
    index = {tuple(s): k for k, s in enumerate(subsets)}
    phi = np.zeros(n)
    for k, s in enumerate(subsets):
        size = int(s.sum())
        for i in np.flatnonzero(~s):
            with_i = s.copy()
            with_i[i] = True
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            phi[i] += weight * (value[index[tuple(with_i)]] - value[k])
    return phi


def test_contributions_equal_shapley_values_by_enumeration(model: FraudModel) -> None:
    rows = parity.parity_rows(model, 40, seed=3)
    # Every category, the unknown one, and missing values among the rows explained.
    rows[0]["distance_from_home_km"] = rows[1]["credit_limit"] = None
    for row, category in zip(rows, [*MERCHANT_CATEGORIES, parity.UNKNOWN_CATEGORY], strict=False):
        row["merchant_category"] = category
    matrix = model.encoded_inputs(rows[:12])
    explained = TreeContributions(model.pipeline[-1]).contributions(matrix)
    for x, phi in zip(matrix, explained, strict=True):
        np.testing.assert_allclose(phi, exact_shapley(model.pipeline[-1], x), atol=1e-9)


def test_contributions_add_up_to_the_log_odds_on_every_kind_of_split(model: FraudModel) -> None:
    rows = parity.parity_rows(model, 2_000, parity.PARITY_SEED)
    assert {r["merchant_category"] for r in rows} == {
        *MERCHANT_CATEGORIES, parity.UNKNOWN_CATEGORY,
    }  # fmt: skip
    assert any(r["distance_from_home_km"] is None for r in rows)
    matrix = model.encoded_inputs(rows)
    assert np.isnan(matrix).any()
    explainer = TreeContributions(model.pipeline[-1])
    total = explainer.expected_value + explainer.contributions(matrix).sum(axis=1)
    np.testing.assert_allclose(total, log_odds(model, matrix), rtol=0, atol=1e-6)


def test_an_out_of_range_category_code_is_routed_as_scikit_learn_routes_it(
    model: FraudModel,
) -> None:
    matrix = model.encoded_inputs(parity.parity_rows(model, 50, seed=5))
    matrix[:, 0] = np.tile([-1.0, 40.0, 255.0, np.nan, 2.0], 10)  # merchant_category's column
    explainer = TreeContributions(model.pipeline[-1])
    total = explainer.expected_value + explainer.contributions(matrix).sum(axis=1)
    np.testing.assert_allclose(total, log_odds(model, matrix), rtol=0, atol=1e-6)
