"""Settings: defaults, environment overrides, a YAML file, and refusal of unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fraud_detection.config import DataSettings, Settings


def test_defaults_describe_the_demo() -> None:
    settings = Settings()
    assert settings.data.n_customers == 4_000
    assert settings.gate.target_fpr == 0.01
    assert settings.paths.registry == Path.cwd().resolve() / "artifacts" / "registry"


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_GATE__MIN_PR_AUC", "0.6")
    assert Settings().gate.min_pr_auc == 0.6


def test_yaml_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("data:\n  n_customers: 123\ngate:\n  min_pr_auc: 0.3\n")
    monkeypatch.setenv("FRAUD_SETTINGS_FILE", str(config))
    monkeypatch.setenv("FRAUD_GATE__MIN_PR_AUC", "0.7")
    settings = Settings()
    assert settings.data.n_customers == 123
    assert settings.gate.min_pr_auc == 0.7


def test_unknown_keys_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("gate:\n  min_pr_acu: 0.3\n")
    monkeypatch.setenv("FRAUD_SETTINGS_FILE", str(config))
    with pytest.raises(ValidationError, match="min_pr_acu"):
        Settings()


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="n_customers"):
        DataSettings(n_customers=1)
