"""Feast definitions for the fraud model: one entity, two feature views, one feature service.

Sources are Parquet files written by `fraud-detection features` (see
`fraud_detection.features.aggregates`); paths are relative to this directory, so the same
definitions serve the local workspace and a cluster pod that mounts the data at the same layout.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

from fraud_detection.identity import Identity

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A card holder.",
)

customer_transaction_stats_source = FileSource(
    name="customer_transaction_stats_source",
    path="../data/features/customer_transaction_stats.parquet",
    timestamp_field="event_timestamp",
)

customer_profile_source = FileSource(
    name="customer_profile_source",
    path="../data/features/customer_profile.parquet",
    timestamp_field="event_timestamp",
)

customer_transaction_stats = FeatureView(
    name="customer_transaction_stats",
    entities=[customer],
    # A customer idle for longer than this has no velocity history: the model sees nulls.
    ttl=timedelta(days=30),
    schema=[
        Field(name="txn_count_1h", dtype=Int64, description="Transactions in the last hour."),
        Field(name="txn_count_24h", dtype=Int64, description="Transactions in the last 24 hours."),
        Field(name="amount_sum_24h", dtype=Float64, description="Spend in the last 24 hours."),
        Field(name="txn_count_30d", dtype=Int64, description="Transactions in the last 30 days."),
        Field(name="amount_mean_30d", dtype=Float64, description="Mean amount, last 30 days."),
    ],
    online=True,
    source=customer_transaction_stats_source,
    tags={"team": "fraud", "kind": "batch-aggregate"},
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=400),
    schema=[
        Field(name="account_age_days", dtype=Int64, description="Account age at snapshot."),
        Field(name="credit_limit", dtype=Float64, description="Card credit limit."),
    ],
    online=True,
    source=customer_profile_source,
    tags={"team": "fraud", "kind": "profile"},
)

# Named in project.env (FEATURE_SERVICE), where the model and the serving settings read it too.
model_features = FeatureService(
    name=Identity().feature_service,
    features=[customer_transaction_stats, customer_profile],
    description="Everything the fraud model reads from the feature store.",
)
