"""Upload the compiled training pipeline to a KFP API server and run it (`make deploy`).

The pipeline is uploaded once under its name, then once per distinct compiled file as a
pipeline version named by the file's digest, so the KFP UI shows which code each run used and a
re-deploy of unchanged code reuses its version. The run waits for completion; anything but
SUCCEEDED is an error that names the run. The run's arguments carry the settings of the
submitting process (`run_arguments`): a `FRAUD_*` setting reaches every step on the cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraud_detection.config import Settings
from fraud_detection.errors import PipelineRunError
from fraud_detection.pipeline.parameters import SECTIONS, section_arguments

EXPERIMENT = "deploy"


@dataclass(frozen=True)
class SubmittedRun:
    run_id: str
    pipeline_version: str
    state: str


def package_version(package: Path) -> str:
    """The pipeline version name: the compiled file's digest (changes exactly with the code)."""
    return "sha256-" + hashlib.sha256(package.read_bytes()).hexdigest()[:16]


def run_arguments(settings: Settings, params: Sequence[str] = ()) -> dict[str, Any]:
    """A run's arguments: every settings section of `settings`, whole, then each `NAME=VALUE`
    of `params` (`--param`), typed as YAML reads it (7 → int, false → bool, {...} → object), as
    the KFP API checks parameter types. A section given as a param is merged over the one from
    `settings`: `training_settings={"max_iter": 200}` changes that key alone.

    Raises:
        PipelineRunError: a param that is not NAME=VALUE, or a section that is not an object.
    """
    import yaml

    arguments: dict[str, Any] = dict(section_arguments(settings))
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise PipelineRunError(f"--param {item!r}: expected NAME=VALUE")
        parsed = yaml.safe_load(value) if value else value
        if name in SECTIONS:
            if not isinstance(parsed, dict):
                raise PipelineRunError(
                    f"--param {item!r}: {name} is a settings section, one JSON object "
                    f"(e.g. {name}='{{\"key\": value}}')"
                )
            parsed = {**arguments[name], **parsed}
        arguments[name] = parsed
    return arguments


def upload_and_run(
    client: Any,
    package: Path,
    pipeline_name: str,
    arguments: dict[str, Any],
    timeout_seconds: int,
    report: Callable[[str], None] = lambda _: None,
) -> SubmittedRun:
    """Upload `package` as a version of `pipeline_name`, run it and wait for the result.

    `client` is a `kfp.Client` (any object with its methods, for tests).
    """
    if not package.is_file():
        raise PipelineRunError(f"no compiled pipeline at {package}: run `make pipeline` first")
    version_name = package_version(package)
    try:
        pipeline_id = client.get_pipeline_id(pipeline_name)
        if pipeline_id is None:
            report(f"uploading pipeline {pipeline_name}")
            pipeline_id = client.upload_pipeline(str(package), pipeline_name).pipeline_id
        version_id = _version_id(client, pipeline_id, version_name)
        if version_id is None:
            report(f"uploading pipeline version {version_name}")
            version_id = client.upload_pipeline_version(
                str(package), version_name, pipeline_id=pipeline_id
            ).pipeline_version_id
        experiment = client.create_experiment(EXPERIMENT)
        run = client.run_pipeline(
            experiment.experiment_id,
            f"{pipeline_name} {version_name}",
            params=arguments,
            pipeline_id=pipeline_id,
            version_id=version_id,
        )
        report(f"run {run.run_id} started; waiting up to {timeout_seconds} s")
        finished = client.wait_for_run_completion(run.run_id, timeout=timeout_seconds)
    except PipelineRunError:
        raise
    except Exception as exc:  # the KFP client raises many types: name the call that failed
        raise PipelineRunError(f"KFP API call failed: {type(exc).__name__}: {exc}") from exc
    state = str(finished.state)
    if state != "SUCCEEDED":
        raise PipelineRunError(f"pipeline run {run.run_id} ended {state}; see the KFP UI")
    return SubmittedRun(run_id=str(run.run_id), pipeline_version=version_name, state=state)


def _version_id(client: Any, pipeline_id: str, version_name: str) -> str | None:
    token = ""
    while True:
        page = client.list_pipeline_versions(pipeline_id, page_token=token, page_size=100)
        for version in page.pipeline_versions or []:
            if version.display_name == version_name:
                return str(version.pipeline_version_id)
        token = page.next_page_token or ""
        if not token:
            return None
