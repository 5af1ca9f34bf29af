"""Package a gated model for serving: the BentoML model plus a Bento that bundles it.

The Bento's version is the registry version, so a model, its Bento and (after
`bentoml containerize`) its image all carry the same name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fraud_detection.errors import FraudDetectionError
from fraud_detection.registry.local import RegisteredModel
from fraud_detection.serving.local_server import bentoml_environment
from fraud_detection.serving.model_store import save_to_bentoml

BENTOFILE = Path("serving") / "bentofile.yaml"
BENTO_NAME = "fraud-detector"


class PackagingError(FraudDetectionError):
    """`bentoml build` failed; the model stays registered, but nothing new can be served."""


def package(registered: RegisteredModel, bentoml_home: Path, project_root: Path) -> dict[str, str]:
    """Save the model to the BentoML store and build its Bento (both idempotent)."""
    model_tag = save_to_bentoml(registered, bentoml_home)
    bento_tag = f"{BENTO_NAME}:{registered.version}"
    if (bentoml_home / "bentos" / BENTO_NAME / registered.version / "bento.yaml").exists():
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
