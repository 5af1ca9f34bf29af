"""The project's names, read from `project.env`: the one file a new project rewrites.

`project.env` sits at the repository root (and at the root of every image and Bento built from
it). Python reads it here, through `Settings.identity`; bash, make and GitHub Actions read the
same file directly. python-dotenv parses it (already installed with pydantic-settings), so no
reader of the format lives in this project.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, model_validator

FILE_NAME = "project.env"
# Names another file (a test's, a generated project's) instead of the one found by searching.
FILE_VARIABLE = "FRAUD_PROJECT_ENV"


class IdentityFileError(Exception):
    """`project.env` is missing or incomplete; the message names the file and the key."""


def identity_file() -> Path:
    """`$FRAUD_PROJECT_ENV`, else the nearest `project.env` above this package: the checkout's
    root (src/<package>/ lies two levels down) or a Bento's (the package is at its top level)."""
    given = os.environ.get(FILE_VARIABLE)
    if given:
        return Path(given)
    for parent in Path(__file__).resolve().parents:
        if (parent / FILE_NAME).is_file():
            return parent / FILE_NAME
    raise IdentityFileError(
        f"no {FILE_NAME} above {Path(__file__).parent}: run from a checkout of the project "
        f"or set {FILE_VARIABLE}"
    )


@cache
def _read(path: Path) -> dict[str, str]:
    try:
        values = dotenv_values(path, interpolate=False)
    except OSError as exc:
        raise IdentityFileError(f"cannot read {path}: {exc}") from exc
    return {key.lower(): value or "" for key, value in values.items()}


class Identity(BaseModel):
    """Every name the project goes by; a field not given comes from `project.env`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_slug: str
    package_name: str
    model_name: str
    app_namespace: str
    image_registry: str
    serving_image: str
    pipeline_image: str
    pipeline_name: str
    feast_project: str
    feature_service: str
    chart_name: str
    release_name: str
    cluster_name: str

    def __init__(self, **names: Any) -> None:
        # Every field may be omitted (the file fills it in); the signature says so to mypy.
        super().__init__(**names)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_file(cls, data: Any) -> Any:
        given = dict(data) if isinstance(data, dict) else {}
        path = identity_file()
        from_file = _read(path)
        missing = [name for name in cls.model_fields if name not in given and name not in from_file]
        if missing:
            keys = ", ".join(name.upper() for name in missing)
            raise IdentityFileError(f"{path} has no {keys}")
        known = {key: value for key, value in from_file.items() if key in cls.model_fields}
        return {**known, **given}

    @property
    def batch_feature_service(self) -> str:
        """The feature service of models trained on batch velocity aggregates (`…_v1`), kept
        for the model cards that name it, or name no service."""
        return f"{self.feast_project}_v1"

    def image(self, name: str, tag: str) -> str:
        """A full image reference: the registry prefix (if any), the name, the tag."""
        prefix = f"{self.image_registry.rstrip('/')}/" if self.image_registry else ""
        return f"{prefix}{name}:{tag}"
