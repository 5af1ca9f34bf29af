"""Monitoring on real served traffic: the scoring server logs it, the job judges it."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec
from fraud_detection.data.io import read_parquet
from fraud_detection.jobs.retrain import Embedded, start_retraining
from fraud_detection.monitoring import traffic
from fraud_detection.monitoring.job import run_monitor
from fraud_detection.registry import ModelRegistry
from fraud_detection.retraining.trigger import RetrainingTrigger, Window
from fraud_detection.serving import local_server
from fraud_detection.serving.model_store import save_to_bentoml

pytestmark = pytest.mark.integration


def reset_card_events(settings: Settings) -> None:
    """The card events as the history left them. The workspace is a copy of a shared one:
    other tests score transactions of the same day through it, and every scored transaction
    counts in its card's velocity, which the monitor would rightly see as drift in the 24-hour
    counts."""
    from fraud_detection.features import store as feature_store

    store = feature_store.open_store(settings.paths.feature_repo)
    transactions = read_parquet(settings.paths.transactions)
    end = settings.data.end_timestamp()
    feature_store.backfill_card_events(store, transactions, end, replace=True)


def own_copy(settings: Settings, root: Path) -> tuple[Settings, str]:
    """A copy of the workspace with its card events reset, and its production model's tag."""
    shutil.copytree(settings.paths.root, root)
    settings = settings.model_copy(update={"workspace": root})
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    reset_card_events(settings)
    return settings, save_to_bentoml(production, settings.paths.bentoml_home)


def serve_and_log(settings: Settings, model_tag: str, out: Path, drift: DriftSpec) -> Path:
    log_dir = out / "log"
    with local_server.serve(
        project_root=settings.paths.root, bentoml_home=settings.paths.bentoml_home,
        model_tag=model_tag, feature_repo=settings.paths.feature_repo,
        log_file=out / "server.log",
        extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(log_dir)},
    ) as server:  # fmt: skip
        frame = traffic.fresh_transactions(settings, drift, 600, seed=101)
        assert traffic.send(server.url, frame) == len(frame)
    traffic.write_labels(out / "labels", frame, "labels")
    return log_dir


DRIFT = DriftSpec(amount_scale=2.5, distance_scale=3, night_share=0.3)


@pytest.fixture(scope="module")
def logs(trained_workspace: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The prediction logs of normal and of drifted traffic. Each is served from a workspace of
    its own, so that neither's traffic counts in the other's card velocity, and so both servers
    can start side by side (a start is mostly imports and model loading, a core each)."""
    out = tmp_path_factory.mktemp("monitoring")
    worlds = {"normal": DriftSpec(), "drifted": DRIFT}
    copies = {name: own_copy(trained_workspace, out / name / "workspace") for name in worlds}
    with ThreadPoolExecutor(len(worlds)) as pool:
        served = {
            name: pool.submit(serve_and_log, *copies[name], out / name, drift)
            for name, drift in worlds.items()
        }
    return {name: future.result() for name, future in served.items()}


def test_undrifted_traffic_does_not_drift_and_is_judged_on_its_labels(
    trained_workspace: Settings, logs: dict[str, Path]
) -> None:
    result = run_monitor(trained_workspace, log_dir=logs["normal"])
    assert result.verdict.status == "ok", result.verdict.reasons
    assert result.verdict.rows >= 500 and result.verdict.skipped_records == 0
    assert result.drift is not None and result.drift["drifted_share"] <= 0.3
    verdict = json.loads((result.out_dir / "verdict.json").read_text())
    assert verdict["exit_code"] == 0
    assert 'fraud_monitor_status{status="ok"} 1' in (result.out_dir / "metrics.prom").read_text()

    labelled = run_monitor(
        trained_workspace, log_dir=logs["normal"], labels_dir=logs["normal"].parent / "labels"
    )
    assert labelled.quality is not None and labelled.quality["status"] == "evaluated"
    assert labelled.quality["rows_labelled"] == result.verdict.rows
    assert (labelled.out_dir / "quality.html").exists()


def test_drifted_traffic_is_flagged_for_retraining(
    trained_workspace: Settings, logs: dict[str, Path]
) -> None:
    result = run_monitor(trained_workspace, log_dir=logs["drifted"])
    assert result.verdict.status == "drift" and result.verdict.exit_code == 10
    assert result.drift is not None
    assert "amount" in result.drift["drifted_columns"]
    assert "<html" in Path(result.drift["html"]).read_text()[:2000].lower()
    assert result.quality is not None and result.quality["status"] == "skipped: no labels"


def test_an_empty_window_is_insufficient_data(trained_workspace: Settings, tmp_path: Path) -> None:
    result = run_monitor(trained_workspace, log_dir=tmp_path / "empty")
    assert result.verdict.status == "insufficient_data" and result.verdict.exit_code == 12


def test_drift_closes_the_loop_with_a_retrained_candidate_once_per_window(
    trained_workspace: Settings, logs: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(trained_workspace.paths.root, root)
    settings = trained_workspace.model_copy(update={"workspace": root})
    registry = ModelRegistry(settings.paths.registry, settings.model_name)
    before = registry.production()
    assert before is not None
    result = run_monitor(settings, log_dir=logs["drifted"])
    assert result.verdict.retrain

    retraining = start_retraining(settings, result, Embedded(DRIFT))

    assert retraining.trigger.status == "started"
    outcome = retraining.outcome
    assert outcome is not None and outcome.gate is True and outcome.canary is not None
    candidate = outcome.canary.candidate_version
    assert candidate == outcome.version != before.version
    assert {m.version for m in registry.versions()} >= {before.version, candidate}
    assert outcome.canary.record.exists()  # the canary's evidence
    production = registry.production()
    assert production is not None
    assert production.version == (candidate if outcome.promoted else before.version)
    # The workspace's one trigger (whoever calls it) recorded the run: not twice per window.
    runs = RetrainingTrigger.of(settings).runs()
    assert runs[Window(*result.window).key]["status"] == "succeeded"
    again = start_retraining(settings, result, Embedded(DRIFT))
    assert again.trigger.status == "already_done" and again.outcome is None
