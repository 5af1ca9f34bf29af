"""Package a gated model for serving: the BentoML model plus a Bento that bundles it.

The Bento's version is the registry version, so a model, its Bento and (after
`bentoml containerize`) its image all carry the same name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fraud_detection.errors import PackagingError
from fraud_detection.identity import Identity
from fraud_detection.registry.local import RegisteredModel
from fraud_detection.serving.local_server import bentoml_environment
from fraud_detection.serving.model_store import save_to_bentoml

BENTOFILE = Path("serving") / "bentofile.yaml"


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
    command = [
        str(Path(sys.executable).with_name("bentoml")), "build",
        "-f", str(project_root / BENTOFILE), "--version", registered.version,
        "--arg", f"model_tag={model_tag}", "--output", "tag", str(project_root),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, env=bentoml_environment(bentoml_home),
        cwd=project_root, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PackagingError(f"bentoml build failed for {model_tag}:\n{tail}")
    return {"model_tag": model_tag, "bento_tag": bento_tag}
