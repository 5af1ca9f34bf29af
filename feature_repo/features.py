"""Feast definitions for the fraud model: one entity, two feature views, two feature services.

Sources are Parquet files written by `fraud-detection features` (see
`fraud_detection.features.aggregates`); paths are relative to this directory, so the same
definitions serve the local workspace and a cluster pod that mounts the data at the same layout.

The current service (`FEATURE_SERVICE` in project.env, `…_v2`) serves the batch profile from
Feast and names the real-time velocity features (`fraud_detection.features.velocity`) in its
`real_time_features` tag: those are computed at request time from each card's recorded events,
as of the transaction. The previous service (`…_v1`) serves the batch aggregates of
`customer_transaction_stats` for models trained on them; retire it, with that view, once no
model in the registry names it.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

from fraud_detection.features.velocity import VELOCITY_FEATURES
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
        # As of the card's last transaction (that one included), not of the time they are read.
        Field(name="txn_count_1h", dtype=Int64, description="Transactions in the hour to then."),
        Field(name="txn_count_24h", dtype=Int64, description="Transactions in the day to then."),
        Field(name="amount_sum_24h", dtype=Float64, description="Spend in the day to then."),
        Field(name="txn_count_30d", dtype=Int64, description="Transactions, 30 days to then."),
        Field(name="amount_mean_30d", dtype=Float64, description="Mean amount, 30 days to then."),
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

# Named in project.env (FEATURE_SERVICE), where training and the serving settings read it too.
model_features = FeatureService(
    name=Identity().feature_service,
    features=[customer_profile],
    description="The fraud model's features: card velocity as of the transaction (real time), "
    "the customer profile (batch).",
    tags={"real_time_features": ",".join(VELOCITY_FEATURES)},
)

# Windows that end at the card's last transaction, however long ago: the features of models
# trained before the real-time service existed.
model_features_v1 = FeatureService(
    name=Identity().batch_feature_service,
    features=[customer_transaction_stats, customer_profile],
    description="Batch velocity aggregates as of the card's last transaction, and the profile.",
)
