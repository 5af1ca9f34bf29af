"""The cluster Feast profile (feature_repo/feature_store.cluster.yaml) against real servers:
the registry in PostgreSQL, the online store in Redis, connection strings from the environment
as the Kubernetes Secret provides them. The same definitions and data as the local profile must
give the same online features, and the model server must score with them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from stores import Store, postgres_server, redis_server

from fraud_detection.config import Settings
from fraud_detection.features import store as feature_store
from fraud_detection.features.card_events import event, open_card_events
from fraud_detection.features.velocity import VELOCITY_FEATURES, micros, velocity_features
from fraud_detection.jobs.prepare import backfill_card_events
from fraud_detection.registry.local import ModelRegistry
from fraud_detection.serving import local_server
from fraud_detection.serving.model_store import save_to_bentoml

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    root = tmp_path_factory.mktemp("stores")
    with redis_server(root / "redis") as redis, postgres_server(root / "postgres") as postgres:
        yield redis, postgres


@pytest.fixture(scope="module")
def cluster_env(servers: tuple[Store, Store]) -> Iterator[dict[str, str]]:
    """The two variables the feast-connection Secret sets in every Feast client's pod."""
    redis, postgres = servers
    env = {
        "FEAST_REDIS_CONNECTION": f"127.0.0.1:{redis.port},password={redis.password}",
        "FEAST_REGISTRY_URL": (
            f"postgresql+psycopg://feast:{postgres.password}@127.0.0.1:{postgres.port}/feast"
        ),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def cluster_store(trained_workspace: Settings, cluster_env: dict[str, str]) -> object:
    """feast apply + materialize + the card events backfill with the cluster profile, as the
    workspace-init Job does."""
    repo = trained_workspace.paths.feature_repo
    store = feature_store.apply(repo, repo / "feature_store.cluster.yaml")
    # As of the same instant as the local profile: the end of the generated history.
    end = trained_workspace.data.end_timestamp()
    feature_store.materialize_window(store, end)
    backfill_card_events(trained_workspace, repo / "feature_store.cluster.yaml")
    return store


def _customers(settings: Settings) -> list[int]:
    import pandas as pd

    transactions = pd.read_parquet(settings.paths.transactions, columns=["customer_id"])
    return sorted(transactions["customer_id"].unique().tolist())[:25]


def test_cluster_profile_serves_the_local_profiles_features(
    trained_workspace: Settings, cluster_store: object
) -> None:
    settings = trained_workspace
    customers = _customers(settings)
    local = feature_store.open_store(settings.paths.feature_repo)
    expected = feature_store.online_features(local, settings.feature_service, customers)
    found = feature_store.online_features(cluster_store, settings.feature_service, customers)  # type: ignore[arg-type]
    assert found.equals(expected), (found.head(), expected.head())
    assert found.drop(columns=["customer_id"]).notna().all().all()


# >>> redis
def test_definitions_live_in_postgres_and_features_in_redis(
    servers: tuple[Store, Store], cluster_store: object
) -> None:
    import psycopg
    import redis

    redis_store, postgres = servers
    url = f"host=127.0.0.1 port={postgres.port} user=feast password={postgres.password}"
    with psycopg.connect(f"{url} dbname=feast") as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )}  # fmt: skip
        views = connection.execute("SELECT count(*) FROM feature_views").fetchone()
    assert {"feature_views", "feature_services", "entities"} <= tables
    assert views is not None and views[0] >= 2
    client = redis.Redis(host="127.0.0.1", port=redis_store.port, password=redis_store.password)
    assert int(client.dbsize()) > 0  # type: ignore[arg-type]
    # <<< redis


def test_the_cluster_card_events_give_the_offline_velocity(
    trained_workspace: Settings, cluster_store: object
) -> None:
    import pandas as pd

    events = open_card_events(cluster_store)
    online_type = cluster_store.config.online_store.type  # type: ignore[attr-defined]
    # Beside Feast's online store, in the same server (Redis) or directory (SQLite).
    assert type(events).__name__.lower().startswith(online_type)
    history = pd.read_parquet(trained_workspace.paths.transactions)
    end = trained_workspace.data.end_timestamp()
    probes = pd.DataFrame(
        {"transaction_id": [f"probe-{c}" for c in _customers(trained_workspace)],
         "customer_id": _customers(trained_workspace), "amount": 10.0, "event_timestamp": end}
    )  # fmt: skip
    offline = velocity_features(pd.concat([history, probes], ignore_index=True)).tail(len(probes))
    online = events.record_and_read(
        [event(c, micros(end), 10.0, i) for i, c in zip(probes["transaction_id"],
                                                          probes["customer_id"], strict=True)]
    )  # fmt: skip
    found = pd.DataFrame([v.values for v in online], columns=list(VELOCITY_FEATURES))
    assert found.astype("float64").equals(offline.reset_index(drop=True))
    assert (found["txn_count_30d"] > 0).all()


def test_wrong_password_is_a_clear_error(
    trained_workspace: Settings,
    servers: tuple[Store, Store],
    cluster_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = trained_workspace.paths.feature_repo
    password = servers[1].password
    wrong = cluster_env["FEAST_REGISTRY_URL"].replace(f":{password}@", ":wrong@")
    assert wrong != cluster_env["FEAST_REGISTRY_URL"]
    monkeypatch.setenv("FEAST_REGISTRY_URL", wrong)
    with pytest.raises(Exception, match=r"password authentication failed for user \"feast\""):
        feature_store.open_store(repo, repo / "feature_store.cluster.yaml").list_feature_views()


def test_model_server_scores_with_the_cluster_profile(
    trained_workspace: Settings, cluster_store: object, cluster_env: dict[str, str], tmp_path: Path
) -> None:
    settings = trained_workspace
    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    repo = settings.paths.feature_repo
    with local_server.serve(
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=save_to_bentoml(production, settings.paths.bentoml_home),
        feature_repo=repo,
        log_file=tmp_path / "server.log",
        extra_env={"FRAUD_SERVING_FEATURE_STORE_YAML": str(repo / "feature_store.cluster.yaml"),
                   **cluster_env},
    ) as running:  # fmt: skip
        body = json.dumps({"transactions": [{
            "transaction_id": "c-1", "customer_id": _customers(settings)[0], "amount": 42.0,
            "merchant_category": "grocery", "card_present": True,
            "event_timestamp": settings.data.end_timestamp().isoformat(),
        }]}).encode()  # fmt: skip
        request = urllib.request.Request(
            f"{running.url}/score", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            (result,) = json.loads(response.read())
    assert result["missing_features"] == [] and result["degraded"] is False
