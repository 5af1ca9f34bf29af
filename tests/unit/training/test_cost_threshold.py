"""The deployed threshold is the cheapest the FPR budget allows, and the fraud team's metrics
(card precision at k alerts a day, fraud amount caught, the reliability table) count what they
say, on vectors and frames small enough to check by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from small_model import LOOKED_UP as SMALL_LOOKED_UP
from small_model import training_frame
from training_data import holdout_evaluation

from fraud_detection.config import GateSettings, TrainingSettings
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import TrainingError
from fraud_detection.registry import ModelRegistry
from fraud_detection.training import steps
from fraud_detection.training.cost import choose_threshold, cost_at, cut_thresholds
from fraud_detection.training.evaluate import (
    amount_caught,
    card_precision_at_k,
    evaluate,
    evaluate_frame,
    reliability_table,
    threshold_at_fpr,
    wilson,
)
from fraud_detection.training.model import FraudModel

# Two frauds (100 and 30) and eight legitimate rows; a false alarm costs 5.
Y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.4, 0.8, 0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0])
AMOUNTS = np.array([100.0, 30.0, 1, 1, 1, 1, 1, 1, 1, 1])


def test_the_cheapest_threshold_is_chosen_when_the_budget_allows_it() -> None:
    # Flagging the rows above 0.3 catches both frauds for one false alarm (0.8): cost 5. Every
    # lower threshold adds false alarms, every higher one misses the 30 fraud.
    choice = choose_threshold(Y, SCORES, AMOUNTS, 5.0, target_fpr=0.2)  # one alarm allowed
    assert choice.threshold == np.nextafter(0.3, 1) == choice.cost_optimal
    assert choice.binding == "cost"
    assert (choice.cost, choice.fpr) == (5.0, 1 / 8)
    assert choice.fpr_budget == threshold_at_fpr(Y, SCORES, 0.2) == np.nextafter(0.3, 1)
    assert (choice.rows, choice.positives) == (10, 2)


def test_the_fpr_budget_binds_when_the_cheapest_threshold_breaks_it() -> None:
    # No false alarm allowed: the cheapest threshold (one alarm) is out; above 0.8 misses the 30.
    choice = choose_threshold(Y, SCORES, AMOUNTS, 5.0, target_fpr=0.1)
    assert choice.binding == "fpr_budget"
    assert choice.cost_optimal == np.nextafter(0.3, 1) and choice.cost_at_cost_optimal == 5.0
    assert choice.threshold == choice.fpr_budget == np.nextafter(0.8, 1)
    assert choice.fpr_budget == threshold_at_fpr(Y, SCORES, 0.1)
    assert (choice.cost, choice.fpr) == (30.0, 0.0)


def test_a_costly_false_alarm_moves_the_threshold_above_the_budgets() -> None:
    # At 200 a review, the alarm at 0.8 costs more than the 30 fraud it comes with.
    choice = choose_threshold(Y, SCORES, AMOUNTS, 200.0, target_fpr=0.2)
    assert choice.binding == "cost"
    assert choice.fpr_budget == np.nextafter(0.3, 1) < choice.threshold == np.nextafter(0.8, 1)
    assert choice.cost == 30.0 < choice.cost_at_fpr_budget == 200.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("target_fpr", [0.0, 0.01, 0.05, 0.3, 1.0])
def test_the_choice_is_the_exact_constrained_minimum(seed: int, target_fpr: float) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(400) < 0.1).astype(int)
    scores = np.round(np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1), 2)  # many ties
    amounts = rng.gamma(2.0, 30.0, 400)
    choice = choose_threshold(y, scores, amounts, 5.0, target_fpr)
    negatives = (y == 0).sum()
    feasible = [
        t for t in cut_thresholds(scores)
        if ((scores >= t) & (y == 0)).sum() <= np.floor(target_fpr * negatives)
    ]  # fmt: skip
    best = min(cost_at(y, scores, amounts, 5.0, t) for t in feasible)
    assert choice.cost == pytest.approx(best, rel=1e-12)
    assert choice.cost == pytest.approx(cost_at(y, scores, amounts, 5.0, choice.threshold))
    assert choice.fpr <= target_fpr and choice.threshold >= choice.fpr_budget
    assert choice.fpr_budget == min(feasible) == threshold_at_fpr(y, scores, target_fpr)
    cheapest = min(cost_at(y, scores, amounts, 5.0, t) for t in cut_thresholds(scores))
    assert choice.cost_at_cost_optimal == pytest.approx(cheapest, rel=1e-12)
    if choice.binding == "cost":
        assert choice.threshold == choice.cost_optimal
    assert choice.cost >= choice.cost_at_cost_optimal


def test_no_legitimate_row_is_refused() -> None:
    with pytest.raises(TrainingError, match="without a legitimate transaction"):
        choose_threshold(np.ones(3), np.array([0.1, 0.5, 0.9]), np.ones(3), 5.0, 0.01)


def hand_made() -> pd.DataFrame:
    """Three days of card transactions (card ids 1-5), scores and labels."""
    day1, day2, day3 = (pd.Timestamp(f"2026-01-0{d} 12:00", tz="UTC") for d in (1, 2, 3))
    rows = [
        # card, time, score, fraud, amount
        (1, day1, 0.9, 0, 5.0), (1, day1 + pd.Timedelta(hours=11.9), 0.1, 1, 10.0),
        (2, day1, 0.8, 0, 5.0), (3, day1, 0.7, 1, 50.0), (4, day1, 0.2, 1, 20.0),
        (2, day2, 0.95, 1, 200.0), (1, day2, 0.3, 0, 5.0), (5, day2, 0.3, 1, 70.0),
        (3, day3, 0.5, 1, 40.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "event_timestamp", "score", "is_fraud",
                                        "amount"])  # fmt: skip
    return frame


def test_card_precision_at_k_counts_each_days_top_cards() -> None:
    frame = hand_made()
    days = frame["event_timestamp"].dt.floor("D").to_numpy()
    found = card_precision_at_k(frame["is_fraud"].to_numpy(), frame["score"].to_numpy(),
                                frame["customer_id"].to_numpy(), days, k=2)  # fmt: skip
    # Day 1: cards 1 (0.9, its 23:54 fraud counts) and 2 (0.8, no fraud); card 3 is third.
    # Day 2: card 2 (0.95, fraud), then card 1 over card 5 at the tied 0.3 (lower id).
    # Day 3: card 3 alone (fewer active cards than k): a fraud.
    assert found["cards_alerted"] == 5
    assert found["card_precision_at_k"] == 3 / 5
    assert (found["card_precision_at_k_low"], found["card_precision_at_k_high"]) == wilson(3, 5)
    one_a_day = card_precision_at_k(frame["is_fraud"].to_numpy(), frame["score"].to_numpy(),
                                    frame["customer_id"].to_numpy(), days, k=1)  # fmt: skip
    assert (one_a_day["cards_alerted"], one_a_day["card_precision_at_k"]) == (3, 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        card_precision_at_k(frame["is_fraud"].to_numpy(), frame["score"].to_numpy(),
                            frame["customer_id"].to_numpy(), days, k=0)  # fmt: skip


def test_fraud_amount_caught_at_the_threshold() -> None:
    frame = hand_made()
    caught = amount_caught(frame["is_fraud"].to_numpy(), frame["score"].to_numpy(),
                           frame["amount"].to_numpy(), threshold=0.6)  # fmt: skip
    # Frauds: 10, 50, 20, 200, 70, 40 (390); scored >= 0.6: 50 and 200.
    assert caught == {"fraud_amount": 390.0, "fraud_amount_caught": 250.0,
                      "fraud_amount_share_caught": 250 / 390}  # fmt: skip


def test_evaluate_frame_reads_cards_days_and_amounts_from_the_holdout() -> None:
    frame = hand_made()
    result = evaluate_frame(frame, frame["score"].to_numpy(), 0.6, 0.1, alerts_per_day=2)
    assert result.card_precision_at_k == 3 / 5 and result.alerts_per_day == 2
    assert result.fraud_amount_caught == 250.0
    metrics = result.metrics()
    assert metrics["card_precision_at_k"] == 3 / 5 and "fpr_at_threshold" in metrics
    # Without cards and amounts the extra metrics are absent, not zero.
    bare = evaluate(frame["is_fraud"].to_numpy(), frame["score"].to_numpy(), 0.6, 0.1)
    assert bare.card_precision_at_k is None and "fraud_amount_caught" not in bare.metrics()


def test_reliability_table_bins_counts_and_wilson_intervals() -> None:
    # Bin [0.1, 0.2): ten rows, one fraud; bin [0.9, 1]: four rows, all fraud (1.0 included).
    scores = np.array([0.15] * 10 + [0.9, 0.95, 0.99, 1.0])
    y = np.array([1] + [0] * 9 + [1, 1, 1, 1])
    table = reliability_table(y, scores)
    assert [(row["bin_low"], row["count"]) for row in table] == [(0.1, 10), (0.9, 4)]
    low_bin, high_bin = table
    assert low_bin["observed_rate"] == 0.1 and low_bin["mean_predicted"] == pytest.approx(0.15)
    # The Wilson 95% interval of 1 in 10 (Wilson 1927; e.g. Newcombe 1998, table I).
    assert low_bin["observed_low"] == pytest.approx(0.0179, abs=1e-4)
    assert low_bin["observed_high"] == pytest.approx(0.4042, abs=1e-4)
    assert high_bin["observed_rate"] == 1.0 and high_bin["observed_high"] == pytest.approx(1.0)
    assert high_bin["observed_low"] == pytest.approx(0.5101, abs=1e-4)


PARAMS = TrainingSettings(holdout_days=8, validation_days=4, max_iter=40)


def test_train_calibrates_chooses_by_cost_and_the_card_records_both(tmp_path: Path) -> None:
    # Synthetic rows over 30 days with fraud common enough that the 4 validation days hold
    # hundreds of frauds; every label known at once (no arrival times, so no label gap).
    frame = training_frame(rows=8_000, seed=2)
    frame = frame.assign(customer_id=np.random.default_rng(2).integers(0, 500, len(frame)))
    data = write_parquet(frame, tmp_path / "t.parquet")
    gate = GateSettings()
    summary = steps.train(data, SMALL_LOOKED_UP, PARAMS, gate.target_fpr, tmp_path / "m.joblib",
                          gate.false_alarm_cost)  # fmt: skip
    model = FraudModel.load(tmp_path / "m.joblib")
    choice = model.threshold_choice
    calibration = summary["calibration"]
    assert model.calibrator is not None
    assert calibration["method"] == model.calibrator.method == PARAMS.calibration
    assert choice is not None and choice["threshold"] == model.threshold == summary["threshold"]
    assert choice["binding"] in ("cost", "fpr_budget") and choice["fpr"] <= gate.target_fpr
    assert model.threshold >= choice["fpr_budget"]

    evaluation = holdout_evaluation(tmp_path / "m.joblib", data, PARAMS, gate.target_fpr)
    assert evaluation.alerts_per_day == PARAMS.alerts_per_day
    assert evaluation.card_precision_at_k is not None and evaluation.reliability
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    registered = steps.register(tmp_path / "m.joblib", evaluation.to_dict(), {"passed": True},
                                data, PARAMS, registry, lineage={}, promote=False)  # fmt: skip
    card = registry.get(registered["version"]).card
    assert card["threshold_choice"] == choice
    assert card["calibration"] == calibration == choice["calibration"]
    assert card["reliability"] == evaluation.reliability
    assert card["metrics"]["card_precision_at_k"] == evaluation.card_precision_at_k


def test_a_validation_window_too_thin_to_calibrate_leaves_the_model_raw(tmp_path: Path) -> None:
    # Fraud only every few hundred rows: the 4 validation days hold fewer than 20 frauds.
    frame = training_frame(rows=8_000, seed=3)
    rare = frame["is_fraud"] & (np.random.default_rng(3).random(len(frame)) < 0.02)
    frame = frame.assign(is_fraud=rare, customer_id=np.arange(len(frame)) % 500)
    data = write_parquet(frame, tmp_path / "t.parquet")
    summary = steps.train(data, SMALL_LOOKED_UP, PARAMS, 0.01, tmp_path / "m.joblib")
    model = FraudModel.load(tmp_path / "m.joblib")
    assert model.calibrator is None
    calibration = summary["calibration"]
    assert calibration["method"] == "none" and calibration["requested"] == "platt"
    assert "frauds (it needs at least 20)" in calibration["reason"]
    assert model.threshold_choice is not None
    assert model.threshold_choice["calibration"] == calibration
