"""A file-system model registry (a local directory, or a volume shared by pipeline steps).

Layout: `<root>/<model>/versions/<version>/{model.joblib, model_card.json, reference.parquet,
evaluation_report.html}` and `<root>/<model>/production.json`. A version is the first 12 hex
digits of the model file's SHA-256, so registering the same model twice is a no-op. Every write
is staged in a temporary directory and renamed into place: a killed step never leaves a
half-registered version, and the production pointer is replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraud_detection.errors import NoProductionModelError, RegistryError

if TYPE_CHECKING:
    from fraud_detection.training.model import FraudModel

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
# The evaluation report of the version on its holdout, beside its card (training.report).
REPORT_FILE = "evaluation_report.html"
# Holdout rows kept with the version, its scores among them: the monitoring reference, which
# ingestion's distribution checks compare with too (training.steps.REFERENCE_ROWS of them)...
REFERENCE_FILE = "reference.parquet"
# ...and the whole labelled holdout, the canary's probe set (rollout.probe).
PROBE_FILE = "probe.parquet"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    path: Path

    @property
    def card(self) -> dict[str, Any]:
        return _read_json(self.path / CARD_FILE)

    def load(self) -> FraudModel:
        # Imported here: scikit-learn takes seconds to import, and most readers of the
        # registry (ingestion's checks, the monitor, the CLI) never load a model.
        from fraud_detection.training.model import FraudModel

        return FraudModel.load(self.path / MODEL_FILE)


class ModelRegistry:
    def __init__(self, root: Path, model_name: str) -> None:
        self.root = root
        self.name = model_name
        self.model_dir = root / model_name
        self.versions_dir = self.model_dir / "versions"
        self.production_file = self.model_dir / "production.json"

    def register(
        self, model_file: Path, card: dict[str, Any], extra_files: dict[str, Path] | None = None
    ) -> RegisteredModel:
        """Add a version (idempotent): the model, its card, and any extra files by name."""
        version = _digest(model_file)
        target = self.versions_dir / version
        if target.exists():
            return RegisteredModel(self.name, version, target)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self.versions_dir))
        try:
            shutil.copyfile(model_file, staging / MODEL_FILE)
            for name, path in (extra_files or {}).items():
                shutil.copyfile(path, staging / name)
            full_card = {
                **card,
                "name": self.name,
                "version": version,
                "registered_at": _now(),
                "files": [*sorted(p.name for p in staging.iterdir()), CARD_FILE],
            }
            (staging / CARD_FILE).write_text(json.dumps(full_card, indent=2, default=str))
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return RegisteredModel(self.name, version, target)

    def get(self, version: str) -> RegisteredModel:
        path = self.versions_dir / version
        if not (path / CARD_FILE).exists():
            raise RegistryError(
                f"model {self.name!r} has no version {version!r} in {self.versions_dir}"
            )
        return RegisteredModel(self.name, version, path)

    def versions(self) -> list[RegisteredModel]:
        if not self.versions_dir.exists():
            return []
        # `.<version>.*` directories are registrations still being staged, or left behind by a
        # killed one: not versions, even once their card is written.
        found = [
            self.get(p.name)
            for p in self.versions_dir.iterdir()
            if not p.name.startswith(".") and (p / CARD_FILE).exists()
        ]
        return sorted(found, key=lambda m: str(m.card.get("registered_at", "")))

    def production(self) -> RegisteredModel | None:
        """The version serving production traffic, or None before the first promotion."""
        if not self.production_file.exists():
            return None
        pointer = _read_json(self.production_file)
        return self.get(str(pointer["version"]))

    def require_production(
        self, hint: str = "run `make demo` (or the training pipeline) first"
    ) -> RegisteredModel:
        """The production version, for callers that cannot go on without one.

        Raises:
            NoProductionModelError: before the first promotion; its message ends with `hint`,
                what the caller's user should do (or what is skipped) instead.
        """
        production = self.production()
        if production is None:
            raise NoProductionModelError(f"no production model in {self.model_dir}: {hint}")
        return production

    def previous(self) -> RegisteredModel | None:
        """The version production pointed at before the current one (what a rollback returns
        to), or None when production has no earlier version."""
        if not self.production_file.exists():
            return None
        pointer = _read_json(self.production_file)
        # Skip re-promotions of the current version: they are no version to return to.
        for entry in reversed(pointer.get("history", [])):
            if str(entry["version"]) != str(pointer["version"]):
                return self.get(str(entry["version"]))
        return None

    def newest_candidate(self) -> RegisteredModel | None:
        """The newest registered version that is not production (what a canary would test)."""
        production = self.production()
        newer = [
            m for m in self.versions() if production is None or m.version != production.version
        ]
        return newer[-1] if newer else None

    def promote(self, version: str, reason: str) -> RegisteredModel:
        """Point production at `version`, keeping the history of earlier pointers."""
        model = self.get(version)
        history: list[dict[str, Any]] = []
        if self.production_file.exists():
            previous = _read_json(self.production_file)
            history = [
                *previous.get("history", []),
                {k: previous[k] for k in ("version", "at", "reason")},
            ]
        pointer = {"version": version, "at": _now(), "reason": reason, "history": history}
        _write_json_atomic(self.production_file, pointer)
        return model


def _digest(path: Path) -> str:
    if not path.exists():
        raise RegistryError(f"cannot register {path}: file not found")
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:12]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"registry file {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"registry file {path} does not hold a JSON object")
    return data


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    Path(tmp).replace(path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
