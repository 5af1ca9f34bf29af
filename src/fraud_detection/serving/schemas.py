"""The scoring API's request and response: typed, bounded, and strict about unknown fields.

Validation failures become HTTP 400s whose body names the field and the problem; nothing a
client sends can reach the model unchecked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from fraud_detection.data.contract import MERCHANT_CATEGORIES

MAX_BATCH = 256  # rows per request; larger payloads belong to batch scoring, not this API
MAX_AMOUNT = 50_000.0  # the data contract's bound
MAX_DISTANCE_KM = 20_037.5
# RFC 3339 date-time in years 1900-2199; the offset may be left out (the time is then UTC).
TIMESTAMP_PATTERN = (
    r"^(19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)


class Transaction(BaseModel):
    """One card transaction to score (the request-time features)."""

    # Strict: no coercion between JSON types ("5" is not a customer id, 0 is not a timestamp).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    transaction_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    customer_id: int = Field(ge=0, le=2**53, description="Card holder; the Feast entity key.")
    amount: float = Field(ge=0, le=MAX_AMOUNT)
    merchant_category: str = Field(
        description=f"One of: {', '.join(MERCHANT_CATEGORIES)}.",
        json_schema_extra={"enum": list(MERCHANT_CATEGORIES)},
    )
    distance_from_home_km: float | None = Field(default=None, ge=0, le=MAX_DISTANCE_KM)
    card_present: StrictBool
    event_timestamp: datetime | None = Field(
        default=None,
        description="When the card was used (RFC 3339, years 1900-2199; no offset means UTC); "
        "default: when the request arrives.",
        json_schema_extra={"pattern": TIMESTAMP_PATTERN},
    )

    @field_validator("merchant_category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in MERCHANT_CATEGORIES:
            raise ValueError(
                f"unknown category {value!r}; allowed: {', '.join(MERCHANT_CATEGORIES)}"
            )
        return value

    @field_validator("event_timestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        # Outside these years the time cannot be scored (pandas' datetime range ends in 2262).
        if not isinstance(value, str):
            return value
        if not re.fullmatch(TIMESTAMP_PATTERN, value):
            raise ValueError(
                "expected an RFC 3339 date-time in years 1900-2199, e.g. 2026-01-05T14:30:00Z"
            )
        return datetime.fromisoformat(value.upper())

    @field_validator("event_timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Transactions = Annotated[list[Transaction], Field(min_length=1, max_length=MAX_BATCH)]


class Reason(BaseModel):
    """One feature's part in a flagged transaction's score."""

    feature: str = Field(description="The model input, e.g. distance_from_home_km.")
    contribution: float = Field(
        description="What this feature added to the transaction's fraud log-odds (TreeSHAP); "
        "the contributions of all features plus the model's average log-odds make its score."
    )
    value: float | str | None = Field(
        description="The feature's value as the model saw it; null when it was missing."
    )


class Score(BaseModel):
    """The decision for one transaction, and what it was based on."""

    transaction_id: str | None
    customer_id: int
    fraud_probability: float
    is_fraud: bool = Field(description="fraud_probability >= threshold")
    threshold: float
    model_version: str
    missing_features: list[str] = Field(
        description="Feature-store features with no value for this customer (scored as missing)."
    )
    degraded: bool = Field(
        description="True when the online store was unreachable: every stored feature is missing."
    )
    reasons: list[Reason] | None = Field(
        default=None,
        description="For a flagged transaction (is_fraud): the three features that raised its "
        "score the most, largest first; null below the threshold.",
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    threshold: float
    features: list[str]
    metrics: dict[str, float]
