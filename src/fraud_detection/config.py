"""One settings object for every entry point, read from the environment and an optional YAML file.

Precedence (highest first): keyword arguments, environment variables (`FRAUD_` prefix, `__`
between nested names, e.g. `FRAUD_GATE__MIN_PR_AUC=0.6`), the YAML file named by
`FRAUD_SETTINGS_FILE`, then the defaults below. Nothing is read at import time.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

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


class LabelSettings(_Section):
    """When each generated label becomes known (`fraud_detection.data.labels`).

    A fraud is known once its chargeback arrives: one delay per dispute (a card's burst of
    fraud is disputed at once), lognormal with the median and spread below, truncated at
    `maturity_days`. A legitimate transaction is known once `maturity_days` pass without one.
    """

    fraud_delay_median_days: float = Field(
        default=21.0, gt=0,
        description="Median chargeback delay before truncation (the lognormal's exp(mu)).",
    )  # fmt: skip
    fraud_delay_sigma: float = Field(
        default=0.5, gt=0, le=3,
        description="Spread of the chargeback delay: the standard deviation of its logarithm.",
    )  # fmt: skip
    maturity_days: float = Field(
        default=30.0, gt=0,
        description="The chargeback deadline: a transaction without a chargeback this long "
        "after it is legitimate, and every chargeback arrives within it. Training leaves this "
        "span before its cutoff out (training.label_gap_days).",
    )  # fmt: skip


class DataSettings(_Section):
    """Synthetic transaction generation."""

    seed: int = 7
    # About 9,000 transactions a day: enough that a 10-day holdout holds over 200 reported
    # frauds at the default fraud rate (see docs/design.md, section 2).
    n_customers: int = Field(default=4_000, ge=10)
    # 90 days: the velocity warm-up (training.feature_warmup_days, 30), 15 days to train on,
    # validation (5), holdout (10) and the label gap (labels.maturity_days, 30).
    days: int = Field(default=90, ge=2, description="Length of the generated history.")
    end: date | None = Field(
        default=None,
        description="Last day (exclusive) of the history; default today (UTC), so the "
        "newest data is recent enough to materialize into the online store.",
    )
    transactions_per_customer_per_day: float = Field(default=2.25, gt=0)
    fraud_rate: float = Field(
        default=0.003, gt=0, lt=0.5,
        description="Share of transactions that are fraud, reported or not (real card fraud: "
        "roughly 0.05-0.3 %).",
    )  # fmt: skip
    unreported_fraud_share: float = Field(
        default=0.1, ge=0, lt=1,
        description="Share of fraud episodes the card holder never reports: labelled 0.",
    )  # fmt: skip
    labels: LabelSettings = LabelSettings()

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

    feature_warmup_days: float = Field(
        default=30.0, ge=0,
        description="Days at the start of the history left out of the training set: a "
        "transaction there has less than the longest velocity window (30 days) of its card's "
        "past behind it, so its features read lower than at serving. 0 when the transactions' "
        "past is in the feature store already.",
    )  # fmt: skip
    holdout_days: int = Field(default=10, ge=1, description="Newest days kept for evaluation.")
    validation_days: int = Field(
        default=5, ge=1, description="Days before the holdout used to pick the threshold."
    )
    label_gap_days: Annotated[float, Field(ge=0)] | Literal["auto"] = Field(
        default="auto",
        description="Days before the label cutoff left out of every split: their labels have "
        "not all arrived. auto: the longest label delay in the training set (its maturity "
        "period, data.labels.maturity_days for generated data), so every holdout row is "
        "matured; a shorter gap is refused. Ignored for data without label_available_at.",
    )
    label_cutoff: datetime | Literal["newest"] = Field(
        default="newest",
        description="When the labels are read: a label counts only if it arrived by then. "
        "newest: the newest transaction in the training set (now, for the pipeline).",
    )
    learning_rate: float = Field(default=0.08, gt=0, le=1)
    max_iter: int = Field(default=250, ge=10)
    max_leaf_nodes: int = Field(default=31, ge=2)
    seed: int = 7
    calibration: Literal["platt", "isotonic", "none"] = Field(
        default="platt",
        description="How the trees' probability is calibrated on the validation window "
        "(training.calibration): Platt scaling keeps the ranking exactly; isotonic ties "
        "neighbouring scores; none serves the class-weighted trees' probability.",
    )
    alerts_per_day: int = Field(
        default=10, ge=1,
        description="Cards the fraud team reviews a day: the k of the evaluation's card "
        "precision at k (about the number of cards with a fraud a day in the default data).",
    )  # fmt: skip


class GateSettings(_Section):
    """The validation gate (`training/gate.py`): absolute floors, the operating point's budgets,
    and a champion/challenger comparison that allows for the holdout's noise. Every interval is
    two-sided at `confidence` from one seeded, customer-clustered bootstrap of the holdout."""

    target_fpr: float = Field(default=0.01, gt=0, lt=1, description="FPR budget for recall.")
    min_roc_auc: float = Field(default=0.80, ge=0, le=1)
    min_pr_auc: float = Field(default=0.12, ge=0, le=1)
    min_recall_at_fpr: float = Field(default=0.25, ge=0, le=1)
    max_regression: float = Field(
        default=0.05, ge=0, le=1,
        description="Non-inferiority margin: refused when the lower end of the interval of "
        "(candidate - production) on PR-AUC or on recall at target_fpr lies below "
        "-max_regression. On the default holdout (about 80 customers with fraud) that "
        "difference's SD is 0.014 or more, so 0.02 would refuse most equal-quality models "
        "(docs/design.md, section 5).",
    )  # fmt: skip
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1,
        description="Two-sided level of every interval; each end used alone is a one-sided "
        "bound at (1 + confidence) / 2 (97.5 % by default).",
    )  # fmt: skip
    bootstrap_resamples: int = Field(
        default=1_000, ge=100, description="Customer-clustered bootstrap resamples."
    )
    bootstrap_seed: int = Field(default=0, description="Seeds the bootstrap's draws.")
    min_fraud_customers: int = Field(
        default=10, ge=1,
        description="Fewer customers with fraud in the holdout: too little evidence to compare "
        "with production (a bootstrap of so few clusters is too narrow), and the candidate is "
        "refused. A first model (no production) is not compared.",
    )  # fmt: skip
    fpr_tolerance: float = Field(
        default=0.005, ge=0, lt=1,
        description="How far the upper end of the holdout FPR's interval at the deployed "
        "threshold may exceed target_fpr (the threshold is chosen on the validation days).",
    )  # fmt: skip
    max_alerts_per_day: float = Field(
        default=150, gt=0,
        description="Budget for the upper end of the interval of flagged holdout transactions "
        "per day at the deployed threshold (what the fraud team reviews). Sized for the "
        "default data's ~9,000 transactions a day: the full FPR budget flags about 115.",
    )  # fmt: skip
    false_alarm_cost: float = Field(
        default=5.0, ge=0,
        description="What reviewing one false alarm costs, in the amounts' currency; a missed "
        "fraud costs its amount. Training deploys the cheapest threshold within target_fpr on "
        "the validation window; the evaluation report draws the holdout's cost curve.",
    )  # fmt: skip


class RolloutSettings(_Section):
    """Canary rollout and the evidence needed to promote a candidate.

    Live traffic measures errors and latency of the two predictors; quality is compared on the
    candidate's labelled, point-in-time holdout rows scored by both served models, with a
    paired, customer-clustered bootstrap of candidate - stable (`rollout.probe`)."""

    canary_percent: int = Field(default=20, ge=1, le=99, description="Traffic share to canary.")
    requests: int = Field(default=300, ge=10, description="Scored requests during analysis.")
    probe_rows: int = Field(
        default=130_000, ge=20,
        description="Labelled probe rows that make the interval of two models of equal quality "
        "at most half as wide as max_quality_drop on each side (measured on the default data: "
        "docs/serving-rollout.md). The probe uses every row it has; with fewer than this, a "
        "rollback says 'insufficient evidence'.",
    )  # fmt: skip
    min_requests: int = Field(default=20, ge=1, description="Canary requests needed to judge.")
    max_error_rate_increase: float = Field(default=0.01, ge=0, le=1)
    max_p95_latency_ratio: float = Field(default=2.0, ge=1)
    latency_slack_ms: float = Field(
        default=10.0, ge=0, description="Absolute allowance on top of the latency ratio."
    )
    max_quality_drop: float = Field(
        default=0.1, ge=0, le=1,
        description="Non-inferiority margin: rolled back unless the lower end of the interval of "
        "(candidate - stable) on every probe metric is at least -max_quality_drop.",
    )  # fmt: skip
    quality_metrics: tuple[Literal["pr_auc", "recall_at_fpr"], ...] = ("pr_auc", "recall_at_fpr")
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1,
        description="Two-sided level of the probe intervals; the lower end alone is a one-sided "
        "bound at (1 + confidence) / 2 (97.5 % by default).",
    )  # fmt: skip
    bootstrap_resamples: int = Field(
        default=1_000, ge=100, description="Customer-clustered bootstrap resamples of the probe."
    )
    min_fraud_customers: int = Field(
        default=10, ge=2,
        description="Fewer customers with fraud in the probe: insufficient evidence, rolled back "
        "(a bootstrap of so few clusters draws too narrow an interval).",
    )  # fmt: skip
    ready_timeout_s: float = Field(
        default=300.0, gt=0,
        description="How long a candidate may take to become ready. On the cluster this must "
        "cover the predictor's startup probe (36 × 5 s), its first readiness check, and the "
        "scheduling and reconcile before the container starts.",
    )  # fmt: skip


class MonitorSettings(_Section):
    """What the monitoring job compares, and when its verdict calls for retraining."""

    window_hours: float = Field(
        default=72, gt=0,
        description="Prediction-log window to check: three days, which a fraud attack at five "
        "times the base rate needs to move the decline rate beyond its noise "
        "(docs/monitoring.md, Detection matrix).",
    )  # fmt: skip
    min_rows: int = Field(default=200, ge=1, description="Fewer rows: insufficient data.")
    max_drifted_share: float = Field(
        default=0.3, gt=0, le=1,
        description="The Evidently report's dataset-drift line: share of drifted columns (the "
        "verdict rests on the checks of monitoring/checks.py, not on it).",
    )  # fmt: skip
    max_pr_auc_drop: float = Field(
        default=0.1, ge=0, le=1,
        description="Quality verdict when PR-AUC falls more than this, beyond its bootstrap "
        "confidence bound.",
    )  # fmt: skip
    family_alpha: float = Field(
        default=0.01, gt=0, lt=1,
        description="Probability that a window drawn like the reference fails any check, split "
        "across the checks by monitoring.checks.FAMILY_WEIGHTS (Bonferroni).",
    )  # fmt: skip
    min_segment_rows: int = Field(
        default=200, ge=1,
        description="Rows a merchant-category or card-present segment needs, in the window and "
        "in the reference, for its own decline-rate check; smaller segments are reported as "
        "skipped.",
    )  # fmt: skip
    min_fraud_labels: int = Field(
        default=10, ge=1,
        description="Matured fraud labels (and legitimate ones) the window needs for the "
        "quality check.",
    )  # fmt: skip
    quality_resamples: int = Field(
        default=5_000, ge=100, description="Bootstrap resamples of the PR-AUC interval."
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
