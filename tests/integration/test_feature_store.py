"""The real Feast repo on local files and SQLite: apply, materialize, point-in-time reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytz  # type: ignore[import-untyped]
from fresh_interpreter import last_line_printed

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import FeatureRepoError
from fraud_detection.features import store as feature_store
from fraud_detection.features.aggregates import STATS_FEATURES
from fraud_detection.features.velocity import VELOCITY_FEATURES, velocity_features
from fraud_detection.serving.model_features import feature_service_of

pytestmark = pytest.mark.integration

# The batch aggregates' service (a model card naming none means it).
V1_SERVICE = feature_service_of({})


def test_training_frame_keeps_every_transaction_and_is_point_in_time(
    ready_workspace: Settings,
) -> None:
    paths = ready_workspace.paths
    transactions = load_transactions(paths.transactions)
    store = feature_store.open_store(paths.feature_repo)
    frame = feature_store.training_frame(store, V1_SERVICE, transactions)

    assert len(frame) == len(transactions)
    assert set(frame["transaction_id"]) == set(transactions["transaction_id"])
    # A customer's first transaction has no history before it: no velocity features.
    first = transactions.sort_values("event_timestamp").groupby("customer_id").head(1)
    firsts = frame[frame["transaction_id"].isin(first["transaction_id"])]
    assert firsts["txn_count_30d"].isna().all()
    # The profile snapshot predates the history, so every row has it.
    assert frame["credit_limit"].notna().all()


def test_feast_takes_the_training_sets_timestamps_as_they_are(
    ready_workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repo turns Feast's timestamp coercion off and hands it pytz's UTC, which its file
    offline store takes as is instead of re-stamping each row; the training set is the one
    Feast's coerced path gives."""
    paths = ready_workspace.paths
    transactions = load_transactions(paths.transactions)
    store = feature_store.open_store(paths.feature_repo)
    assert store.config.coerce_tz_aware is False
    handed: list[pd.DataFrame] = []
    retrieve = store.get_historical_features

    def spy(entity_df: pd.DataFrame, features: list[str]) -> Any:
        handed.append(entity_df)
        return retrieve(entity_df=entity_df, features=features)

    monkeypatch.setattr(store, "get_historical_features", spy)
    uncoerced = feature_store.training_frame(store, V1_SERVICE, transactions)
    monkeypatch.undo()
    assert handed and all(df["event_timestamp"].dtype.tz is pytz.UTC for df in handed)

    store.config.coerce_tz_aware = True  # Feast's default
    coerced = feature_store.training_frame(store, V1_SERVICE, transactions)
    pd.testing.assert_frame_equal(uncoerced, coerced, check_exact=True)


def test_event_order_is_sort_values_by_time_then_id() -> None:
    """Ties in time broken by id, in Python's str order, ids of several lengths and non-ASCII."""
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 50, 2_000), unit="s"
    )
    alphabet = np.array(list("aZ09-é€"))
    ids = ["".join(rng.choice(alphabet, rng.integers(1, 6))) + str(i) for i in range(2_000)]
    frame = pd.DataFrame(
        {"event_timestamp": times, "transaction_id": ids, "amount": rng.random(2_000)},
        index=rng.permutation(2_000),
    )

    expected = frame.sort_values(["event_timestamp", "transaction_id"], ignore_index=True)
    pd.testing.assert_frame_equal(feature_store.in_event_order(frame), expected, check_exact=True)


def test_second_transaction_sees_exactly_the_first(ready_workspace: Settings) -> None:
    paths = ready_workspace.paths
    transactions = load_transactions(paths.transactions)
    ordered = transactions.sort_values(["customer_id", "event_timestamp"])
    second = ordered.groupby("customer_id").nth(1)
    first = ordered.groupby("customer_id").nth(0).set_index("customer_id")
    sample = second[
        second["event_timestamp"].to_numpy()
        > first.loc[second["customer_id"], "event_timestamp"].to_numpy()
    ].head(20)
    store = feature_store.open_store(paths.feature_repo)
    frame = feature_store.training_frame(store, V1_SERVICE, sample)

    assert (frame["txn_count_30d"] == 1).all()
    expected = first.loc[frame["customer_id"], "amount"].to_numpy()
    assert frame["amount_mean_30d"].to_numpy() == pytest.approx(expected)


def test_online_features_after_materialize(ready_workspace: Settings) -> None:
    store = feature_store.open_store(ready_workspace.paths.feature_repo)
    online = feature_store.online_features(store, V1_SERVICE, [1000, 10_000_000])
    known, unknown = online.iloc[0], online.iloc[1]
    assert known[list(STATS_FEATURES)].notna().any()
    assert pd.isna(unknown["credit_limit"])


def test_service_features_lists_the_views_features(ready_workspace: Settings) -> None:
    store = feature_store.open_store(ready_workspace.paths.feature_repo)
    names = feature_store.service_features(store, V1_SERVICE)
    assert names == (*STATS_FEATURES, "account_age_days", "credit_limit")


def test_the_current_service_joins_real_time_velocity_and_the_feast_profile(
    ready_workspace: Settings,
) -> None:
    paths, service = ready_workspace.paths, ready_workspace.feature_service
    store = feature_store.open_store(paths.feature_repo)
    assert feature_store.service_features(store, service) == (
        *VELOCITY_FEATURES, "account_age_days", "credit_limit",
    )  # fmt: skip
    transactions = load_transactions(paths.transactions)
    frame = feature_store.training_frame(store, service, transactions)
    expected = velocity_features(transactions).set_axis(transactions["transaction_id"])
    found = frame.set_index("transaction_id").loc[expected.index, list(VELOCITY_FEATURES)]
    assert found.equals(expected)  # the definition serving uses, on the whole history
    assert frame["credit_limit"].notna().all()


def test_feature_view_with_unknown_column_is_refused(
    ready_workspace: Settings, tmp_path: Path
) -> None:
    repo = tmp_path / "feature_repo"
    repo.mkdir()
    source = (ready_workspace.paths.feature_repo / "features.py").read_text()
    (repo / "features.py").write_text(
        source.replace('"txn_count_1h"', '"txn_count_2h"').replace(
            "../data/features", str(ready_workspace.paths.feature_tables)
        )
    )
    (repo / "feature_store.yaml").write_text(
        (ready_workspace.paths.feature_repo / "feature_store.yaml").read_text()
    )
    with pytest.raises(FeatureRepoError, match=r"unknown column\(s\) txn_count_2h"):
        feature_store.apply(repo)


def test_apply_without_feature_tables_names_the_missing_file(
    new_workspace: Callable[..., Settings],
) -> None:
    settings = new_workspace()
    with pytest.raises(FeatureRepoError, match=r"customer_transaction_stats\.parquet not found"):
        feature_store.apply(settings.paths.feature_repo)


def test_unapplied_repo_says_to_run_features(new_workspace) -> None:  # type: ignore[no-untyped-def]
    settings = new_workspace()
    store = feature_store.open_store(settings.paths.feature_repo)
    with pytest.raises(FeatureRepoError, match="make features"):
        feature_store.service_features(store, V1_SERVICE)


def test_the_training_set_leaves_the_warm_up_out_after_the_join(
    ready_workspace: Settings, tmp_path: Path
) -> None:
    """A row kept after the warm-up carries the velocity of the card's whole past, the warm-up's
    transactions included: cut before the join, its 30-day counts would start again from zero."""
    from fraud_detection.training.data_steps import build_training_set

    paths, service = ready_workspace.paths, ready_workspace.feature_service
    out = tmp_path / "training_set.parquet"
    build_training_set(paths.transactions, paths.feature_repo, service, out, warmup_days=15.0)
    kept = pd.read_parquet(out).set_index("transaction_id")
    transactions = load_transactions(paths.transactions)
    start = transactions["event_timestamp"].min()
    assert kept["event_timestamp"].min() >= start + pd.Timedelta(days=15)

    whole_past = velocity_features(transactions).set_axis(transactions["transaction_id"])
    assert kept[list(VELOCITY_FEATURES)].equals(whole_past.loc[kept.index])
    inside = transactions[transactions["transaction_id"].isin(kept.index)]
    cut_first = velocity_features(inside).set_axis(inside["transaction_id"])
    assert cut_first["txn_count_30d"].mean() < 0.8 * kept["txn_count_30d"].mean()


def test_reading_the_store_imports_no_feast_module_that_typeguard_would_check(
    ready_workspace: Settings, tmp_path: Path
) -> None:
    """After `import_for_reading`, the reads a worker and the training-set step make (online
    features, a point-in-time join) import no further Feast module with `@typechecked`
    classes: importing the package covers the read path (`features.feast_import`)."""
    paths, service = ready_workspace.paths, ready_workspace.feature_service
    program = (
        "import sys, typeguard\n"
        "from pathlib import Path\n"
        "from fraud_detection.features.feast_import import import_for_reading\n"
        "import_for_reading()\n"
        "decorated = []\n"
        "typeguard.typechecked = lambda *a, **k: decorated.append(1) or (a[0] if a else None)\n"
        "from fraud_detection.data.io import load_transactions\n"
        "from fraud_detection.features import store\n"
        f"opened = store.open_store(Path({str(paths.feature_repo)!r}))\n"
        f"rows = load_transactions(Path({str(paths.transactions)!r})).head(50)\n"
        f"store.training_frame(opened, {service!r}, rows)\n"
        f"store.online_features(opened, {service!r}, rows['customer_id'])\n"
        "print(len(decorated))\n"
    )
    assert last_line_printed(program, tmp_path) == "0"
