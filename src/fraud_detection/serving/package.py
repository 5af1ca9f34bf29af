"""Package a gated model for serving: the BentoML model plus a Bento that bundles it.

The Bento's version is the registry version, so a model, its Bento and (after
`bentoml containerize`) its image all carry the same name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fraud_detection.errors import PackagingError
from fraud_detection.identity import Identity
from fraud_detection.registry.local import RegisteredModel
from fraud_detection.serving.local_server import bentoml_environment
from fraud_detection.serving.model_store import save_to_bentoml

BENTOFILE = Path("serving") / "bentofile.yaml"
# What the build reads: the bentofile's `include` patterns match only under these, it names
# requirements.lock, and README.md becomes the Bento's description. `bentoml build` walks
# every file of its context and matches each against the patterns, so it builds in a copy of
# just these: in a checkout, .venv and .tools alone hold some 105,000 files, and walking them
# was most of the build's time.
BUILD_CONTEXT = ("project.env", "requirements.lock", "README.md", "serving", "src", "feature_repo")
# Never part of a Bento: bytecode caches and the editable install's metadata.
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.egg-info")


def bento_name() -> str:
    """The Bento's name: the model's (project.env's MODEL_NAME), as the service names itself."""
    return Identity().model_name


def package(registered: RegisteredModel, bentoml_home: Path, project_root: Path) -> dict[str, str]:
    """Save the model to the BentoML store and build its Bento (both idempotent)."""
    model_tag = save_to_bentoml(registered, bentoml_home)
    name = bento_name()
    bento_tag = f"{name}:{registered.version}"
    if (bentoml_home / "bentos" / name / registered.version / "bento.yaml").exists():
        return {"model_tag": model_tag, "bento_tag": bento_tag}
    with tempfile.TemporaryDirectory(prefix="bento-context-") as tmp:
        context = _build_context(project_root, Path(tmp))
        command = [
            str(Path(sys.executable).with_name("bentoml")), "build",
            "-f", str(context / BENTOFILE), "--version", registered.version,
            "--arg", f"model_tag={model_tag}", "--output", "tag", str(context),
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, env=bentoml_environment(bentoml_home),
            cwd=context, timeout=600,
        )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PackagingError(f"bentoml build failed for {model_tag}:\n{tail}")
    return {"model_tag": model_tag, "bento_tag": bento_tag}


def _build_context(project_root: Path, into: Path) -> Path:
    """A copy of `BUILD_CONTEXT` from `project_root` under `into` (what is missing is left for
    `bentoml build` to name)."""
    for name in BUILD_CONTEXT:
        source = project_root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=_NOT_COPIED)
        elif source.is_file():
            shutil.copy2(source, into / name)
    return into
