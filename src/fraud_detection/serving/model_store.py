"""Gated models in the BentoML model store, and loading a model for serving.

A registered version `v` of model `m` becomes the BentoML model `m:v`, so the two stores
speak of the same version by the same name. Its labels record where it came from and its
metadata carries the model card's essentials; the Bento built for it bundles exactly that tag.
Which version is *production* is the registry's production pointer (`registry.local`), whose
history is the audit trail of promotions and rollbacks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraud_detection.errors import RegistryError
from fraud_detection.registry.local import CARD_FILE, MODEL_FILE, RegisteredModel
from fraud_detection.training.model import FraudModel


@dataclass(frozen=True)
class ServableModel:
    model: FraudModel
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unknown"))


def bentoml_tag(registered: RegisteredModel) -> str:
    return f"{registered.name}:{registered.version}"


def save_to_bentoml(registered: RegisteredModel, bentoml_home: Path) -> str:
    """Copy a registered version into the BentoML model store under `bentoml_home`
    (idempotent); return its tag."""
    import bentoml
    from bentoml._internal.models.model import ModelStore
    from bentoml.exceptions import NotFound

    # BentoML binds its default store to BENTOML_HOME once, at import; one process (the demo,
    # the tests) may work with several workspaces, so address the store explicitly.
    store = ModelStore(str(bentoml_home / "models"))
    tag = bentoml_tag(registered)
    try:
        bentoml.models.get(tag, _model_store=store)
        return tag
    except NotFound:
        pass
    card = registered.card
    with bentoml.models.create(
        tag,
        _model_store=store,
        labels={"registry_version": registered.version, "gate": "passed", "owner": "fraud"},
        metadata={
            "threshold": float(card["threshold"]),
            "metrics": {k: float(v) for k, v in card.get("metrics", {}).items()},
            "feature_store_features": list(card.get("feature_store_features", [])),
            "git_sha": str(card.get("lineage", {}).get("git_sha", "unknown")),
        },
    ) as stored:
        shutil.copyfile(registered.path / MODEL_FILE, stored.path_of(MODEL_FILE))
        shutil.copyfile(registered.path / CARD_FILE, stored.path_of(CARD_FILE))
    return tag


def load_servable(model_dir: Path) -> ServableModel:
    """Load a model and its card from a directory holding `model.joblib` and `model_card.json`
    (a BentoML model's path, a registry version, or KServe's /mnt/models)."""
    card_path = model_dir / CARD_FILE
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"cannot read the model card {card_path}: {exc}") from exc
    return ServableModel(FraudModel.load(model_dir / MODEL_FILE), card)
