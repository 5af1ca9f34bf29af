"""The canary's quality evidence: both served models on labelled, point-in-time rows, compared by
a paired, customer-clustered bootstrap of candidate - stable.

Which rows. The candidate's holdout as the training pipeline built it (`probe.parquet` beside
its model card; versions registered before that file existed fall back to `reference.parquet`,
the holdout's newest rows): every transaction joined with the feature values as of its own event
time (Feast's point-in-time retrieval and the velocity definition serving uses), with its
matured label. The candidate was not fitted on those days, nor was its threshold chosen on them;
a stable model trained on an earlier window has not seen them either (one trained on a later
window has, which can only favour it: the error is then holding back, never shipping). A
request to a predictor cannot carry such rows: the server looks up the *latest* online
features, stamped at or after an old transaction, so a probe sent over HTTP scores each
labelled transaction with features from its future (look-ahead), and the two models are judged
on inputs neither will see in production.

Which models. The exact versions being served, loaded where the rollout runs: the stable model
by the version its predictor serves, the candidate from the files its predictor serves. The
live traffic sent over HTTP keeps measuring what only the real predictors can show (errors,
latency); the probe measures what only labelled, correctly-timed rows can show (quality). A
public request field that let callers replace the looked-up features would do the same over
HTTP, but would let any client decide what a model sees; it is not offered.

When the candidate's model runs here. Only after its predictor passed every live check (ready,
enough traffic, error rate, latency): a model that crashes or hangs its server would take the
rollout's own process down with it, and the canary it should remove would keep its traffic.
The stable model, production already, is always scored, so every verdict records its figures.

The decision (`analysis._quality`) is a non-inferiority test, because the error that matters
is shipping a worse model: a fraud model that misses more fraud costs money on every
transaction until monitoring notices, weeks later when the labels arrive, while a sound model
held back costs only the gain it would bring, and production keeps serving meanwhile. So the
candidate must show it is not worse by more than `max_quality_drop`: the lower end of the
interval of candidate - stable must lie at or above -max_quality_drop, on every metric. An
interval too wide to show it is "insufficient evidence", and rolls back too. `probe_rows` is
how many rows make the interval of two models of equal quality at most half the margin wide on
each side (`rows_needed` says why half).

The bootstrap is `fraud_detection.training.bootstrap`, the validation gate's: resampling
customers, not rows (a compromised card's burst of fraud is one case, not many), and both models
on the same resamples (their errors are correlated, so their difference is far less noisy than
either metric).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraud_detection.config import RolloutSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.data.io import read_parquet
from fraud_detection.errors import RolloutError
from fraud_detection.registry.local import PROBE_FILE, REFERENCE_FILE
from fraud_detection.training import bootstrap
from fraud_detection.training.model import FraudModel

CLUSTER = "customer_id"
# Where a registered version keeps labelled, point-in-time rows, best first.
PROBE_FILES = (PROBE_FILE, REFERENCE_FILE)


@dataclass(frozen=True)
class Comparison:
    """Candidate - stable on one metric: on the probe as it is, and its interval."""

    metric: str
    stable: float
    candidate: float
    difference: float
    lower: float
    upper: float

    @property
    def half_width(self) -> float:
        return (self.upper - self.lower) / 2


@dataclass(frozen=True)
class ProbeEvidence:
    """What the probe set showed: each model's metrics, and the paired comparisons.

    Attributes:
        source: The file the rows came from.
        rows, frauds, fraud_customers: The probe's size, in the units that set its noise.
        confidence: The two-sided level of every interval.
        stable, candidate: Each model's metrics on the probe (candidate empty when not scored).
        comparisons: Candidate - stable per metric; empty when no comparison was possible.
        problem: Why there is no comparison, when there is none.
    """

    source: str
    rows: int
    frauds: int
    fraud_customers: int
    confidence: float
    stable: dict[str, float]
    candidate: dict[str, float] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_rows(version_dir: Path) -> tuple[pd.DataFrame, str]:
    """The labelled, point-in-time rows registered with a version, and the file they came from.

    Raises:
        RolloutError: the version keeps none, or they lack the label or the customer id.
    """
    for name in PROBE_FILES:
        path = version_dir / name
        if path.exists():
            frame = read_parquet(path)
            missing = [c for c in (LABEL, CLUSTER, "event_timestamp") if c not in frame.columns]
            if missing:
                raise RolloutError(
                    f"{path} lacks {', '.join(missing)}: it holds no labelled probe rows; "
                    "register the candidate through the training pipeline"
                )
            return frame, str(path)
    raise RolloutError(
        f"{version_dir} keeps no labelled rows ({' or '.join(PROBE_FILES)}) to compare the "
        "candidate with production on; register it through the training pipeline"
    )


def gather(
    frame: pd.DataFrame, source: str, stable: FraudModel,
    candidate: Callable[[], FraudModel] | None, limits: RolloutSettings, target_fpr: float,
    seed: int, not_scored: str = "",
) -> ProbeEvidence:  # fmt: skip
    """Score the probe rows with both models and compare them.

    Args:
        frame: Labelled, point-in-time rows (`probe_rows`).
        stable: The model the stable predictor serves.
        candidate: Loads the model the candidate's predictor serves; None when it must not run
            here (it failed a live check), and `not_scored` then says why.
        target_fpr: The false-positive budget of `recall_at_fpr`.
        seed: Seeds the bootstrap's draws.
    """
    labels = frame[LABEL].to_numpy(dtype=np.int64)
    clusters = frame[CLUSTER].to_numpy()
    frauds = int(labels.sum())
    base = ProbeEvidence(
        source=source, rows=len(frame), frauds=frauds,
        fraud_customers=int(pd.Series(clusters[labels == 1]).nunique()),
        confidence=limits.confidence, stable={},
    )  # fmt: skip
    if frauds == 0 or frauds == len(frame):
        return replace(
            base, problem=f"insufficient evidence: the {len(frame):,} probe rows hold one class"
        )
    metrics = _metrics(limits, target_fpr)
    try:
        stable_scores = _score(stable, frame, "stable")
    except RolloutError as exc:
        return replace(base, problem=str(exc))
    found = replace(base, stable=_point(labels, stable_scores, clusters, metrics))
    if candidate is None:
        return replace(found, problem=not_scored or "the candidate's model was not scored")
    try:  # a model from outside this process: whatever it raises is its failure, not ours
        candidate_scores = _score(candidate(), frame, "candidate")
    except Exception as exc:
        problem = f"the candidate's model cannot score the probe rows ({type(exc).__name__}: {exc})"
        return replace(found, problem=problem)
    found = replace(found, candidate=_point(labels, candidate_scores, clusters, metrics))
    if found.fraud_customers < limits.min_fraud_customers:
        return replace(
            found,
            problem=f"insufficient evidence: the probe holds fraud of {found.fraud_customers} "
            f"customers, fewer than min_fraud_customers={limits.min_fraud_customers}",
        )
    differences = bootstrap.paired_differences(
        labels, candidate_scores, stable_scores, clusters, metrics,
        resamples=limits.bootstrap_resamples, seed=seed,
    )  # fmt: skip
    comparisons = {}
    for name, resampled in differences.items():
        lower, upper = resampled.interval(limits.confidence)
        comparisons[name] = Comparison(
            name, found.stable[name], found.candidate[name], resampled.estimate, lower, upper
        )
    return replace(found, comparisons=comparisons)


def rows_needed(rows: int, half_width: float, margin: float) -> int:
    """Rows for an interval of half-width `margin` / 2, from one of `half_width` on `rows` rows
    (the half-width shrinks as one over the square root of the rows, of the fraud customers at
    a steady fraud rate). Half the margin, not the margin: two models of equal quality then
    fall below -margin only when their estimate lies more than a half-width below zero, one
    time in 40 per metric; at a half-width equal to the margin it would be every other time."""
    if margin <= 0 or not math.isfinite(half_width):
        return 0
    return int(math.ceil(rows * (2 * half_width / margin) ** 2 / 1_000) * 1_000)


def _metrics(limits: RolloutSettings, target_fpr: float) -> dict[str, bootstrap.CurveMetric]:
    known = {"pr_auc": bootstrap.pr_auc, "recall_at_fpr": bootstrap.recall_at_fpr(target_fpr)}
    return {name: known[name] for name in limits.quality_metrics}


def _score(model: FraudModel, frame: pd.DataFrame, who: str) -> np.ndarray:
    missing = [name for name in model.looked_up if name not in frame.columns]
    if missing:
        raise RolloutError(
            f"the {who} model needs features {missing} that the probe rows lack: the two "
            "models read different feature services and cannot be compared on them"
        )
    scores: np.ndarray = np.asarray(model.score(frame), dtype=np.float64)
    return scores


def _point(
    labels: np.ndarray, scores: np.ndarray, clusters: np.ndarray,
    metrics: dict[str, bootstrap.CurveMetric],
) -> dict[str, float]:  # fmt: skip
    """Each metric on the probe as it is (every customer once)."""
    whole = np.ones((1, bootstrap.cluster_index(clusters)[1]))
    return {
        name: float(bootstrap.weighted_metric(labels, scores, clusters, whole, metric)[0])
        for name, metric in metrics.items()
    }
