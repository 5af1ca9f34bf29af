"""The model's inputs built from plain rows equal those the DataFrame path builds."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from small_model import LOOKED_UP, small_model

from fraud_detection.training.model import FraudModel

BASE = {
    "event_timestamp": datetime(2026, 1, 5, 14, 30, tzinfo=UTC),
    "amount": 120.0,
    "merchant_category": "fuel",
    "distance_from_home_km": 3.5,
    "card_present": True,
    "txn_count_24h": 2.0,
    "amount_mean_30d": 40.0,
    "credit_limit": 2500.0,
}
# Each change is a case the two paths could treat differently.
CHANGES: list[dict[str, Any]] = [
    {},
    {"merchant_category": "casino"},  # unknown category: missing for the trees
    {"merchant_category": "gift_cards", "card_present": False},
    {"distance_from_home_km": None, "txn_count_24h": None},
    {"distance_from_home_km": math.nan, "txn_count_24h": math.nan},
    {"amount_mean_30d": 0.0, "credit_limit": 0.0},  # zero denominators: ratios missing
    {"amount_mean_30d": None, "credit_limit": None},
    {"amount_mean_30d": math.nan, "credit_limit": -5.0},
    {"amount": 0.0},
    {"event_timestamp": datetime(2026, 1, 5, 1, 0, tzinfo=timezone(timedelta(hours=2)))},
    {"event_timestamp": datetime(2026, 1, 5, 23, 59, tzinfo=timezone(timedelta(hours=-5)))},
]
ROWS = [{**BASE, **change} for change in CHANGES]


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return small_model()


def frame_inputs(model: FraudModel, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return model.inputs(pd.DataFrame(rows))


def test_encoded_inputs_equal_the_fitted_encoder_on_the_model_frame(model: FraudModel) -> None:
    expected = model.pipeline[:-1].transform(frame_inputs(model, ROWS))
    encoded = model.encoded_inputs(ROWS)
    assert encoded.dtype == np.float64 and encoded.shape == expected.shape
    np.testing.assert_array_equal(encoded, expected)  # NaN where NaN, every other bit equal
    # The unknown category is missing, hours are UTC, zero denominators make missing ratios.
    unknown, zero = CHANGES.index({"merchant_category": "casino"}), 5
    assert np.isnan(encoded[unknown, 0])
    columns = model.pipeline[:-1].get_feature_names_out().tolist()
    assert encoded[-2, columns.index("hour_of_day")] == 23.0
    assert encoded[-1, columns.index("hour_of_day")] == 4.0
    assert np.isnan(encoded[zero, columns.index("amount_to_credit_limit")])


def test_naive_times_are_read_as_utc_on_both_paths(model: FraudModel) -> None:
    naive = [{**BASE, "event_timestamp": datetime(2026, 1, 5, 7, 15)}]
    expected = model.pipeline[:-1].transform(frame_inputs(model, naive))
    np.testing.assert_array_equal(model.encoded_inputs(naive), expected)


def test_input_records_are_what_the_prediction_log_recorded(model: FraudModel) -> None:
    inputs = frame_inputs(model, ROWS)
    logged = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
    records = model.input_records(ROWS)
    assert records == logged
    assert [list(r) for r in records] == [list(r) for r in logged]  # same keys, same order


def test_a_batch_with_no_row_gives_an_empty_matrix(model: FraudModel) -> None:
    assert model.encoded_inputs([]).shape == (0, len(model.feature_columns))


def test_the_saved_model_does_not_carry_the_row_encoder(model: FraudModel) -> None:
    fresh = pickle.dumps(model)
    model.encoded_inputs(ROWS)
    assert pickle.dumps(model) == fresh  # same file, so the same registry version
    assert pickle.loads(fresh).encoded_inputs(ROWS).shape == (len(ROWS), len(model.feature_columns))


def test_a_pipeline_without_the_encoder_has_no_row_path() -> None:
    other = FraudModel(Pipeline([("classify", DummyClassifier())]), LOOKED_UP)
    assert not other.encodes_rows
    with pytest.raises(TypeError, match="RowEncoder"):
        other.encoded_inputs(ROWS)
