"""The training pipeline's model steps as plain functions over files: train, evaluate, gate and
register (the data steps before them are in `training.data_steps`).

Each KFP component in `fraud_detection.pipeline.components` is a thin adapter that calls one of
these, so the same code runs in a cluster pod, under `kfp.local`, and in unit tests without kfp.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraud_detection.config import GateSettings, TrainingSettings
from fraud_detection.data.contract import LABEL
from fraud_detection.data.io import read_parquet, write_parquet
from fraud_detection.errors import TrainingError
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.registry.local import PROBE_FILE, REFERENCE_FILE, REPORT_FILE
from fraud_detection.training.calibration import fit_calibrator
from fraud_detection.training.cost import choose_threshold
from fraud_detection.training.evaluate import Evaluation, evaluate, evaluate_frame
from fraud_detection.training.gate import GateDecision, Holdout, HoldoutScores, decide
from fraud_detection.training.holdout_scores import ScoredHoldout
from fraud_detection.training.model import FraudModel, fit
from fraud_detection.training.report import ReportInputs, write_report
from fraud_detection.training.report_figures import Scored
from fraud_detection.training.split import time_split

# Rows of the holdout kept with the model as the monitoring reference: the whole default holdout
# (ten days of about 9,000). The monitor's per-card design effect leaves a 20,000-row reference
# too noisy to see a 5x fraud attack in a 72-hour window; 90,000 rows see it in 96 % of windows
# (docs/monitoring.md, "Detection matrix").
REFERENCE_ROWS = 90_000


def train(
    training_set_path: Path, looked_up: tuple[str, ...], params: TrainingSettings,
    target_fpr: float, model_path: Path, false_alarm_cost: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Fit on the train split; on the validation split, fit the calibrator and pick the
    decision threshold on the calibrated scores: the cheapest (missed fraud amount plus
    `false_alarm_cost` per false alarm) whose false-positive rate stays within `target_fpr`.

    Calibrator and threshold share the validation rows: the default calibrator (Platt) is
    strictly increasing, so it leaves the validation ranking, hence every threshold's flagged
    set and cost there, as they were; a held-apart slice would only halve the frauds each fit
    sees (docs/design.md, "Calibrated scores and a threshold chosen by cost").

    Args:
        looked_up: The feature-store features in the training set (from `build_training_set`).
        false_alarm_cost: What a false alarm costs; default `GateSettings().false_alarm_cost`.
    """
    frame = read_parquet(training_set_path)
    missing = [name for name in looked_up if name not in frame.columns]
    if missing:
        raise TrainingError(f"training set {training_set_path} lacks features {missing}")
    if false_alarm_cost is None:
        false_alarm_cost = GateSettings().false_alarm_cost
    split = time_split(
        frame, params.holdout_days, params.validation_days,
        label_gap_days=params.label_gap_days, cutoff=params.label_cutoff,
    )  # fmt: skip
    model = fit(split.train, tuple(looked_up), params)
    validation = split.validation
    labels = validation[LABEL].to_numpy()
    raw = model.score(validation)  # no calibrator yet: the trees' probability
    calibration = _fit_calibration(model, raw, labels, params)
    choice = choose_threshold(
        labels, model.calibrate(raw), validation["amount"].to_numpy(dtype=float),
        false_alarm_cost, target_fpr,
    )  # fmt: skip
    model.threshold = choice.threshold
    # The calibration the threshold's scale comes from, with the reason when it was skipped.
    model.threshold_choice = {**choice.to_dict(), "calibration": calibration}
    model.save(model_path)
    return {
        "train_rows": len(split.train),
        "threshold": model.threshold,
        "threshold_choice": model.threshold_choice,
        "calibration": calibration,
        "params": params.model_dump(),
        "window": split.window(),
    }


def _fit_calibration(
    model: FraudModel, raw: np.ndarray, labels: np.ndarray, params: TrainingSettings
) -> dict[str, Any]:
    """Give `model` the calibrator `params.calibration` asks for, fitted on the validation
    window; what was fitted, for the training summary.

    A window too thin to calibrate on (too few frauds, or frauds scored below the legitimate
    rows) leaves the model uncalibrated rather than failing the run: its threshold is then
    chosen on the trees' own scale, so decisions stay consistent, and the model card says why.
    """
    try:
        model.calibrator = fit_calibrator(raw, labels, params.calibration)
    except TrainingError as exc:
        model.calibrator = None
        return {"method": "none", "requested": params.calibration, "reason": str(exc)}
    return _calibration(model)


def _calibration(model: FraudModel) -> dict[str, Any]:
    """What the model's calibrator is, for the model card."""
    return {"method": "none"} if model.calibrator is None else model.calibrator.describe()


def gate(
    model_path: Path, evaluation: dict[str, Any], training_set_path: Path,
    params: TrainingSettings, registry: ModelRegistry, thresholds: GateSettings,
    scores_path: Path | None = None,
) -> GateDecision:  # fmt: skip
    """Judge the candidate on the holdout: the floors, its operating point at its deployed
    threshold, and a paired, customer-clustered comparison with production on the same holdout
    rows (`training.gate.decide`).

    Args:
        model_path: The candidate (its holdout scores and deployed threshold).
        evaluation: Its holdout metrics (`evaluate_step`'s).
        scores_path: The holdout's scores (`evaluate_step`'s file), used when they are this
            holdout's and current production's; else the models score it here.
    """
    metrics = {k: float(v) for k, v in evaluation.items() if isinstance(v, int | float)}
    holdout = _holdout(training_set_path, params)
    model = FraudModel.load(model_path)
    rows = Holdout(
        labels=holdout[LABEL].to_numpy(),
        customers=holdout["customer_id"].to_numpy(),
        days=float(params.holdout_days),
    )
    champion = registry.production()
    scored_holdout = _scored(model, holdout, registry, scores_path, champion)
    candidate = HoldoutScores(metrics, scored_holdout.candidate.scores, model.threshold)
    if champion is None:
        return decide(candidate, rows, thresholds)
    scored = scored_holdout.champion
    if scored is None:  # `_scored` scores production whenever there is one; never silently skip
        raise TrainingError(f"no scores of production {champion.version} on this holdout")
    champion_eval = evaluate(
        holdout[LABEL].to_numpy(), scored.scores, scored.threshold, thresholds.target_fpr
    )
    production = HoldoutScores(
        champion_eval.metrics(), scored.scores, scored.threshold, champion.version
    )
    return decide(candidate, rows, thresholds, production)


def evaluate_step(
    model_path: Path, training_set_path: Path, params: TrainingSettings,
    thresholds: GateSettings, registry: ModelRegistry, report_path: Path, scores_path: Path,
) -> Evaluation:  # fmt: skip
    """The pipeline's evaluate step whole, on one read of the holdout: score it once per model,
    write the report, then the scores for the gate and register (`training.holdout_scores`), and
    return the candidate's holdout metrics.

    Raises:
        EvaluationReportError: if the report cannot be built; the scores are not written then.
        TrainingError: if production cannot score this holdout (the gate would refuse too).
    """
    model = FraudModel.load(model_path)
    holdout = _holdout(training_set_path, params)
    scored = _scored(model, holdout, registry, None)
    _write_report(holdout, scored, thresholds, registry, report_path)
    scored.write(scores_path)
    return evaluate_frame(
        holdout, scored.candidate.scores, model.threshold, thresholds.target_fpr,
        params.alerts_per_day,
    )  # fmt: skip


def _write_report(
    holdout: pd.DataFrame, scored: ScoredHoldout, thresholds: GateSettings,
    registry: ModelRegistry, out_path: Path,
) -> Path:  # fmt: skip
    inputs = ReportInputs(
        y_true=holdout[LABEL].to_numpy(),
        amounts=holdout["amount"].to_numpy(dtype=float),
        candidate=scored.candidate,
        champion=scored.champion,
        target_fpr=thresholds.target_fpr,
        false_alarm_cost=thresholds.false_alarm_cost,
    )
    return write_report(inputs, out_path, f"{registry.name}: evaluation of the candidate")


def _scored(
    model: FraudModel, holdout: pd.DataFrame, registry: ModelRegistry, scores_path: Path | None,
    champion: RegisteredModel | None = None,
) -> ScoredHoldout:  # fmt: skip
    """The candidate's and production's scores on `holdout`: read from `scores_path` when they
    are scores of these rows with this production, else computed here."""
    champion = champion or registry.production()
    version = None if champion is None else champion.version
    if scores_path is not None:
        stored = ScoredHoldout.read(scores_path)
        if stored.matches(holdout, version):
            return stored
    return ScoredHoldout(
        transaction_ids=holdout["transaction_id"].to_numpy(),
        candidate=Scored("candidate", model.score(holdout), model.threshold),
        champion=None if champion is None else _champion_scored(champion, holdout),
        champion_version=version,
    )


def _candidate_scores(
    model: FraudModel, holdout: pd.DataFrame, scores_path: Path | None
) -> np.ndarray:
    """The candidate's scores on `holdout`, from `scores_path` when they are these rows'."""
    if scores_path is not None:
        stored = ScoredHoldout.read(scores_path)
        if stored.scores_rows_of(holdout):
            return stored.candidate.scores
    return model.score(holdout)


def _champion_scored(champion: RegisteredModel, holdout: pd.DataFrame) -> Scored:
    """Production's scores on the candidate's holdout (the champion/challenger comparison)."""
    champion_model = champion.load()
    missing = [c for c in champion_model.looked_up if c not in holdout.columns]
    if missing:
        raise TrainingError(
            f"production model {champion.version} needs features {missing} that the training "
            "set lacks; it cannot be compared on this holdout (promote by hand if intended)"
        )
    return Scored(
        f"production {champion.version}", champion_model.score(holdout), champion_model.threshold
    )


def register(
    model_path: Path, evaluation: dict[str, Any], decision: dict[str, Any],
    training_set_path: Path, params: TrainingSettings, registry: ModelRegistry,
    lineage: dict[str, Any], promote: bool, report_path: Path | None = None,
    scores_path: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Register a gated model with its model card, monitoring reference (its scores from
    `scores_path`, the `evaluate_step` file, when they are this holdout's) and evaluation
    report (`report_path`, kept beside the card); optionally promote.

    Refuses a model whose gate decision did not pass, whatever the caller's wiring.
    """
    if not decision.get("passed"):
        raise TrainingError("refusing to register a model that did not pass the gate")
    model = FraudModel.load(model_path)
    holdout = _holdout(training_set_path, params)
    scores = _candidate_scores(model, holdout, scores_path)
    reference = holdout.assign(prediction=scores).tail(REFERENCE_ROWS)
    card = {
        "metrics": {k: v for k, v in evaluation.items() if isinstance(v, int | float)},
        "gate": decision,
        "threshold": model.threshold,
        # How the threshold was chosen on the validation window, and the calibrated scores'
        # reliability on the holdout (observed fraud rate per score bin, Wilson intervals).
        "threshold_choice": model.threshold_choice,
        "calibration": (model.threshold_choice or {}).get("calibration", _calibration(model)),
        "reliability": evaluation.get("reliability", []),
        "features": model.feature_columns,
        "feature_store_features": list(model.looked_up),
        # Serving reads the features of this service, whatever service is current then.
        "feature_service": str(lineage.get("feature_service", "")),
        "split": {"holdout_days": params.holdout_days, "validation_days": params.validation_days},
        "lineage": lineage,
    }
    with tempfile.TemporaryDirectory() as tmp:
        reference_path = write_parquet(reference, Path(tmp) / REFERENCE_FILE)
        extra = {
            REFERENCE_FILE: reference_path,
            PROBE_FILE: write_parquet(holdout, Path(tmp) / PROBE_FILE),
        }
        if report_path is not None:
            extra[REPORT_FILE] = report_path
        registered = registry.register(model_path, card, extra)
    production = registry.production()
    promoted = False
    if promote and (production is None or production.version != registered.version):
        registry.promote(registered.version, reason="passed the validation gate")
        promoted = True
    return {"version": registered.version, "promoted": promoted, "path": str(registered.path)}


def _holdout(training_set_path: Path, params: TrainingSettings) -> pd.DataFrame:
    frame = read_parquet(training_set_path)
    return time_split(
        frame, params.holdout_days, params.validation_days,
        label_gap_days=params.label_gap_days, cutoff=params.label_cutoff,
    ).holdout  # fmt: skip


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))
