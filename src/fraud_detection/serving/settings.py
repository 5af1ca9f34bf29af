"""Runtime settings of the scoring service, from `FRAUD_SERVING_*` environment variables.

The same image serves any model version: in KServe, the storage initializer downloads the
version named by `STORAGE_URI` to /mnt/models and `FRAUD_SERVING_MODEL_DIR` points there;
without it, the service serves the model bundled into its Bento.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUD_SERVING_", extra="forbid")

    model_dir: Path | None = Field(
        default=None, description="Serve the model in this directory instead of the bundled one."
    )
    feature_repo: Path = Field(default=Path("feature_repo"), description="Feast repo directory.")
    feature_store_yaml: Path | None = Field(
        default=None, description="Feast config file (default: <feature_repo>/feature_store.yaml)."
    )
    feature_service: str | None = Field(
        default=None,
        description="Serve this Feast feature service's features instead of the ones of the "
        "service the model card names (the one the model was trained with).",
    )
    card_events_timeout_s: float = Field(
        default=0.25, gt=0, description="A slower card event store is skipped: answer degraded."
    )
    prediction_log_dir: Path | None = Field(
        default=None, description="Append every scored transaction here (JSON lines)."
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="Larger requests get 413.")
    lookup_timeout_s: float = Field(
        default=0.25, gt=0, description="A slower feature lookup is abandoned: answer degraded."
    )
