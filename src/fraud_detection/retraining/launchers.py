"""Ways to start a retraining run: the local pipeline, or a run on the cluster's KFP API."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraud_detection.config import Settings
from fraud_detection.retraining.trigger import Window


def kfp_launcher(
    host: str, pipeline_package: Path, arguments: dict[str, Any],
    client_factory: Callable[[str], Any] | None = None,
) -> Callable[[Window, str], str]:  # fmt: skip
    """Submit the compiled pipeline to KFP with the window as run parameters.

    The run canaries its model on the InferenceService (`rollout=kserve`, `promote=False`)
    and pushes the canary's outcome to this process's Pushgateway, if it has one.
    """
    from fraud_detection.monitoring.push import URL_VARIABLE

    def launch(window: Window, reason: str) -> str:
        if client_factory is None:
            import kfp

            client = kfp.Client(host=host)
        else:
            client = client_factory(host)
        run_arguments = {
            **arguments, "rollout": "kserve", "promote": False,
            "pushgateway_url": os.environ.get(URL_VARIABLE, "").strip(),
        }  # fmt: skip
        run = client.create_run_from_pipeline_package(
            str(pipeline_package),
            arguments=run_arguments,
            run_name=f"retrain {window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M}",
            experiment_name="retraining",
        )
        return str(run.run_id)

    return launch


def cluster_run_arguments(settings: Settings) -> dict[str, Any]:
    """The pipeline parameters that carry this job's settings to the retraining run: every
    settings section the pipeline takes, whole (`fraud_detection.pipeline.parameters`). Without
    them every setting would take its default where the step runs, whatever `FRAUD_*` the
    monitor ran with."""
    from fraud_detection.pipeline.parameters import section_arguments

    return dict(section_arguments(settings))


def local_launcher(retrain: Callable[[], str]) -> Callable[[Window, str], str]:
    """Run `retrain` (the embedded pipeline and canary) in this process; it returns a run id."""

    def launch(window: Window, reason: str) -> str:
        return retrain()

    return launch
