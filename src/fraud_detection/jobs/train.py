"""The training pipeline's workflows: run it on this machine (kfp.local), compile it, or submit
it to a KFP API server and wait for the run."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kfp

from fraud_detection.config import Settings
from fraud_detection.errors import PipelineRunError, StalePipelineError
from fraud_detection.jobs.events import Report, TrainingRun, discard
from fraud_detection.kfp_submit import SubmittedRun, run_arguments, upload_and_run
from fraud_detection.pipeline import local_run
from fraud_detection.pipeline.definition import PIPELINE_NAME, compile_pipeline
from fraud_detection.registry import ModelRegistry


def train(
    settings: Settings, *, promote: bool | None = None, force: bool = False,
    report: Report = discard,
) -> TrainingRun:  # fmt: skip
    """Run the training pipeline locally: train, gate, register, package (see
    `local_run.run` for `promote` and for when a previous run is reused)."""
    run = local_run.run(settings, promote=promote, force=force, report=report)
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    return TrainingRun(run, settings.model_name, production)


def compile_to(settings: Settings, out: Path | None = None) -> Path:
    """Compile the pipeline to `out` (default: the workspace's compiled pipeline)."""
    return compile_pipeline(out or settings.paths.compiled_pipeline)


def check_compiled(settings: Settings, out: Path | None = None) -> Path:
    """The compiled file, if it is what the code compiles to now.

    Raises:
        StalePipelineError: if it is missing or differs.
    """
    target = out or settings.paths.compiled_pipeline
    with tempfile.TemporaryDirectory() as tmp:
        fresh = compile_pipeline(Path(tmp) / target.name).read_text()
    if not target.exists() or target.read_text() != fresh:
        raise StalePipelineError(f"{target} is stale: run `make pipeline` and commit it")
    return target


def submit(
    settings: Settings, host: str, params: Sequence[str] = (), timeout_s: int = 3600,
    report: Report = discard,
) -> SubmittedRun:  # fmt: skip
    """Upload the compiled pipeline to the KFP API at `host`, run it with the settings (and
    `params`, `NAME=VALUE` each) as arguments, and wait for it to end.

    Raises:
        PipelineRunError: the API is unreachable, a param is malformed, or the run failed.
    """
    arguments: dict[str, Any] = run_arguments(settings, params)
    try:
        client = kfp.Client(host=host)
    except Exception as exc:  # connection and auth errors surface here as many types
        raise PipelineRunError(f"cannot reach the KFP API at {host}: {exc}") from exc
    return upload_and_run(
        client, settings.paths.compiled_pipeline, PIPELINE_NAME, arguments, timeout_s,
        report=report,
    )  # fmt: skip
