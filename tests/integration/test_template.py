"""Generating renamed projects from this repository with cookiecutter (template/, docs/template.md).

Each kind of project is baked once per module: a renamed one with every answer changed (and the
SQLite cluster profile), one with the defaults, one without the kind path through the plain
CLI and a relative path, one from a git URL. The renamed project is then held to what the
repository holds itself to: ruff, its unit tests, its pipeline compile, its chart against the
Kubernetes schemas, its own static checks. The generated projects never get installed: their
code runs from their directories, and a test checks that it is theirs that gets imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from installed import pinned_tool

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TOOLS = REPO_ROOT / ".tools"
# Every answer differs from the example's, and each from the others (the Feast project from
# the package, the namespace from the slug), so a name renamed to the wrong answer shows.
ANSWERS = {
    "project_name": "Card Risk",
    "project_slug": "card-risk",
    "package_name": "card_risk",
    "k8s_namespace": "risk-ns",
    "image_registry": "ghcr.io/acme",
    "feast_project": "risk_store",
    "model_name": "risk-model",
    "author": "Jane Doe <jane@example.com>",
    "include_kind_platform": "yes",
    "cluster_online_store": "sqlite",
}
# The example's identifiers; none may survive the renames. No exception is needed today: a name
# that has to stay would be listed here as path -> reason.
EXAMPLE_IDENTIFIERS = ("fraud_detection", "fraud-detection", "fraud-detector", "FraudDetector")
ALLOWED_SURVIVORS: dict[str, str] = {}
# Files that only describe generating projects; a generated project has no template/.
TEMPLATE_ONLY = {"docs/template.md", "tests/integration/test_template.py"}
KIND_PATHS = (
    "k8s/kind",
    "k8s/platform",
    "k8s/jobs/workspace-init.yaml",
    "scripts/kind-up.sh",
    "scripts/kind-down.sh",
    "scripts/images.sh",
    "scripts/deploy.sh",
    "scripts/e2e.sh",
    "scripts/platform-manifests.sh",
    ".github/workflows/e2e-kind.yml",
    "docs/kind.md",
)
IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
CORE_KINDS = {
    "Service", "Deployment", "NetworkPolicy", "CronJob", "ServiceAccount", "Role", "RoleBinding",
}  # fmt: skip


# --- baking ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def isolation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A cookiecutter config that keeps clones and replay files in a temporary directory, and a
    git config without the developer's identity or settings."""
    root = tmp_path_factory.mktemp("cookiecutter")
    config = root / "config.yaml"
    config.write_text(f"cookiecutters_dir: {root / 'clones'}\nreplay_dir: {root / 'replay'}\n")
    gitconfig = root / "gitconfig"
    gitconfig.write_text("")
    return {"config": config, "gitconfig": gitconfig}


def git_env(isolation: dict[str, Path], identity: bool) -> dict[str, str]:
    env = {"GIT_CONFIG_GLOBAL": str(isolation["gitconfig"]), "GIT_CONFIG_NOSYSTEM": "1"}
    if identity:
        env |= {"GIT_AUTHOR_NAME": "Template Test", "GIT_AUTHOR_EMAIL": "template@example.com"}
        env |= {
            "GIT_COMMITTER_NAME": "Template Test",
            "GIT_COMMITTER_EMAIL": "template@example.com",
        }
    return env


def bake(
    template: str,
    out: Path,
    isolation: dict[str, Path],
    answers: dict[str, str] | None = None,
    identity: bool = True,
) -> Path:
    """cookiecutter's Python API, as `cookiecutter <template> --directory template`."""
    with pytest.MonkeyPatch.context() as patch:
        for name in IDENTITY:
            patch.delenv(name, raising=False)
        for name, value in git_env(isolation, identity).items():
            patch.setenv(name, value)
        made = cookiecutter(
            template,
            no_input=True,
            extra_context=answers or {},
            output_dir=str(out),
            directory="template",
            config_file=str(isolation["config"]),
        )
    return Path(made)


def source_commit(project: Path) -> str:
    """The repository commit the project was generated from, as its first commit records."""
    message = run("git", "log", "-1", "--format=%B", cwd=project).stdout
    found = re.search(r"generated from \S+ at ([0-9a-f]{40})", message)
    assert found, message
    return found.group(1)


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n" + (
            result.stdout[-6000:] + result.stderr[-6000:]
        )
    return result


def project_env(project: Path) -> dict[str, str]:
    """The generated project's code first on the path, nothing written beside it."""
    return {
        **os.environ,
        "PYTHONPATH": f"{project / 'src'}{os.pathsep}{project}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def text_files(project: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if relative.startswith((".git/", ".tools")) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\x00" not in data:
            yield relative, data.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, isolation: dict[str, Path]) -> Path:
    made = bake(str(REPO_ROOT), tmp_path_factory.mktemp("renamed"), isolation, ANSWERS)
    assert made.name == "card-risk"
    # The project's static tests find helm, kubectl, checkov and actionlint in .tools (ignored
    # by git), as in a checkout where scripts/tools.sh has run.
    pinned_tool("helm")
    (made / ".tools").symlink_to(TOOLS)
    return made


@pytest.fixture(scope="module")
def default_project(tmp_path_factory: pytest.TempPathFactory, isolation: dict[str, Path]) -> Path:
    return bake(str(REPO_ROOT), tmp_path_factory.mktemp("defaults"), isolation)


# --- the renamed project --------------------------------------------------------------------


def test_the_layout_is_renamed(project: Path) -> None:
    for path in ("src/card_risk/__init__.py", "charts/card-risk/Chart.yaml", "docs/kind.md"):
        assert (project / path).is_file(), path
    for path in ("src/fraud_detection", "charts/fraud-detection", "template", *TEMPLATE_ONLY):
        assert not (project / path).exists(), path
    assert os.access(project / "scripts" / "kind-up.sh", os.X_OK)


def test_no_example_identifier_survives(project: Path) -> None:
    pattern = re.compile("|".join(map(re.escape, (*EXAMPLE_IDENTIFIERS, "FraudDetection"))))
    found = {
        path: sorted(set(pattern.findall(f"{path}\n{text}")))
        for path, text in text_files(project)
        if pattern.search(f"{path}\n{text}") and path not in ALLOWED_SURVIVORS
    }
    assert not found, found


def test_ruff_finds_nothing(project: Path) -> None:
    run(VENV_BIN / "ruff", "check", "--no-cache", ".", cwd=project)
    run(VENV_BIN / "ruff", "format", "--no-cache", "--check", ".", cwd=project)


def test_the_projects_own_code_is_imported(project: Path) -> None:
    """The repository's packages are installed (editable) in this environment, under the same
    top-level names for pipelines, serving and monitoring: the generated project's must win."""
    probe = (
        "import card_risk, pipelines, serving, monitoring\n"
        "print(*(m.__file__ for m in (card_risk, pipelines, serving, monitoring)), sep='\\n')\n"
    )
    out = run(sys.executable, "-c", probe, cwd=project, env=project_env(project)).stdout
    assert all(Path(line).is_relative_to(project) for line in out.split()), out


def test_the_unit_tests_pass(project: Path) -> None:
    result = run(
        sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
        cwd=project, env=project_env(project),
    )  # fmt: skip
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]


def test_the_pipeline_compiles_to_the_committed_yaml(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.yaml"
    run(
        sys.executable,
        "-m",
        "pipelines.training_pipeline",
        out,
        cwd=project,
        env=project_env(project),
    )
    spec = next(yaml.safe_load_all(out.read_text()))
    assert spec["pipelineInfo"]["name"] == "card-risk-training"
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {"ghcr.io/acme/card-risk-pipeline:0.1.0"}, images
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["namespace"]["defaultValue"] == "risk-ns"
    assert parameters["isvc_name"]["defaultValue"] == "card-risk"
    assert parameters["model_name"]["defaultValue"] == "risk-model"
    assert parameters["feature_service"]["defaultValue"] == "risk_store_v1"
    # What `card-risk compile --check` (make lint) compares.
    assert (
        out.read_text()
        == (project / "pipelines" / "compiled" / "training_pipeline.yaml").read_text()
    )


def test_the_chart_renders_and_validates_strictly(project: Path, tmp_path: Path) -> None:
    kubernetes = re.search(
        r"^KUBERNETES_VERSION=(\S+)$", (project / "k8s" / "versions.env").read_text(), re.M
    )
    assert kubernetes
    rendered = run(
        pinned_tool("helm"), "template", "card-risk", project / "charts" / "card-risk",
        "--namespace", "risk-ns", "--kube-version", kubernetes.group(1),
        "--set", "model.storageUri=pvc://x/y",
        cwd=project,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    isvc = next(d for d in docs if d["kind"] == "InferenceService")
    assert isvc["metadata"]["name"] == "card-risk"
    assert isvc["metadata"]["labels"]["card-risk.io/feast-client"] == "true"
    container = isvc["spec"]["predictor"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/card-risk-serving:0.1.0"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FRAUD_SERVING_FEATURE_REPO"] == "/workspace/feature_repo"  # the SQLite profile
    assert all(d["metadata"]["namespace"] == "risk-ns" for d in docs)
    assert not [d for d in docs if d["metadata"]["name"].endswith("-feature-server")]
    core = [d for d in docs if d["kind"] != "InferenceService"]
    assert {d["kind"] for d in core} <= CORE_KINDS, {d["kind"] for d in core}
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    out = run(
        VENV_BIN / "kubernetes-validate", "--strict", "-k", kubernetes.group(1), manifest,
        cwd=project,
    ).stdout  # fmt: skip
    assert out.count(" passed for resource ") == len(core), out


def test_the_namespace_goes_where_namespaces_go(project: Path) -> None:
    lib = (project / "scripts" / "lib.sh").read_text()
    assert 'APP_NAMESPACE="${APP_NAMESPACE:-risk-ns}"' in lib
    assert 'CLUSTER_NAME="${CLUSTER_NAME:-card-risk}"' in lib
    assert 'RELEASE="${RELEASE:-card-risk}"' in lib
    job = (project / "src/card_risk/rollout/cluster_job.py").read_text()
    assert '"--namespace", default="risk-ns"' in job
    assert 'namespace: str = "risk-ns"' in (project / "pipelines/training_pipeline.py").read_text()
    namespace = yaml.safe_load((project / "k8s/platform/base/namespace.yaml").read_text())
    assert namespace["metadata"]["name"] == "risk-ns"
    platform = {"risk-ns", "kubeflow", "kserve", "envoy-gateway-system"}
    for path in sorted((project / "k8s").rglob("*.yaml")):
        for value in re.findall(r"^\s*namespace: (\S+)$", path.read_text(), re.M):
            assert value in platform, (path, value)


def test_the_feast_names_and_the_sqlite_profile(project: Path) -> None:
    for name in ("feature_store.yaml", "feature_store.cluster.yaml"):
        profile = yaml.safe_load((project / "feature_repo" / name).read_text())
        assert profile["project"] == "risk_store", name
        assert profile["online_store"]["type"] == "sqlite", name
    assert (
        'feature_service: str = "risk_store_v1"'
        in (project / "src/card_risk/config.py").read_text()
    )
    values = yaml.safe_load((project / "charts/card-risk/values.yaml").read_text())
    assert values["featureStore"]["repoPath"] == "/workspace/feature_repo"
    assert values["featureServer"]["enabled"] is False
    assert "class RiskModel:" in (project / "serving" / "service.py").read_text()
    assert "class CardRiskError" in (project / "src/card_risk/errors.py").read_text()


def test_the_author_is_recorded(project: Path) -> None:
    pyproject = (project / "pyproject.toml").read_text()
    assert 'authors = [{ name = "Jane Doe", email = "jane@example.com" }]' in pyproject
    chart = yaml.safe_load((project / "charts/card-risk/Chart.yaml").read_text())
    assert chart["maintainers"] == [{"name": "Jane Doe", "email": "jane@example.com"}]


def test_the_projects_own_static_checks_pass(project: Path) -> None:
    """Chart lint and render, platform kustomize and contracts, checkov, hadolint, shellcheck,
    actionlint, the version matrix and the docs' links, as the project's make test runs them."""
    result = run(
        sys.executable, "-m", "pytest", "tests/static", "-q", "-p", "no:cacheprovider",
        cwd=project, env=project_env(project),
    )  # fmt: skip
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]


def test_the_project_is_a_git_repository_with_one_commit(project: Path) -> None:
    assert run("git", "rev-list", "--count", "HEAD", cwd=project).stdout.strip() == "1"
    # Clean, including the test's .tools link to the checkers (ignored by .gitignore).
    status = run("git", "status", "--porcelain", cwd=project).stdout.splitlines()
    assert status == [], status
    run("git", "cat-file", "-e", f"{source_commit(project)}^{{commit}}", cwd=REPO_ROOT)


# --- defaults -------------------------------------------------------------------------------


def _without_template_docs(path: str, text: str) -> str:
    """The repository's documentation of the template, which a generated project leaves out."""
    if path == "README.md":
        text = re.sub(r"(?ms)^## Start a new project\n.*?(?=^#{1,2} |\Z)", "", text)
    if path.endswith(".md"):
        mentions = re.compile(r"template\.md|`template/|test_template\.py")
        text = "".join(line for line in text.splitlines(True) if not mentions.search(line))
    return text


def test_the_defaults_reproduce_the_repository(default_project: Path, tmp_path: Path) -> None:
    commit = source_commit(default_project)
    run("git", "archive", "--format=tar", "-o", tmp_path / "a.tar", commit, cwd=REPO_ROOT)
    reference = tmp_path / "reference"
    reference.mkdir()
    run("tar", "-xf", tmp_path / "a.tar", "-C", reference, cwd=tmp_path)
    expected = {
        p.relative_to(reference).as_posix(): p
        for p in reference.rglob("*")
        if p.is_file() and not p.relative_to(reference).as_posix().startswith("template/")
    }
    generated = {
        p.relative_to(default_project).as_posix(): p
        for p in default_project.rglob("*")
        if p.is_file() and not p.relative_to(default_project).as_posix().startswith(".git/")
    }
    assert set(generated) == set(expected) - TEMPLATE_ONLY
    for path, file in generated.items():
        want = expected[path].read_bytes()
        if path.endswith(".md"):
            want = _without_template_docs(path, want.decode()).encode()
        assert file.read_bytes() == want, path
        assert os.access(file, os.X_OK) == os.access(expected[path], os.X_OK), path


# --- refused answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project_slug", "Card Risk"),
        ("project_slug", "card-risk-"),
        ("project_slug", "acme/card-risk"),
        ("package_name", "card-risk"),
        ("package_name", "json"),
        ("package_name", "pipelines"),
        ("k8s_namespace", "Risk_NS"),
        ("k8s_namespace", "kube-system"),
        ("image_registry", "https://ghcr.io/acme"),
        ("image_registry", "ghcr.io/acme/"),
        ("image_registry", "ghcr.io/acme:latest"),
        ("feast_project", "card-risk"),
        ("model_name", "Risk Model"),
    ],
)
def test_an_invalid_answer_is_refused_and_nothing_is_written(
    tmp_path: Path,
    isolation: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    field: str,
    value: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(str(REPO_ROOT), out, isolation, {**ANSWERS, field: value})
    errors = capfd.readouterr().err
    assert f"error: {field} {value!r}" in errors, errors
    assert list(out.iterdir()) == []


def test_valid_registry_prefixes_are_accepted(
    tmp_path: Path, isolation: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """Only the pre-generation hook runs: a bad package name stops the bake right after it."""
    for registry in ("ghcr.io/acme", "localhost:5000/team", "acme", "registry.example.com"):
        with pytest.raises(FailedHookException):
            answers = {**ANSWERS, "image_registry": registry, "package_name": "json"}
            bake(str(REPO_ROOT), tmp_path, isolation, answers)
        assert "image_registry" not in capfd.readouterr().err, registry


# --- without the kind path, through the CLI -------------------------------------------------


@pytest.fixture(scope="module")
def kindless(tmp_path_factory: pytest.TempPathFactory, isolation: dict[str, Path]) -> Path:
    """`cookiecutter . --directory template` from the repository: a relative template path,
    and no git identity."""
    out = tmp_path_factory.mktemp("kindless")
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY}
    env |= git_env(isolation, identity=False)
    result = run(
        VENV_BIN / "cookiecutter", ".", "--directory", "template", "--no-input",
        "--output-dir", out, "--config-file", isolation["config"],
        "project_name=Card Risk", "include_kind_platform=no",
        cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    assert "without a commit" in result.stdout, result.stdout
    made = out / "card-risk"
    (made / ".tools").symlink_to(TOOLS)
    return made


def test_without_kind_the_kind_files_are_gone(kindless: Path) -> None:
    assert (kindless / ".git").is_dir()
    assert run("git", "rev-parse", "--verify", "HEAD", cwd=kindless, check=False).returncode != 0
    for path in KIND_PATHS:
        assert not (kindless / path).exists(), path
    assert (kindless / "docs" / "cluster.md").is_file()
    assert (kindless / "scripts" / "promote.sh").is_file()


def test_without_kind_nothing_points_at_the_kind_files(kindless: Path) -> None:
    makefile = (kindless / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z0-9][\w.-]*)[ \t]*:(?![:=])", makefile, re.M))
    assert not targets & {"kind-up", "kind-down", "images", "deploy", "e2e"}, targets
    phony = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", makefile, re.M)
    assert phony and set(phony.group(1).replace("\\", " ").split()) <= targets
    executable = [
        (path, line)
        for path, text in text_files(kindless)
        if path == "Makefile" or path.startswith((".github/workflows/", "scripts/", ".ci/"))
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
    ]
    for path, line in executable:
        for script in re.findall(r"scripts/[\w-]+\.\w+|k8s/[\w/.-]+", line):
            assert (kindless / script).exists(), (path, line)
        for target in re.findall(r"(?:^|[;&|(])\s*make\s+([a-z][\w-]*)", line):
            assert target in targets, (path, line)
    readme = (kindless / "README.md").read_text()
    assert "make kind-up" not in readme and "e2e-kind.yml" not in readme


def test_without_kind_the_projects_static_checks_pass(kindless: Path) -> None:
    """The docs' links and paths, the version matrix (no pin without a reader), the workflows'
    make targets, shellcheck, and the chart, as the project's make test runs them."""
    result = run(
        sys.executable, "-m", "pytest", "tests/static", "-q", "-p", "no:cacheprovider",
        cwd=kindless, env=project_env(kindless),
    )  # fmt: skip
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]
    run(VENV_BIN / "ruff", "check", "--no-cache", ".", cwd=kindless)
    run(VENV_BIN / "ruff", "format", "--no-cache", "--check", ".", cwd=kindless)


# --- from a git URL --------------------------------------------------------------------------


def test_from_a_git_url(tmp_path: Path, isolation: dict[str, Path]) -> None:
    """cookiecutter clones the repository (here a copy with the template committed) and the
    hook reads the clone."""
    origin = tmp_path / "origin"
    env = {**os.environ, **git_env(isolation, identity=True)}
    run("git", "clone", "--quiet", REPO_ROOT, origin, cwd=tmp_path, env=env)
    shutil.rmtree(origin / "template", ignore_errors=True)
    shutil.copytree(
        REPO_ROOT / "template", origin / "template", ignore=shutil.ignore_patterns("__pycache__")
    )
    run("git", "add", "template", cwd=origin, env=env)
    run("git", "commit", "--quiet", "--allow-empty", "-m", "template", cwd=origin, env=env)
    made = bake(f"git+file://{origin}", tmp_path / "out", isolation, {"project_name": "Url Risk"})
    assert (made / "src" / "url_risk" / "__init__.py").is_file()
    assert not (made / "template").exists()
    assert source_commit(made) == run("git", "rev-parse", "HEAD", cwd=origin).stdout.strip()
    assert (isolation["config"].parent / "clones" / "origin" / "template").is_dir()
