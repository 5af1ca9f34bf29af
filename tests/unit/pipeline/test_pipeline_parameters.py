"""The pipeline's settings parameters, read back as the steps read them (no kfp needed)."""

from __future__ import annotations

import pytest

from fraud_detection.config import Settings
from fraud_detection.errors import PipelineParameterError
from fraud_detection.pipeline import parameters


def test_every_section_survives_the_trip_through_the_pipeline() -> None:
    settings = Settings()
    sent = parameters.section_arguments(settings)
    assert set(sent) == set(parameters.SECTIONS)
    for section, field in parameters.SECTIONS.items():
        assert getattr(parameters, field)(sent[section]) == getattr(settings, field)


def test_numbers_arrive_as_doubles_and_omitted_keys_take_the_defaults() -> None:
    """KFP passes a `dict` parameter as a protobuf Struct: every number is a double."""
    training = parameters.training({"max_iter": 200.0, "learning_rate": 0.05})
    assert (training.max_iter, training.learning_rate) == (200, 0.05)
    assert isinstance(training.max_iter, int)
    assert training.holdout_days == Settings().training.holdout_days
    assert parameters.rollout('{"probe_rows": 777}').probe_rows == 777
    assert parameters.gate("") == Settings().gate


def test_identity_names_left_out_come_from_project_env() -> None:
    identity = parameters.identity({"model_name": "other-model"})
    assert identity.model_name == "other-model"
    assert identity.feature_service == Settings().identity.feature_service


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"max_iter": 2}, r"training_settings is invalid \(max_iter: .*TrainingSettings"),
        ({"max_iters": 200}, r"max_iters: Extra inputs are not permitted"),
        ({"max_iter": 200.5}, r"max_iter: .*integer"),
        ("[1, 2", r"training_settings is not a JSON object"),
    ],
)
def test_a_bad_section_fails_the_step_naming_the_key(value: object, message: str) -> None:
    with pytest.raises(PipelineParameterError, match=message):
        parameters.training(value)  # type: ignore[arg-type]


def test_the_package_step_finds_the_sources_it_bundles() -> None:
    root = parameters.source_root()
    assert (root / "serving" / "bentofile.yaml").is_file()
    assert (root / "src" / "fraud_detection" / "pipeline" / "parameters.py").is_file()
