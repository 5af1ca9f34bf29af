"""The training pipeline's settings parameters: one per section of `Settings`, validated where
each step runs.

    identity           Settings.identity   Identity          the model and feature service names
    ingest_settings    Settings.ingest     IngestSettings    the distribution checks at ingestion
    training_settings  Settings.training   TrainingSettings  split and hyperparameters
    gate_settings      Settings.gate       GateSettings      the FPR budget and the gate's floors
    rollout_settings   Settings.rollout    RolloutSettings   the canary on the cluster

Each is one JSON object (a KFP `dict` parameter), validated by the section's own model in
`fraud_detection.config` inside the step, so a field added to a section reaches every step that
reads the section without a change to the pipeline's signature. Beside them, `workspace` is
`Settings.workspace`, the root every path derives from (`config.Paths`).

One parameter per section rather than one `settings` object of everything: the KFP UI shows each
section on a line of its own, and each step takes only the sections it reads, so its cache key
changes with those alone (a rollout setting does not re-run training). `data` and
`monitor` are no parameters: no step reads them.

The compiled defaults are empty objects: a key left out takes the model's default where the step
runs, so config.py stays the one home of every default. The submitters (`local_run`, `fraud-
detection submit`, the monitor's retraining) send whole sections built from `Settings` by
`section_arguments`, so every run records the values it ran with.

Nothing here imports kfp: the components call these helpers inside their function bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fraud_detection.config import (
    GateSettings,
    IngestSettings,
    RolloutSettings,
    Settings,
    TrainingSettings,
)
from fraud_detection.errors import PackagingError, PipelineParameterError
from fraud_detection.identity import Identity

# Each settings parameter of the pipeline, and the field of `Settings` it carries.
SECTIONS: dict[str, str] = {
    "identity": "identity",
    "ingest_settings": "ingest",
    "training_settings": "training",
    "gate_settings": "gate",
    "rollout_settings": "rollout",
}

_Section = TypeVar("_Section", bound=BaseModel)


def section_arguments(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings parameters of a run, whole sections of `settings` as JSON objects."""
    return {
        parameter: getattr(settings, field).model_dump(mode="json")
        for parameter, field in SECTIONS.items()
    }


def parse(model: type[_Section], value: Mapping[str, Any] | str, parameter: str) -> _Section:
    """One section as a step receives it: an object, or its JSON text.

    KFP passes a `dict` parameter as a protobuf Struct, whose numbers are all doubles; pydantic
    takes 20.0 for an `int` field (and refuses 20.5).

    Raises:
        PipelineParameterError: a misspelt key or a value out of range, named.
    """
    try:
        data = json.loads(value or "{}") if isinstance(value, str) else dict(value)
    except (TypeError, ValueError) as exc:
        raise PipelineParameterError(
            f"pipeline parameter {parameter} is not a JSON object ({exc}): give an object of "
            f"{model.__name__} keys (src/fraud_detection/config.py), or {{}} for its defaults"
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or parameter}: {e['msg']}" for e in exc.errors()
        )
        raise PipelineParameterError(
            f"pipeline parameter {parameter} is invalid ({problems}); its keys and their limits "
            f"are {model.__name__} in src/fraud_detection/config.py"
        ) from exc


def identity(value: Mapping[str, Any] | str) -> Identity:
    """`identity`: names it omits come from the project.env beside the running package."""
    return parse(Identity, value, "identity")


def ingest(value: Mapping[str, Any] | str) -> IngestSettings:
    return parse(IngestSettings, value, "ingest_settings")


def training(value: Mapping[str, Any] | str) -> TrainingSettings:
    return parse(TrainingSettings, value, "training_settings")


def gate(value: Mapping[str, Any] | str) -> GateSettings:
    return parse(GateSettings, value, "gate_settings")


def rollout(value: Mapping[str, Any] | str) -> RolloutSettings:
    return parse(RolloutSettings, value, "rollout_settings")


def source_root() -> Path:
    """The project sources this package is installed from, editable: the checkout locally,
    /app in the pipeline image. The package step builds its Bento from them.

    Raises:
        PackagingError: the package is not an editable install of a checkout.
    """
    import fraud_detection

    root = Path(fraud_detection.__file__).resolve().parents[2]
    bentofile = root / "serving" / "bentofile.yaml"
    if not bentofile.is_file():
        raise PackagingError(
            f"no {bentofile}: the package step needs the project's sources; install the "
            "project from its checkout with `pip install -e .` (as the pipeline image does)"
        )
    return root
