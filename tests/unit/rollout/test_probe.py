"""The probe set's evidence (`rollout.probe`): where the rows come from, what is scored when, and
figures equal to the evaluation's on the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraud_detection.config import RolloutSettings
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import RolloutError
from fraud_detection.registry.local import PROBE_FILE, REFERENCE_FILE
from fraud_detection.rollout.probe import gather, probe_rows
from fraud_detection.training.evaluate import evaluate

LIMITS = RolloutSettings(bootstrap_resamples=200)


class Scores:
    """A model stand-in: its score is a column of the probe rows."""

    looked_up: tuple[str, ...] = ()

    def __init__(self, column: str) -> None:
        self.column = column

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        values: np.ndarray = frame[self.column].to_numpy(dtype=float)
        return values


class Broken:
    looked_up: tuple[str, ...] = ()

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("injected scoring failure")


def rows(customers: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    customer = np.repeat(np.arange(customers), 20)
    fraud = (rng.random(len(customer)) < 0.02).astype(int)
    good = np.clip(0.3 * rng.random(len(customer)) + 0.5 * fraud, 0, 1)
    return pd.DataFrame({
        "customer_id": customer, "is_fraud": fraud,
        "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
        "good": good, "noisy": np.clip(good + 0.2 * rng.random(len(customer)), 0, 1),
    })  # fmt: skip


def test_the_rows_come_from_the_whole_holdout_else_the_reference(tmp_path: Path) -> None:
    with pytest.raises(RolloutError, match="keeps no labelled rows"):
        probe_rows(tmp_path)
    write_parquet(rows().head(100), tmp_path / REFERENCE_FILE)
    assert probe_rows(tmp_path)[1].endswith(REFERENCE_FILE)
    write_parquet(rows(), tmp_path / PROBE_FILE)
    frame, source = probe_rows(tmp_path)
    assert source.endswith(PROBE_FILE) and len(frame) == 6_000
    write_parquet(rows().drop(columns="is_fraud"), tmp_path / PROBE_FILE)
    with pytest.raises(RolloutError, match="lacks is_fraud"):
        probe_rows(tmp_path)


def test_each_models_figures_are_the_evaluations_on_the_same_rows() -> None:
    frame = rows()
    found = gather(frame, "p", Scores("good"), lambda: Scores("noisy"), LIMITS, 0.01, seed=0)  # type: ignore[arg-type,return-value]
    labels = frame["is_fraud"].to_numpy()
    for who, column in (("stable", "good"), ("candidate", "noisy")):
        expected = evaluate(labels, frame[column].to_numpy(), 0.5, 0.01)
        figures = getattr(found, who)
        assert figures["pr_auc"] == pytest.approx(expected.pr_auc, abs=1e-12)
        assert figures["recall_at_fpr"] == pytest.approx(expected.recall_at_fpr, abs=1e-12)
    comparison = found.comparisons["pr_auc"]
    assert comparison.lower <= comparison.difference <= comparison.upper
    assert comparison.difference == pytest.approx(
        found.candidate["pr_auc"] - found.stable["pr_auc"]
    )


def test_a_candidate_that_failed_live_checks_is_not_run_but_stable_is_scored() -> None:
    found = gather(rows(), "p", Scores("good"), None, LIMITS, 0.01, 0, not_scored="not scored: x")  # type: ignore[arg-type]
    assert found.problem == "not scored: x" and not found.comparisons
    assert set(found.stable) == {"pr_auc", "recall_at_fpr"} and found.candidate == {}


def test_a_candidate_model_that_raises_is_its_failure() -> None:
    found = gather(rows(), "p", Scores("good"), lambda: Broken(), LIMITS, 0.01, 0)  # type: ignore[arg-type,return-value]
    assert "RuntimeError: injected scoring failure" in found.problem
    assert not found.comparisons


def test_too_few_customers_with_fraud_is_insufficient_evidence() -> None:
    found = gather(rows(customers=20), "p", Scores("good"), lambda: Scores("good"), LIMITS, 0.01, 0)  # type: ignore[arg-type,return-value]
    assert found.fraud_customers < LIMITS.min_fraud_customers
    assert found.problem.startswith("insufficient evidence: the probe holds fraud of")
