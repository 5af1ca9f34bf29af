"""Integration fixtures: a real workspace (data, Feast repo, registry) in a temporary directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pytest

from fraud_detection.config import DataSettings, Settings, TrainingSettings
from fraud_detection.jobs.prepare import prepare_data, prepare_features

REPO_ROOT = Path(__file__).resolve().parents[2]
# Small but enough for a 23-day train / 5-day validation / 10-day holdout split, labels known
# within two days (a 30-day maturity would leave 10 matured days of 40; the delay itself is
# tested in tests/unit/training/test_delayed_labels.py and bench/backtest.py). Fraud at 2.5 %
# instead of the default 0.3 %: these tests check that the stages work together and decide as
# they should, so their holdout must hold enough fraud to decide on (about 180 frauds on 55
# cards; at 0.3 % it would be about 20 on 8 cards, too few for any comparison to conclude).
SMALL_DATA = {
    "n_customers": 400, "days": 40, "fraud_rate": 0.025,
    "labels": {"fraud_delay_median_days": 0.5, "maturity_days": 2},
}  # fmt: skip
# No feature warm-up: 40 days cannot spare the default 30, and these tests check how the stages
# work together, not the velocity features' level (`split.after_warmup` has its unit test; the
# default world keeps the warm-up).
SMALL_TRAINING = {"feature_warmup_days": 0.0}
# The generated history ends on a fixed day, so that a commit trains the same models and reaches
# the same decisions on any day. FRAUD_DATA__END picks another day (to check that the tests do
# not depend on one); the demo alone ends its history today.
DATA_END = date.fromisoformat(os.environ.get("FRAUD_DATA__END") or "2026-03-02")
# The last day of the history: a customer's card has recent transactions then, for its velocity.
GOOD_DAY = DATA_END - timedelta(days=1)
# A valid transaction of a customer the generated data knows, for the HTTP tests.
GOOD = {
    "transaction_id": "t-1",
    "customer_id": 1001,
    "amount": 42.5,
    "merchant_category": "grocery",
    "distance_from_home_km": 3.2,
    "card_present": True,
    "event_timestamp": f"{GOOD_DAY}T14:30:00+00:00",
}


def make_workspace(root: Path, **data: object) -> Settings:
    """A fresh workspace: the project's feature repo plus settings pointing at `root`."""
    shutil.copytree(REPO_ROOT / "feature_repo", root / "feature_repo")
    return Settings(
        workspace=root,
        data=DataSettings(**{**SMALL_DATA, "end": DATA_END, **data}),
        training=TrainingSettings(**SMALL_TRAINING),
    )


def workspace_environment() -> dict[str, str]:
    """`make_workspace`'s data and training settings as the environment a CLI process reads
    them from (`FRAUD_DATA__…`, `FRAUD_TRAINING__…`), the history's end included."""
    labels = cast(dict[str, float], SMALL_DATA["labels"])
    data = {k: v for k, v in SMALL_DATA.items() if k != "labels"}
    return {
        "FRAUD_DATA__END": DATA_END.isoformat(),
        **{f"FRAUD_DATA__{k.upper()}": str(v) for k, v in data.items()},
        **{f"FRAUD_DATA__LABELS__{k.upper()}": str(v) for k, v in labels.items()},
        **{f"FRAUD_TRAINING__{k.upper()}": str(v) for k, v in SMALL_TRAINING.items()},
    }


def assert_online_features_present(settings: Settings) -> None:
    """Every feature is online for the customers the data knows. The model tolerates missing
    features, so without this check a store that loaded nothing would score blind, unseen."""
    import pandas as pd

    from fraud_detection.features import store as feature_store

    known = pd.read_parquet(settings.paths.transactions, columns=["customer_id"])["customer_id"]
    customers = sorted(known.unique().tolist())
    store = feature_store.open_store(settings.paths.feature_repo)
    online = feature_store.online_features(store, settings.feature_service, customers)
    complete = online.drop(columns="customer_id").notna().all(axis=1)
    assert complete.mean() >= 0.95, (
        f"only {complete.mean():.0%} of {len(customers)} known customers have every feature "
        f"online (history ends {settings.data.end_timestamp():%Y-%m-%d})"
    )


@pytest.fixture
def new_workspace(tmp_path: Path) -> Callable[..., Settings]:
    """Factory for an empty workspace (no data yet) under this test's tmp_path."""
    counter = iter(range(100))
    return lambda **data: make_workspace(tmp_path / f"ws{next(counter)}", **data)


@pytest.fixture(scope="module")
def ready_workspace(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A workspace with data generated and features applied and materialized."""
    settings = make_workspace(tmp_path_factory.mktemp("workspace"))
    prepare_data(settings)
    prepare_features(settings, progress=lambda _: None)
    assert_online_features_present(settings)
    return settings


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A workspace whose pipeline has run once: one production model, registered and gated.

    Shared by the serving and rollout tests, which must not change its production model.
    """
    from fraud_detection.pipeline import local_run

    settings = make_workspace(tmp_path_factory.mktemp("trained"))
    prepare_data(settings)
    prepare_features(settings, progress=lambda _: None)
    assert_online_features_present(settings)
    run = local_run.run(settings, report=lambda _: None)
    assert run.decision["passed"], run.decision["reasons"]
    return settings


@contextmanager
def production_server(settings: Settings, directory: Path) -> Iterator[str]:
    """The workspace's production model behind the real service on a free port, with its log
    at `directory`/server.log and the prediction log on under `directory`/predictions."""
    from fraud_detection.registry.local import ModelRegistry
    from fraud_detection.serving import local_server
    from fraud_detection.serving.model_store import save_to_bentoml

    production = ModelRegistry(settings.paths.registry, settings.model_name).production()
    assert production is not None
    with local_server.serve(
        project_root=settings.paths.root,
        bentoml_home=settings.paths.bentoml_home,
        model_tag=save_to_bentoml(production, settings.paths.bentoml_home),
        feature_repo=settings.paths.feature_repo,
        log_file=directory / "server.log",
        extra_env={"FRAUD_SERVING_PREDICTION_LOG_DIR": str(directory / "predictions")},
    ) as running:
        yield running.url
