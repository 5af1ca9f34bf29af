"""The evaluation report: its cost model, its sections, a registered copy beside the model card,
and a failure that leaves nothing behind, so the gate never runs on a half-written report."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fresh_interpreter import last_line_printed
from kfp import dsl
from training_data import holdout_evaluation, point_in_time_training_set

from fraud_detection.config import GateSettings, TrainingSettings
from fraud_detection.data.io import write_parquet
from fraud_detection.errors import EvaluationReportError
from fraud_detection.features.aggregates import PROFILE_FEATURES, STATS_FEATURES
from fraud_detection.pipeline.components import evaluate_model
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REPORT_FILE
from fraud_detection.training import report, steps
from fraud_detection.training.cost import cost_at, cost_curve
from fraud_detection.training.holdout_scores import ScoredHoldout
from fraud_detection.training.model import FraudModel
from fraud_detection.training.report import SECTIONS, ReportInputs, write_report
from fraud_detection.training.report_figures import Scored

LOOKED_UP = (*STATS_FEATURES, *PROFILE_FEATURES)
PARAMS = TrainingSettings(holdout_days=8, validation_days=4, max_iter=40)
GATE = GateSettings(min_roc_auc=0.5, min_pr_auc=0.05, min_recall_at_fpr=0.0)


def synthetic(champion: bool = True, n: int = 4_000) -> ReportInputs:
    """Labels, amounts and two models' scores: the candidate separates fraud better."""
    rng = np.random.default_rng(3)
    y = (rng.random(n) < 0.03).astype(int)
    amounts = rng.gamma(2.0, 40.0, n)

    def scores(signal: float) -> np.ndarray:
        return np.clip(rng.beta(1, 12, n) + signal * y * rng.random(n), 0, 1)

    return ReportInputs(
        y_true=y, amounts=amounts, candidate=Scored("candidate", scores(0.8), 0.3),
        champion=Scored("production abc123", scores(0.4), 0.25) if champion else None,
        target_fpr=0.01, false_alarm_cost=5.0,
    )  # fmt: skip


def test_cost_is_missed_fraud_amounts_plus_a_review_per_false_alarm() -> None:
    y = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.2, 0.8, 0.1, 0.5])
    amounts = np.array([100.0, 40.0, 7.0, 7.0, 7.0])
    # At 0.5: the fraud scored 0.2 is missed (40); 0.8 and 0.5 are false alarms (2 × 5).
    assert cost_at(y, scores, amounts, 5.0, 0.5) == 50.0
    curve = cost_curve(y, scores, amounts, 5.0, np.array([0.0, 0.5, 0.95]))
    np.testing.assert_array_equal(curve.missed_fraud, [0.0, 40.0, 140.0])
    np.testing.assert_array_equal(curve.false_alarms, [3, 2, 0])
    np.testing.assert_array_equal(curve.total, [15.0, 50.0, 140.0])
    assert curve.cheapest() == (0.0, 15.0)


def test_the_cost_curve_agrees_with_each_threshold_costed_alone() -> None:
    inputs = synthetic()
    y, s, amounts = inputs.y_true, inputs.candidate.scores, inputs.amounts
    curve = cost_curve(y, s, amounts, 5.0)
    expected = [cost_at(y, s, amounts, 5.0, t) for t in curve.thresholds]
    np.testing.assert_allclose(curve.total, expected)


def test_the_report_holds_every_section_both_models_and_no_network_reference(
    tmp_path: Path,
) -> None:
    page = write_report(synthetic(), tmp_path / "report.html", "fraud-detector").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    for section in set(SECTIONS) - {"summary"}:
        assert re.search(rf'Plotly.newPlot\(\s*"chart-{section}-0"', page), f"{section} not drawn"
    assert re.search(r'Plotly.newPlot\(\s*"chart-confusion-matrix-1"', page)  # production's
    assert page.count("production abc123") >= 5  # summary column and every chart
    assert "a false alarm costs a review, 5.00" in page
    # Self-contained: no script, stylesheet or font is fetched when the page is opened.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert "url(http" not in page


def test_writing_the_report_does_not_import_evidently(tmp_path: Path) -> None:
    """Evidently is the monitor's; the evaluate step of every pipeline run would pay its import
    (5-8 s) for a page plotly draws alone."""
    program = (
        "import sys, numpy as np; from pathlib import Path; "
        "from fraud_detection.training.report import ReportInputs, write_report; "
        "from fraud_detection.training.report_figures import Scored; "
        "y = np.array([0, 1] * 50); s = np.linspace(0, 1, 100); "
        "inputs = ReportInputs(y, s * 100, Scored('candidate', s, 0.5), None, 0.01, 5.0); "
        f"write_report(inputs, Path({str(tmp_path / 'r.html')!r}), 'fd'); "
        "print('evidently' in sys.modules)"
    )
    assert last_line_printed(program, tmp_path) == "False"
    assert (tmp_path / "r.html").exists()


def test_without_production_the_candidate_is_shown_alone(tmp_path: Path) -> None:
    page = write_report(synthetic(champion=False), tmp_path / "r.html", "fd").read_text()
    assert "no production model yet" in page and "production abc123" not in page
    assert all(f'<section id="{section}">' in page for section in SECTIONS)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the NaN scores
def test_a_report_that_cannot_be_built_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    inputs = synthetic()
    broken = Scored("candidate", np.full_like(inputs.candidate.scores, np.nan), 0.3)
    out = tmp_path / "report.html"
    with pytest.raises(EvaluationReportError, match="cannot build the evaluation report"):
        write_report(ReportInputs(**{**vars(inputs), "candidate": broken}), out, "fd")
    assert list(tmp_path.iterdir()) == []


def test_a_write_cut_short_leaves_no_report_and_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.html"
    out.write_text("the previous run's report")

    fdopen = os.fdopen

    class CutShort:
        """A file that takes half of what it is given, then reports the disk full."""

        def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
            self.file = fdopen(fd, *args, **kwargs)

        def __enter__(self) -> CutShort:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, text: str) -> int:
            self.file.write(text[: len(text) // 2])
            self.file.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", CutShort)
    with pytest.raises(EvaluationReportError, match="No space left"):
        write_report(synthetic(), out, "fd")
    assert out.read_text() == "the previous run's report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training set and two models fitted on it (the second one weaker)."""
    root = tmp_path_factory.mktemp("trained")
    data = write_parquet(point_in_time_training_set(n_customers=300, days=30), root / "t.parquet")
    weaker = PARAMS.model_copy(update={"max_iter": 10, "seed": 8})
    for name, params in (("candidate", PARAMS), ("champion", weaker)):
        steps.train(data, LOOKED_UP, params, GATE.target_fpr, root / f"{name}.joblib")
    return {
        "data": data,
        "candidate": root / "candidate.joblib",
        "champion": root / "champion.joblib",
    }


def test_the_report_draws_production_and_is_kept_beside_the_model_card(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    champion = registry.register(trained["champion"], {})
    registry.promote(champion.version, reason="first")
    out = tmp_path / "report.html"
    evaluation = steps.evaluate_step(trained["candidate"], trained["data"], PARAMS, GATE,
                                     registry, out, tmp_path / "scores.pq")  # fmt: skip
    assert f"production {champion.version}" in out.read_text()

    registered = steps.register(
        trained["candidate"], evaluation.metrics(), {"passed": True}, trained["data"], PARAMS,
        registry, lineage={}, promote=False, report_path=out,
    )  # fmt: skip
    version = registry.get(registered["version"])
    assert (version.path / REPORT_FILE).read_text() == out.read_text()
    assert REPORT_FILE in version.card["files"]


def test_the_evaluate_step_on_one_read_equals_its_parts(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    """`evaluate_step` (one read of the holdout, each model scored once) gives the metrics of
    the candidate scoring the holdout itself, the scores file of each model's scores on the
    holdout's rows, and the report with production beside the candidate."""
    registry = ModelRegistry(tmp_path / "registry", "fraud-detector")
    champion = registry.register(trained["champion"], {})
    registry.promote(champion.version, reason="first")
    candidate, data = trained["candidate"], trained["data"]
    whole = steps.evaluate_step(
        candidate, data, PARAMS, GATE, registry, tmp_path / "whole.html", tmp_path / "whole.pq"
    )
    apart = holdout_evaluation(candidate, data, PARAMS, GATE.target_fpr)
    assert whole.to_dict() == apart.to_dict()
    stored = ScoredHoldout.read(tmp_path / "whole.pq")
    holdout = steps._holdout(data, PARAMS)
    assert stored.champion_version == champion.version
    np.testing.assert_array_equal(stored.transaction_ids, holdout["transaction_id"].to_numpy())
    np.testing.assert_array_equal(
        stored.candidate.scores, FraudModel.load(candidate).score(holdout)
    )
    assert stored.champion is not None
    np.testing.assert_array_equal(stored.champion.scores, champion.load().score(holdout))
    report_text = (tmp_path / "whole.html").read_text()
    assert f"production {champion.version}" in report_text


def test_the_evaluate_step_writes_no_gate_input_when_its_report_fails(
    trained: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate reads the `evaluation` and `holdout_scores` artifacts: a failed report must
    leave them unwritten."""

    def refuse(*args: Any) -> str:
        raise ValueError("plotly refused the data")

    monkeypatch.setattr(report, "render", refuse)
    names = ("metrics", "curves", "report", "evaluation", "holdout_scores")
    outputs = {name: tmp_path / name for name in names}
    with pytest.raises(EvaluationReportError, match="plotly refused the data"):
        evaluate_model.python_func(
            model=dsl.Model(uri=str(trained["candidate"])),
            training_set=dsl.Dataset(uri=str(trained["data"])),
            workspace=str(tmp_path), identity={},
            training_settings=PARAMS.model_dump(), gate_settings={},
            metrics=dsl.Metrics(uri=str(outputs["metrics"])),
            curves=dsl.ClassificationMetrics(uri=str(outputs["curves"])),
            report=dsl.HTML(uri=str(outputs["report"])),
            evaluation=dsl.Artifact(uri=str(outputs["evaluation"])),
            holdout_scores=dsl.Dataset(uri=str(outputs["holdout_scores"])),
        )  # fmt: skip
    assert not any(outputs[name].exists() for name in ("evaluation", "report", "holdout_scores"))
