"""One settings object for every entry point, read from the environment and an optional YAML file.

Precedence (highest first): keyword arguments, environment variables (`FRAUD_` prefix, `__`
between nested names, e.g. `FRAUD_GATE__MIN_PR_AUC=0.6`), the YAML file named by
`FRAUD_SETTINGS_FILE`, then the defaults below. Nothing is read at import time.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from fraud_detection.identity import Identity


class _Section(BaseModel):
    # A misspelt key in a settings file must fail, not silently keep the default.
    model_config = ConfigDict(extra="forbid")


class DataSettings(_Section):
    """Synthetic transaction generation."""

    seed: int = 7
    n_customers: int = Field(default=2_000, ge=10)
    days: int = Field(default=60, ge=2, description="Length of the generated history.")
    end: date | None = Field(
        default=None,
        description="Last day (exclusive) of the history; default today (UTC), so the "
        "newest data is recent enough to materialize into the online store.",
    )
    transactions_per_customer_per_day: float = Field(default=1.2, gt=0)
    fraud_rate: float = Field(default=0.012, gt=0, lt=0.5)

    def end_timestamp(self) -> datetime:
        day = self.end or datetime.now(UTC).date()
        return datetime.combine(day, time(0), tzinfo=UTC)


class IngestSettings(_Section):
    """Distribution checks of incoming transactions against production's reference snapshot
    (`fraud_detection.data.distribution`): what the type-and-range contract cannot see. A share
    fails only when it moves past its bound and past `noise_z` standard errors of sampling noise,
    so a small reference or a small batch cannot raise a false alarm."""

    min_spread_ratio: float = Field(
        default=0.1, gt=0, lt=1,
        description="A numeric column is constant when its standard deviation falls below this "
        "fraction of the reference's.",
    )  # fmt: skip
    max_top_share: float = Field(
        default=0.99, gt=0, le=1,
        description="A categorical column is constant when one value holds more than this share "
        "of the rows (and held less in the reference).",
    )  # fmt: skip
    min_category_share_ratio: float = Field(
        default=0.1, gt=0, lt=1,
        description="A category has vanished when its share falls below this fraction of its "
        "reference share.",
    )  # fmt: skip
    min_label_rate_ratio: float = Field(
        default=0.5, gt=0, lt=1,
        description="The fraud rate has collapsed when it falls below this fraction of the "
        "reference's.",
    )  # fmt: skip
    max_null_share_increase: float = Field(
        default=0.005, gt=0, le=1,
        description="How far a column's share of nulls may rise above the reference's.",
    )  # fmt: skip
    noise_z: float = Field(
        default=3.0, ge=0,
        description="Standard errors of binomial noise (of the incoming rows and the reference's "
        "together) a share may move before its check fails.",
    )  # fmt: skip


class TrainingSettings(_Section):
    """Model fitting and the time-based holdout."""

    holdout_days: int = Field(default=10, ge=1, description="Newest days kept for evaluation.")
    validation_days: int = Field(
        default=5, ge=1, description="Days before the holdout used to pick the threshold."
    )
    learning_rate: float = Field(default=0.08, gt=0, le=1)
    max_iter: int = Field(default=250, ge=10)
    max_leaf_nodes: int = Field(default=31, ge=2)
    seed: int = 7


class GateSettings(_Section):
    """The validation gate: absolute floors plus champion/challenger."""

    target_fpr: float = Field(default=0.01, gt=0, lt=1, description="FPR budget for recall.")
    min_roc_auc: float = Field(default=0.90, ge=0, le=1)
    min_pr_auc: float = Field(default=0.50, ge=0, le=1)
    min_recall_at_fpr: float = Field(default=0.50, ge=0, le=1)
    max_regression: float = Field(
        default=0.02, ge=0, le=1, description="How much worse than production a candidate may be."
    )
    false_alarm_cost: float = Field(
        default=5.0, ge=0,
        description="What reviewing one false alarm costs, in the amounts' currency; a missed "
        "fraud costs its amount. Drawn in the evaluation report's cost curve, not gated.",
    )  # fmt: skip


class RolloutSettings(_Section):
    """Canary rollout and the evidence needed to promote a candidate."""

    canary_percent: int = Field(default=20, ge=1, le=99, description="Traffic share to canary.")
    requests: int = Field(default=300, ge=10, description="Scored requests during analysis.")
    probe_rows: int = Field(default=400, ge=20, description="Labelled rows sent to both models.")
    min_requests: int = Field(default=20, ge=1, description="Canary requests needed to judge.")
    max_error_rate_increase: float = Field(default=0.01, ge=0, le=1)
    max_p95_latency_ratio: float = Field(default=2.0, ge=1)
    latency_slack_ms: float = Field(
        default=10.0, ge=0, description="Absolute allowance on top of the latency ratio."
    )
    max_quality_drop: float = Field(default=0.02, ge=0, le=1)
    quality_metrics: tuple[str, ...] = ("pr_auc", "recall_at_fpr")
    ready_timeout_s: float = Field(
        default=300.0, gt=0,
        description="How long a candidate may take to become ready. On the cluster this must "
        "cover the predictor's startup probe (36 × 5 s), its first readiness check, and the "
        "scheduling and reconcile before the container starts.",
    )  # fmt: skip


class MonitorSettings(_Section):
    """What the monitoring job compares, and when its verdict calls for retraining."""

    window_hours: float = Field(default=24, gt=0, description="Prediction-log window to check.")
    min_rows: int = Field(default=200, ge=1, description="Fewer rows: insufficient data.")
    max_drifted_share: float = Field(
        default=0.3, gt=0, le=1, description="Drift verdict above this share of drifted columns."
    )
    max_pr_auc_drop: float = Field(
        default=0.1, ge=0, le=1, description="Quality verdict when PR-AUC falls more than this."
    )
    retrain_min_interval_hours: float = Field(default=6, ge=0)


class Settings(BaseSettings):
    """Everything an entry point needs; paths derive from `workspace`."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUD_", env_nested_delimiter="__", extra="forbid"
    )

    workspace: Path = Field(default=Path(), description="Project root holding data/ etc.")
    identity: Identity = Field(default_factory=lambda: Identity())
    data: DataSettings = DataSettings()
    ingest: IngestSettings = IngestSettings()
    training: TrainingSettings = TrainingSettings()
    gate: GateSettings = GateSettings()
    rollout: RolloutSettings = RolloutSettings()
    monitor: MonitorSettings = MonitorSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get("FRAUD_SETTINGS_FILE")
        if settings_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=settings_file))
        return tuple(sources)

    @property
    def model_name(self) -> str:
        return self.identity.model_name

    @property
    def feature_service(self) -> str:
        return self.identity.feature_service

    @property
    def paths(self) -> Paths:
        return Paths(self.workspace.resolve())


class Paths:
    """Where each stage reads and writes, relative to one workspace root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def transactions(self) -> Path:
        return self.root / "data" / "raw" / "transactions.parquet"

    @property
    def feature_tables(self) -> Path:
        return self.root / "data" / "features"

    @property
    def feature_repo(self) -> Path:
        return self.root / "feature_repo"

    @property
    def registry(self) -> Path:
        return self.root / "artifacts" / "registry"

    @property
    def pipeline_root(self) -> Path:
        return self.root / "artifacts" / "kfp"

    @property
    def bentoml_home(self) -> Path:
        return self.root / "artifacts" / "bentoml"

    @property
    def prediction_log(self) -> Path:
        return self.root / "artifacts" / "prediction-log"

    @property
    def labels(self) -> Path:
        return self.root / "artifacts" / "labels"

    @property
    def monitoring(self) -> Path:
        return self.root / "artifacts" / "monitoring"

    @property
    def rollouts(self) -> Path:
        return self.root / "artifacts" / "rollouts"

    @property
    def compiled_pipeline(self) -> Path:
        return self.root / "pipelines" / "compiled" / "training_pipeline.yaml"

    def as_dict(self) -> dict[str, Any]:
        names = ["transactions", "feature_tables", "feature_repo", "registry", "pipeline_root"]
        return {name: str(getattr(self, name)) for name in names}
