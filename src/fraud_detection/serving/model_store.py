"""Gated models in the BentoML model store, and loading a model for serving.

A registered version `v` of model `m` becomes the BentoML model `m:v`, so the two stores
speak of the same version by the same name. Its labels record where it came from and its
metadata carries the model card's essentials; the Bento built for it bundles exactly that tag.
Which version is *production* is the registry's production pointer (`registry.local`), whose
history is the audit trail of promotions and rollbacks.

The BentoML model also holds the model's compiled form (`serving.compiled`), converted and
checked against scikit-learn when it is packaged. The registry does not: a version stays what
training produced (its name is the model file's digest), independent of the serving runtime and
its file format, and a server given a registry version (KServe's /mnt/models) converts and
checks it when it starts, which costs well under a second.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraud_detection.errors import RegistryError
from fraud_detection.registry.local import CARD_FILE, MODEL_FILE, RegisteredModel
from fraud_detection.serving.compiled import COMPILED_FILE, CompiledModel
from fraud_detection.serving.parity import checked_conversion
from fraud_detection.training.model import FraudModel


@dataclass(frozen=True)
class ServableModel:
    model: FraudModel
    card: dict[str, Any]
    compiled: CompiledModel | None = None  # None: the pipeline has no compiled form

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unknown"))


def bentoml_tag(registered: RegisteredModel) -> str:
    return f"{registered.name}:{registered.version}"


def save_to_bentoml(registered: RegisteredModel, bentoml_home: Path) -> str:
    """Copy a registered version into the BentoML model store under `bentoml_home`
    (idempotent), with its compiled form; return its tag.

    Raises:
        PackagingError: if the compiled form does not score as the pipeline does; nothing is
            added to the store.
    """
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
    model = registered.load()
    compiled = checked_conversion(model) if CompiledModel.compilable(model) else None
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
        if compiled is not None:
            compiled.save(Path(stored.path_of(COMPILED_FILE)))
    return tag


def load_servable(model_dir: Path) -> ServableModel:
    """Load a model, its card and its compiled form from a directory holding `model.joblib`
    and `model_card.json` (a BentoML model's path, a registry version, or KServe's /mnt/models).

    A directory without the compiled file (a registry version) gets the model converted and
    checked here.

    Raises:
        RegistryError: if a file is missing or unreadable.
        PackagingError: if the conversion does not score as the pipeline does.
    """
    card_path = model_dir / CARD_FILE
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"cannot read the model card {card_path}: {exc}") from exc
    model = FraudModel.load(model_dir / MODEL_FILE)
    if (model_dir / COMPILED_FILE).exists():
        compiled: CompiledModel | None = CompiledModel.load(model_dir / COMPILED_FILE)
    elif CompiledModel.compilable(model):
        compiled = checked_conversion(model)
    else:
        compiled = None
    return ServableModel(model, card, compiled)
