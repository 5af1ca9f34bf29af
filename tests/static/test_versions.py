"""k8s/versions.env is the one place versions are pinned: scripts, workflows, manifests and
Dockerfiles read it and carry no version of their own, and it agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from toolbox import IDENTITY, REPO_ROOT, VERSIONS, VERSIONS_FILE, read_versions

# Files that must not pin a version themselves.
PINLESS = sorted(
    {
        *REPO_ROOT.glob("scripts/*.sh"),
        *REPO_ROOT.glob("scripts/*.cjs"),
        *REPO_ROOT.glob(".github/workflows/*.yml"),
        *REPO_ROOT.glob("k8s/**/*.yaml"),
        *REPO_ROOT.glob("k8s/**/*Dockerfile"),
        REPO_ROOT / "Makefile",
        REPO_ROOT / ".ci" / "run",
    }
)
# x.y.z (optionally v-prefixed, with a suffix), but not an IPv4 address.
VERSION = re.compile(r"(?<![\w.])v?\d+\.\d+\.\d+(?![.\d])[\w.+-]*")
# An image reference with a tag or digest.
TAGGED_IMAGE = re.compile(r"\bimage:\s*['\"]?([\w./-]+[:@][\w.:-]+)")
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
# The project's own images carry the project's version (the chart's appVersion).
OWN_IMAGES = "|".join(map(re.escape, (IDENTITY.pipeline_image, IDENTITY.serving_image)))
OWN_IMAGE = re.compile(rf"(?:{OWN_IMAGES}):{re.escape(PROJECT['version'])}\b")
# Actions are pinned by commit SHA with their release in a trailing comment, which Dependabot
# keeps current (tests/static/test_workflows.py checks the form): not a pin for the matrix.
ACTION_PIN = re.compile(r"(uses:\s*\S+@[0-9a-f]{40})[ \t]+#[ \t]*v\d+(?:\.\d+)*")


def test_the_pinless_files_are_found() -> None:
    names = {p.relative_to(REPO_ROOT).as_posix() for p in PINLESS}
    assert {"scripts/tools.sh", ".github/workflows/ci.yml"} <= names
    assert "k8s/images/pipeline.Dockerfile" in names and len(names) > 10
    # >>> kind
    assert "scripts/kind-up.sh" in names and len(names) > 20
    # <<< kind


@pytest.mark.parametrize("path", PINLESS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_no_version_is_pinned_outside_the_matrix(path: Path) -> None:
    text = ACTION_PIN.sub(r"\1", OWN_IMAGE.sub("own-image", path.read_text()))
    assert not VERSION.findall(text), f"pin these in {VERSIONS_FILE.name}: {VERSION.findall(text)}"
    assert not TAGGED_IMAGE.findall(text), TAGGED_IMAGE.findall(text)


def test_the_scanner_sees_a_stray_pin() -> None:
    for stray in ("helm install x --version 1.17.0", "KSERVE=v0.21.0-rc1", "image: redis:7.4"):
        assert VERSION.search(stray) or TAGGED_IMAGE.search(stray), stray
    assert not VERSION.search("curl http://127.0.0.1:8080 # apiVersion: v1")


def test_the_matrix_is_plain_key_value(tmp_path: Path) -> None:
    bad = tmp_path / "versions.env"
    bad.write_text('KIND_VERSION="v0.30.0"\n')
    with pytest.raises(AssertionError, match="bare"):
        read_versions(bad)
    bad.write_text("A=1\nA=2\n")
    with pytest.raises(AssertionError, match="twice"):
        read_versions(bad)


def test_every_pin_is_used() -> None:
    """A pin nothing reads is a version that silently stopped meaning anything."""
    readers = "".join(p.read_text() for p in PINLESS if p.suffix != ".env")
    readers += (Path(__file__).parent / "toolbox.py").read_text() + Path(__file__).read_text()
    unused = [key for key in VERSIONS if not re.search(rf"\b{key}\b", readers)]
    assert not unused, unused


def _pyproject_pin(package: str) -> str:
    pins = [d for d in PROJECT["dependencies"] if re.match(rf"{package}(\[[^\]]*\])?==", d)]
    assert len(pins) == 1, (package, pins)
    return str(pins[0]).split("==")[1]


@pytest.mark.parametrize(
    ("key", "package"),
    [
        ("FEAST_PY_VERSION", "feast"),
        ("KFP_PY_VERSION", "kfp"),
        ("KSERVE_PY_VERSION", "kserve"),
        ("BENTOML_PY_VERSION", "bentoml"),
    ],
)
def test_python_packages_match_pyproject(key: str, package: str) -> None:
    assert VERSIONS[key] == _pyproject_pin(package)


def test_cluster_components_match_the_python_sdks() -> None:
    assert VERSIONS["KSERVE_VERSION"] == f"v{VERSIONS['KSERVE_PY_VERSION']}"
    assert VERSIONS["KFP_VERSION"] == VERSIONS["KFP_PY_VERSION"]


def test_images_have_explicit_version_tags() -> None:
    for key in ("REDIS_IMAGE", "POSTGRES_IMAGE", "PYTHON_IMAGE"):
        name, _, tag = VERSIONS[key].rpartition(":")
        assert name and re.match(r"\d+\.\d+", tag), f"{key} needs a version tag, not {tag!r}"
    python_minor = re.match(r"(\d+\.\d+)", VERSIONS["PYTHON_IMAGE"].rpartition(":")[2])
    assert python_minor and PROJECT["requires-python"].startswith(f">={python_minor.group(1)}")
    assert VERSIONS["KIND_NODE_IMAGE"].startswith("kindest/node:v1.")
    kube_minor = ".".join(VERSIONS["KUBERNETES_VERSION"].split(".")[:2])
    assert VERSIONS["KIND_NODE_IMAGE"].startswith(f"kindest/node:v{kube_minor}.")


# >>> kind
def test_the_versions_quoted_in_the_kind_guide_are_the_matrix() -> None:
    guide = (REPO_ROOT / "docs" / "kind.md").read_text()
    quoted = dict(re.findall(r"^\| ([A-Z][A-Z0-9_]+) \| (\S+) \|$", guide, re.MULTILINE))
    assert len(quoted) >= 8
    assert {key: VERSIONS.get(key) for key in quoted} == quoted
    # <<< kind
