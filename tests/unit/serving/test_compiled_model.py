"""The compiled model: it scores as scikit-learn does, packaging refuses one that does not, and
serving loads or converts it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from small_model import LOOKED_UP, small_model

from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.errors import PackagingError
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.serving import parity
from fraud_detection.serving.compiled import COMPILED_FILE, CompiledModel
from fraud_detection.serving.inference import CompiledInference
from fraud_detection.serving.model_store import load_servable, save_to_bentoml
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import Transaction
from fraud_detection.serving.scoring import Scorer
from fraud_detection.training.model import FraudModel

CARD = {"threshold": 0.5, "metrics": {"pr_auc": 0.5}, "feature_store_features": list(LOOKED_UP)}


@pytest.fixture(scope="module")
def model() -> FraudModel:
    return small_model()


@pytest.fixture(scope="module")
def sample(model: FraudModel) -> list[dict[str, Any]]:
    return parity.parity_rows(model, parity.PARITY_ROWS, parity.PARITY_SEED)


def registered(model: FraudModel, tmp_path: Path) -> RegisteredModel:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    return registry.register(model.save(tmp_path / "model.joblib"), CARD)


def test_parity_rows_reach_every_category_missing_values_and_split_thresholds(
    model: FraudModel, sample: list[dict[str, Any]]
) -> None:
    assert len(sample) == 10_000
    assert {r["merchant_category"] for r in sample} == {
        *MERCHANT_CATEGORIES, parity.UNKNOWN_CATEGORY,
    }  # fmt: skip
    for name in ("distance_from_home_km", *LOOKED_UP):
        assert any(r[name] is None for r in sample), name
    assert any(r["credit_limit"] == 0.0 for r in sample)
    thresholds = parity.split_thresholds(model)["amount"]
    assert np.isin([r["amount"] for r in sample], thresholds).mean() > 0.2


def test_compiled_model_scores_the_parity_rows_as_scikit_learn(
    model: FraudModel, sample: list[dict[str, Any]], tmp_path: Path
) -> None:
    compiled = CompiledModel.load(CompiledModel.convert(model).save(tmp_path / COMPILED_FILE))
    matrix = model.encoded_inputs(sample)
    assert np.max(np.abs(compiled.predict(matrix) - model.score_encoded(matrix))) <= 1e-12
    assert parity.check(model, compiled) <= parity.TOLERANCE


def test_a_category_absent_from_training_scores_as_scikit_learn() -> None:
    without = small_model(categories=MERCHANT_CATEGORIES[:-1])
    assert parity.check(without, CompiledModel.convert(without)) <= parity.TOLERANCE


def test_compiled_model_refuses_a_matrix_of_the_wrong_width(model: FraudModel) -> None:
    with pytest.raises(ValueError, match="columns"):
        CompiledModel.convert(model).predict(np.zeros((1, len(model.feature_columns) - 1)))


def tampered(monkeypatch: pytest.MonkeyPatch, other: FraudModel) -> None:
    """Make every conversion return the trees of `other`, as a broken converter would."""
    convert: Callable[[FraudModel], CompiledModel] = CompiledModel.convert
    monkeypatch.setattr(CompiledModel, "convert", staticmethod(lambda _: convert(other)))


def test_packaging_refuses_a_compiled_model_that_disagrees(
    model: FraudModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = registered(model, tmp_path)
    tampered(monkeypatch, small_model(seed=1))
    with pytest.raises(PackagingError, match=r"max \|difference\| 0\.\d+ over 10000 rows"):
        save_to_bentoml(version, tmp_path / "bentoml")
    models = tmp_path / "bentoml" / "models" / "fraud-detector"
    assert not models.exists() or not any(models.iterdir())  # nothing was stored
    with pytest.raises(PackagingError):  # nor served from the registry's directory
        load_servable(version.path)


def test_packaging_stores_the_compiled_model_and_serving_loads_it(
    model: FraudModel, sample: list[dict[str, Any]], tmp_path: Path
) -> None:
    version = registered(model, tmp_path)
    tag = save_to_bentoml(version, tmp_path / "bentoml")
    stored = tmp_path / "bentoml" / "models" / "fraud-detector" / tag.split(":")[1]
    assert (stored / COMPILED_FILE).exists() and not (version.path / COMPILED_FILE).exists()
    matrix = model.encoded_inputs(sample[:500])
    for directory in (stored, version.path):  # the Bento's model, and KServe's registry copy
        servable = load_servable(directory)
        assert servable.compiled is not None
        np.testing.assert_array_equal(
            servable.compiled.predict(matrix), model.score_encoded(matrix)
        )


class OneCustomer:
    def lookup(self, customer_ids: Any) -> Lookup:
        values: dict[str, float | None] = {"txn_count_24h": 1.0, "amount_mean_30d": 0.0,
                                           "credit_limit": None}  # fmt: skip
        return Lookup([values for _ in customer_ids], degraded=False)


class CapturedLog:
    def __init__(self) -> None:
        self.builds: list[Callable[[], list[dict[str, Any]]]] = []

    def record_later(self, build: Callable[[], list[dict[str, Any]]], count: int) -> None:
        self.builds.append(build)


def test_scorer_scores_through_the_compiled_model_and_logs_the_frame_inputs(
    model: FraudModel,
) -> None:
    log = CapturedLog()
    scorer = Scorer(model, OneCustomer(), "v1", log)
    assert isinstance(scorer.inference, CompiledInference)
    transactions = [
        Transaction(customer_id=c, amount=10.0 * c, merchant_category=m, card_present=c % 2 == 0,
                    distance_from_home_km=None if c % 3 else 4.0,
                    event_timestamp=datetime(2026, 1, 5, c, 30, tzinfo=UTC))
        for c, m in enumerate(MERCHANT_CATEGORIES)
    ]  # fmt: skip
    scores = scorer.score(transactions)
    frame = scorer.frame(transactions, OneCustomer().lookup([0] * len(transactions)))
    expected = model.score(frame)  # the DataFrame path training and evaluation use
    np.testing.assert_allclose([s.fraud_probability for s in scores], expected, rtol=0, atol=1e-12)
    inputs = model.inputs(frame)
    logged = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
    (build,) = log.builds
    records = build()
    assert [r["features"] for r in records] == logged
    assert [r["fraud_probability"] for r in records] == [s.fraud_probability for s in scores]
    assert records[3]["event_timestamp"] == "2026-01-05T03:30:00+00:00"
