"""project.env names the project once: Python reads it through Settings, lib.sh and the Makefile
read it directly, and no code file spells one of its names itself.

A generated project rewrites project.env (and the package directory); everything that reads
the names follows. What cannot read the file (kustomize manifests, Feast's YAML, the chart's
defaults) spells the names literally and is checked here against it.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from toolbox import IDENTITY, REPO_ROOT

from fraud_detection.config import Settings
from fraud_detection.identity import FILE_VARIABLE, Identity
from fraud_detection.rollout import cluster_job
from fraud_detection.serving.model_features import feature_service_of
from fraud_detection.serving.package import bento_name

PROJECT_ENV = REPO_ROOT / "project.env"
# The names a code file must never spell: each is read from the identity instead.
SCANNED_NAMES = (
    "MODEL_NAME",
    "APP_NAMESPACE",
    "SERVING_IMAGE",
    "PIPELINE_IMAGE",
    "FEATURE_SERVICE",
    "FEAST_PROJECT",
)
CODE_FILES = (
    "src/**/*.py",
    "serving/**/*",
    "monitoring/**/*",
    "pipelines/*.py",
    "scripts/*",
    "Makefile",
    ".github/workflows/*.yml",
    "k8s/images/*",
)
# (file, name): literals still allowed, each with a comment that says why. Keep it short: none
# is needed today (the pipeline and the service read the names from Settings).
ALLOWED: set[tuple[str, str]] = set()
# Namespaces of the platform's own components, which the project's manifests may name.
PLATFORM_NAMESPACES = {"kubeflow", "kserve", "envoy-gateway-system", "kube-system"}


def parse_project_env(path: Path = PROJECT_ENV) -> dict[str, str]:
    """KEY=value lines, the value bare and possibly empty; comments and blank lines ignored."""
    names: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z_]*", key), f"{path}:{number}: not KEY=value"
        assert value == value.strip() and not value.startswith(("'", '"', "$")), (
            f"{path}:{number}: the value must be bare (no quotes, spaces or expansions)"
        )
        assert key not in names, f"{path}:{number}: {key} is set twice"
        names[key] = value
    return names


NAMES = parse_project_env()


# --- (a) Python reads every name through Settings -------------------------------------------


def test_settings_reads_every_name_in_project_env() -> None:
    assert set(NAMES) == {field.upper() for field in Identity.model_fields}
    assert Settings().identity.model_dump() == {key.lower(): v for key, v in NAMES.items()}
    assert Settings().identity == IDENTITY


def test_the_readers_follow_another_project_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = {key: f"{value}-x" if value else value for key, value in NAMES.items()}
    renamed.update(FEATURE_SERVICE="other_features_v2", APP_NAMESPACE="other-ns")
    other = tmp_path / "project.env"
    other.write_text("".join(f"{key}={value}\n" for key, value in renamed.items()))
    monkeypatch.setenv(FILE_VARIABLE, str(other))

    settings = Settings()
    assert settings.model_name == renamed["MODEL_NAME"]
    assert settings.feature_service == "other_features_v2"
    # Serving reads the service a model card names; a card that names none predates v2.
    assert feature_service_of({}) == f"{renamed['FEAST_PROJECT']}_v1"
    assert bento_name() == renamed["MODEL_NAME"]
    args = cluster_job._parser().parse_args(["status"])
    assert (args.isvc, args.namespace) == (renamed["RELEASE_NAME"], "other-ns")
    assert f"/{renamed['MODEL_NAME']}/versions" in args.storage_prefix


def _lib_sh(env: dict[str, str]) -> dict[str, str]:
    """The names scripts/lib.sh sets, sourced in a clean environment plus `env`."""
    names = ("PROJECT_SLUG", "MODEL_NAME", "APP_NAMESPACE", "SERVING_IMAGE", "PIPELINE_IMAGE",
             "CHART_NAME", "CLUSTER_NAME", "RELEASE")  # fmt: skip
    show = "; ".join(f'echo "{name}=${{{name}}}"' for name in names)
    script = f'source scripts/lib.sh; trap - EXIT; {show}; image_repository "$SERVING_IMAGE"'
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    *lines, image = result.stdout.splitlines()
    return {**dict(line.split("=", 1) for line in lines), "image": image}


def test_lib_sh_reads_project_env_and_the_environment_wins() -> None:
    found = _lib_sh({})
    assert found["RELEASE"] == NAMES["RELEASE_NAME"]
    assert all(found[key] == NAMES[key] for key in found if key in NAMES)
    registry = NAMES["IMAGE_REGISTRY"]
    assert (
        found["image"] == f"{registry}/{NAMES['SERVING_IMAGE']}"
        if registry
        else NAMES["SERVING_IMAGE"]
    )

    found = _lib_sh({"APP_NAMESPACE": "other-ns", "IMAGE_REGISTRY": "ghcr.io/acme"})
    assert found["APP_NAMESPACE"] == "other-ns"
    assert found["CLUSTER_NAME"] == NAMES["CLUSTER_NAME"]
    assert found["image"] == f"ghcr.io/acme/{NAMES['SERVING_IMAGE']}"


def test_the_makefile_reads_project_env_and_the_environment_wins() -> None:
    def cli(env: dict[str, str]) -> str:
        result = subprocess.run(
            ["make", "--no-print-directory", "--dry-run", "demo"],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=30,
            env={"PATH": "/usr/bin:/bin", **env},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    assert cli({}) == f".venv/bin/{NAMES['PROJECT_SLUG']} demo"
    assert cli({"PROJECT_SLUG": "other"}) == ".venv/bin/other demo"


# --- (b) no code file spells a name ---------------------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    bodies = (
        node.body
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    )
    return {
        id(body[0].value)
        for body in bodies
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    }


def code_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of the code in `path`: Python's string constants (not docstrings or
    comments); the other files' lines without their # comments."""
    text = path.read_text()
    if path.suffix == ".py":
        tree = ast.parse(text)
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                yield node.lineno, node.value
        return
    for number, line in enumerate(text.splitlines(), 1):
        code = re.sub(r"(^|\s)#.*$", "", line)
        if code.strip():
            yield number, code


def spelt(name: str, text: str) -> bool:
    """`text` holds the value of project.env's `name` as a whole word of a name."""
    return bool(re.search(rf"(?<![\w-]){re.escape(NAMES[name])}(?![\w-])", text))


def _code_files() -> list[Path]:
    found = {
        path
        for pattern in CODE_FILES
        for path in REPO_ROOT.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    return sorted(found)


def test_no_code_file_spells_a_name_of_project_env() -> None:
    found = []
    for path in _code_files():
        relative = path.relative_to(REPO_ROOT).as_posix()
        for number, text in code_of(path):
            found += [
                f"{relative}:{number}: {name} ({NAMES[name]}): {text.strip()[:100]}"
                for name in SCANNED_NAMES
                if spelt(name, text) and (relative, name) not in ALLOWED
            ]
    assert not found, "read these from project.env (Settings().identity, lib.sh):\n" + "\n".join(
        found
    )


def test_the_scan_sees_a_literal_and_only_code() -> None:
    files = {p.relative_to(REPO_ROOT).as_posix() for p in _code_files()}
    assert {"scripts/lib.sh", "Makefile", "serving/bentofile.yaml"} <= files
    assert "k8s/images/pipeline.Dockerfile" in files and len(files) > 30
    assert spelt("APP_NAMESPACE", f"kubectl get -n {NAMES['APP_NAMESPACE']} pods")
    assert spelt("MODEL_NAME", f"pvc://x/registry/{NAMES['MODEL_NAME']}/versions")
    assert not spelt("FEAST_PROJECT", NAMES["FEATURE_SERVICE"])
    sample = REPO_ROOT / "scripts" / "lib.sh"
    assert all(not line.lstrip().startswith("#") for _, line in code_of(sample))
    assert len(ALLOWED) <= 5, "the allowlist grows: read the names from the identity instead"
    stale = [
        (file, name)
        for file, name in ALLOWED
        if not any(spelt(name, text) for _, text in code_of(REPO_ROOT / file))
    ]
    assert not stale, f"these no longer spell the name: drop them from ALLOWED: {stale}"


# --- (c) what must spell a name agrees with project.env -------------------------------------


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _namespaces(node: Any) -> Iterator[str]:
    """Every namespace a manifest names: `namespace:` values and Namespace objects."""
    if isinstance(node, dict):
        if node.get("kind") == "Namespace":
            yield node["metadata"]["name"]
        for key, value in node.items():
            if key == "namespace" and isinstance(value, str):
                yield value
            else:
                yield from _namespaces(value)
    elif isinstance(node, list):
        for item in node:
            yield from _namespaces(item)


MANIFESTS = sorted(
    path
    for path in {*REPO_ROOT.glob("k8s/platform/**/*.yaml"), *REPO_ROOT.glob("k8s/jobs/*.yaml")}
    if not any(part.startswith(".render.") for part in path.parts)  # platform-manifests' scratch
)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_a_manifest_names_only_the_app_namespace_or_the_platforms(path: Path) -> None:
    found = {ns for doc in _documents(path) for ns in _namespaces(doc)}
    assert found <= {NAMES["APP_NAMESPACE"], *PLATFORM_NAMESPACES}, (
        f"{path.name} names {sorted(found)}: the application's namespace is project.env's "
        f"APP_NAMESPACE={NAMES['APP_NAMESPACE']}"
    )


# >>> kind
def test_the_app_namespace_manifests_spell_project_envs() -> None:
    namespace = NAMES["APP_NAMESPACE"]
    base = REPO_ROOT / "k8s" / "platform" / "base"
    assert _documents(base / "kustomization.yaml")[0]["namespace"] == namespace
    assert [d["metadata"]["name"] for d in _documents(base / "namespace.yaml")] == [namespace]
    job = _documents(REPO_ROOT / "k8s" / "jobs" / "workspace-init.yaml")
    assert {d["metadata"]["namespace"] for d in job} == {namespace}
    images = {c["image"] for c in job[0]["spec"]["template"]["spec"]["containers"]}
    assert {image.rsplit(":", 1)[0] for image in images} == {NAMES["PIPELINE_IMAGE"]}
    # <<< kind


@pytest.mark.parametrize("name", ["feature_store.yaml", "feature_store.cluster.yaml"])
def test_the_feast_project_is_project_envs(name: str) -> None:
    config = yaml.safe_load((REPO_ROOT / "feature_repo" / name).read_text())
    assert config["project"] == NAMES["FEAST_PROJECT"]


def test_the_feature_service_is_named_by_the_identity() -> None:
    source = (REPO_ROOT / "feature_repo" / "features.py").read_text()
    assert "name=Identity().feature_service" in source
    assert NAMES["FEATURE_SERVICE"] not in re.sub(r"#.*", "", source)


def test_the_chart_and_the_kind_cluster_carry_project_envs_names() -> None:
    chart = REPO_ROOT / "charts" / NAMES["CHART_NAME"]
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["name"] == NAMES["CHART_NAME"]
    # The chart's defaults; the scripts pass the images by project.env's names anyway.
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["image"]["repository"] == NAMES["SERVING_IMAGE"]
    assert values["jobs"]["image"]["repository"] == NAMES["PIPELINE_IMAGE"]
    # >>> kind
    # kind-up.sh passes --name "$CLUSTER_NAME", which wins over the file's name.
    cluster = yaml.safe_load((REPO_ROOT / "k8s" / "kind" / "cluster.yaml").read_text())
    assert cluster["name"] == NAMES["CLUSTER_NAME"]
    assert '--name "$CLUSTER_NAME"' in (REPO_ROOT / "scripts" / "kind-up.sh").read_text()
    # <<< kind


def test_the_bento_and_the_pipeline_image_carry_project_env() -> None:
    bentofile = yaml.safe_load((REPO_ROOT / "serving" / "bentofile.yaml").read_text())
    assert "/project.env" in bentofile["include"]
    dockerfile = (REPO_ROOT / "k8s" / "images" / "pipeline.Dockerfile").read_text()
    assert re.search(r"^COPY project\.env \./$", dockerfile, re.MULTILINE)
