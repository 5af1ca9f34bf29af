"""Generate a renamed project from this repository: answer checks, copy, renames and options.

The repository itself is the template. cookiecutter renders only a placeholder directory; the
post-generation hook fills it with the files committed at the repository's HEAD (never the work
tree: no environment, data or half-finished edit can leak in), applies the chosen options, and
renames the example's identifiers. Every identifier this module renames is listed in
IDENTIFIER_HOMES with the file that defines it, and every anchored edit must match exactly: when
the repository changes under the template, generation stops and names what to update here,
instead of producing a half-renamed project.

Both hooks import this module; it has no dependency beyond what cookiecutter installs (PyYAML).
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import keyword
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

# Files and sections that describe generating projects: meaningless (and dangling) in a
# generated project, which has no template/ directory.
TEMPLATE_ONLY_FILES = frozenset({"docs/template.md", "tests/integration/test_template.py"})
TEMPLATE_SECTION = "## Start a new project"
PLACEHOLDER = ".cookiecutter-placeholder"
WORD = "A-Za-z0-9_"


class TemplateError(Exception):
    """Generation cannot go on; the message says why and what to do."""


# --- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Every name the generator can change, as the example uses them or as answered."""

    project_name: str
    slug: str
    package: str
    namespace: str
    registry: str
    feast_project: str
    model: str
    author: str = ""
    include_kind: bool = True
    online_store: str = "redis"

    @property
    def package_class(self) -> str:
        """CamelCase of the package: the base error class is <PackageClass>Error."""
        return camel(self.package)

    @property
    def model_class(self) -> str:
        """CamelCase of the model name: the BentoML service class."""
        return camel(self.model)

    @property
    def image_prefix(self) -> str:
        return f"{self.registry}/" if self.registry else ""


# The example as committed. The template's defaults (cookiecutter.json) reproduce exactly these.
SOURCE = Names(
    project_name="Fraud Detection",
    slug="fraud-detection",
    package="fraud_detection",
    namespace="fraud-ml",
    registry="",
    feast_project="fraud_features",
    model="fraud-detector",
)
SOURCE_TITLE = "kube-mlops-template"

# Where each renamed identifier is defined. Generation refuses to run when one of these lines
# has changed, since the renames below would then miss it silently.
IDENTIFIER_HOMES: tuple[tuple[str, str], ...] = (
    ("README.md", f"# {SOURCE_TITLE} — "),
    ("pyproject.toml", 'name = "fraud-detection"'),
    ("pyproject.toml", 'fraud-detection = "fraud_detection.cli:main"'),
    ("src/fraud_detection/__init__.py", ""),
    ("src/fraud_detection/config.py", 'model_name: str = "fraud-detector"'),
    ("src/fraud_detection/config.py", 'feature_service: str = "fraud_features_v1"'),
    ("src/fraud_detection/errors.py", "class FraudDetectionError"),
    ("src/fraud_detection/cli.py", 'prog="fraud-detection"'),
    ("src/fraud_detection/rollout/cluster_job.py", '"--namespace", default="fraud-ml"'),
    ("feature_repo/feature_store.yaml", "project: fraud_features"),
    ("feature_repo/feature_store.cluster.yaml", "project: fraud_features"),
    ("feature_repo/features.py", 'name="fraud_features_v1"'),
    ("pipelines/training_pipeline.py", 'PIPELINE_NAME = "fraud-detection-training"'),
    ("pipelines/training_pipeline.py", 'namespace: str = "fraud-ml"'),
    ("pipelines/training_pipeline.py", 'isvc_name: str = "fraud-detection"'),
    ("pipelines/components.py", 'PIPELINE_IMAGE = "fraud-detection-pipeline:'),
    ("serving/service.py", "class FraudDetector:"),
    ("serving/service.py", 'name="fraud-detector"'),
    ("charts/fraud-detection/Chart.yaml", "name: fraud-detection"),
    ("charts/fraud-detection/values.yaml", "repository: fraud-detection-serving"),
    ("charts/fraud-detection/values.yaml", "repository: fraud-detection-pipeline"),
    ("scripts/lib.sh", 'CLUSTER_NAME="${CLUSTER_NAME:-fraud-detection}"'),
    ("scripts/lib.sh", 'APP_NAMESPACE="${APP_NAMESPACE:-fraud-ml}"'),
    ("scripts/lib.sh", 'RELEASE="${RELEASE:-fraud-detection}"'),
    ("k8s/platform/base/namespace.yaml", "name: fraud-ml"),
    ("k8s/kind/cluster.yaml", "name: fraud-detection"),
)

SLUG = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# KServe names a canary's Service <release>-v-<12 hex digits>-predictor, at most 63 characters.
SLUG_MAX = 38
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PACKAGE = re.compile(r"^[a-z_][a-z0-9_]*$")
FEAST_PROJECT = re.compile(r"^[A-Za-z0-9_]+$")
# Image references (github.com/distribution/reference): an optional registry host with port,
# then lowercase path components; the generator appends /<slug>-pipeline and /<slug>-serving.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_PREFIX = re.compile(rf"^(?:{_DOMAIN}|{_PATH_PART})(?:/{_PATH_PART})*$")
AUTHOR = re.compile(r"^(?P<name>[^<>]*?)\s*(?:<(?P<email>[^<>\s]+@[^<>\s]+)>)?$")
# Top-level packages of the project and the libraries it imports: a package of the same name
# would shadow them.
TAKEN_PACKAGES = frozenset(
    {
        "pipelines", "serving", "monitoring", "bench", "tests", "feature_repo", "src", "kfp",
        "feast", "bentoml", "kserve", "evidently", "sklearn", "pandas", "numpy", "scipy",
        "pyarrow", "pydantic", "pydantic_settings", "yaml", "rich", "joblib", "pytest",
        "kubernetes", "redis", "psycopg", "cookiecutter",
    }
)  # fmt: skip
# Namespaces the platform install and the cluster's own components use.
TAKEN_NAMESPACES = frozenset(
    {"default", "kubeflow", "kserve", "cert-manager", "envoy-gateway-system", "local-path-storage"}
)


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]+", name) if part)


def names_from(context: Mapping[str, Any]) -> Names:
    """The answers, as cookiecutter passed them to a hook."""

    def text(key: str) -> str:
        return str(context.get(key, "")).strip()

    return Names(
        project_name=text("project_name"),
        slug=text("project_slug"),
        package=text("package_name"),
        namespace=text("k8s_namespace"),
        registry=text("image_registry"),
        feast_project=text("feast_project"),
        model=text("model_name"),
        author=text("author"),
        include_kind=text("include_kind_platform") == "yes",
        online_store=text("cluster_online_store"),
    )


def problems(context: Mapping[str, Any]) -> list[str]:
    """Every invalid answer, one message each, naming the field; empty when all are valid."""
    names = names_from(context)
    found: list[str] = []

    def bad(field: str, value: str, why: str) -> None:
        found.append(f"{field} {value!r}: {why}")

    if not names.project_name or not names.project_name.isprintable():
        bad("project_name", names.project_name, "must be non-empty printable text on one line")
    if not SLUG.match(names.slug) or len(names.slug) > SLUG_MAX:
        bad(
            "project_slug",
            names.slug,
            f"must match {SLUG.pattern} (lowercase letters, digits and '-', starting with a "
            f"letter) and have at most {SLUG_MAX} characters (KServe derives 63-character "
            "Service names from it)",
        )
    if not PACKAGE.match(names.package) or not names.package.isidentifier():
        bad("package_name", names.package, "must be a lowercase Python identifier (a-z, 0-9, _)")
    elif keyword.iskeyword(names.package) or keyword.issoftkeyword(names.package):
        bad("package_name", names.package, "is a Python keyword")
    elif names.package in sys.stdlib_module_names:
        bad("package_name", names.package, "would shadow the standard library module of that name")
    elif names.package in TAKEN_PACKAGES:
        bad("package_name", names.package, "would shadow a package the project already imports")
    if not DNS_LABEL.match(names.namespace) or len(names.namespace) > 63:
        bad(
            "k8s_namespace",
            names.namespace,
            "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    elif names.namespace in TAKEN_NAMESPACES or names.namespace.startswith("kube-"):
        bad("k8s_namespace", names.namespace, "belongs to the cluster or the platform install")
    if names.registry and (
        not IMAGE_PREFIX.match(names.registry)
        or len(f"{names.registry}/{names.slug}-pipeline") > 255
    ):
        bad(
            "image_registry",
            names.registry,
            "must be empty (local images, as on kind) or an image name prefix such as "
            "ghcr.io/acme or localhost:5000/team: no scheme, tag or trailing '/'",
        )
    if not FEAST_PROJECT.match(names.feast_project) or names.feast_project.startswith("_"):
        bad(
            "feast_project",
            names.feast_project,
            "must match ^[A-Za-z0-9_]+$ and not start with '_' (Feast's rule for names)",
        )
    if not SLUG.match(names.model) or len(names.model) > 50:
        bad(
            "model_name",
            names.model,
            f"must match {SLUG.pattern} and have at most 50 characters (a BentoML name, a "
            "registry directory and the service class name derive from it)",
        )
    if not names.author.isprintable() or not AUTHOR.match(names.author):
        bad("author", names.author, "must be one line: 'Name' or 'Name <email>'")
    if context.get("include_kind_platform") not in ("yes", "no"):
        bad("include_kind_platform", str(context.get("include_kind_platform")), "must be yes or no")
    if names.online_store not in ("redis", "sqlite"):
        bad("cluster_online_store", names.online_store, "must be redis or sqlite")
    return found


# --- renames --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rename: every match is replaced once and protected from the rules after it."""

    name: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda match: value


def _keep_prefix(value: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group("pre") + value


def rules(src: Names, dst: Names) -> list[Rule]:
    """The renames, most specific first. Identifiers are bounded by non-word characters so
    that a longer identifier containing one (fraud-detection-training) keeps its tail."""
    slug, package, model = re.escape(src.slug), re.escape(src.package), re.escape(src.model)
    namespace = re.escape(src.namespace)
    namespace_contexts = "|".join(
        (
            r"\bnamespace:[ \t]+",  # YAML manifests
            r"\bnamespace: str = \"",  # the pipeline's parameter
            r"\bnamespace: str \[Default: '",  # the compiled pipeline's header
            r"\"--namespace\", default=\"",  # the cluster rollout Job's command line
            r"APP_NAMESPACE:-",  # scripts/lib.sh
            r"APP_NAMESPACE = \"",  # tests/static/toolbox.py
            r"\[\"namespace\"\] == \"",  # tests comparing metadata.namespace
            r"(?<![\w-])-n ",  # kubectl/helm -n in docs and comments
            r"^kind: Namespace\nmetadata:\n  name: ",  # the Namespace object
            r"if name == \"fraud-workspace\"\} == \{\s*\"",  # tests/static/test_platform.py
        )
    )
    image = rf"(?<![\w./-]){slug}-(?P<image>pipeline|serving)(?![\w-])"
    return [
        Rule(
            "namespace",
            re.compile(rf"(?P<pre>{namespace_contexts}){namespace}(?![{WORD}.-])", re.MULTILINE),
            _keep_prefix(dst.namespace),
        ),
        Rule(
            "namespace (prose)",
            re.compile(rf"(?<![{WORD}-]){namespace}(?= namespace\b)"),
            _literal(dst.namespace),
        ),
        Rule(
            "feast project",
            re.compile(rf"(?P<pre>\bproject: ){re.escape(src.feast_project)}(?![{WORD}])"),
            _keep_prefix(dst.feast_project),
        ),
        Rule(
            "feature service (<feast project>_v<n>)",
            re.compile(rf"(?<![{WORD}]){re.escape(src.feast_project)}(?=_v\d+\b)"),
            _literal(dst.feast_project),
        ),
        Rule(
            "image names",
            re.compile(image),
            lambda match: f"{dst.image_prefix}{dst.slug}-{match.group('image')}",
        ),
        Rule(
            "image names as a regular expression",
            re.compile(rf"(?<![\w./-]){slug}-\(pipeline\|serving\)"),
            _literal(f"{re.escape(dst.image_prefix)}{dst.slug}-(pipeline|serving)"),
        ),
        Rule(
            "package",
            re.compile(rf"(?<![{WORD}]){package}(?![A-Za-z0-9])"),
            _literal(dst.package),
        ),
        Rule("slug", re.compile(rf"(?<![{WORD}]){slug}(?![{WORD}])"), _literal(dst.slug)),
        Rule("model", re.compile(rf"(?<![{WORD}]){model}(?![{WORD}])"), _literal(dst.model)),
        Rule(
            "service class",
            re.compile(rf"(?<![{WORD}]){src.model_class}(?![a-z0-9_])"),
            _literal(dst.model_class),
        ),
        Rule(
            "package class prefix",
            re.compile(rf"(?<![{WORD}]){src.package_class}(?![a-z0-9_])"),
            _literal(dst.package_class),
        ),
    ]


def title_rule(src: Names, dst: Names) -> Rule | None:
    """The README's title names the project, unless the answer is the example's own name."""
    if dst.project_name == src.project_name:
        return None
    return Rule(
        "README title",
        re.compile(rf"\A# {re.escape(SOURCE_TITLE)}(?= — )"),
        _literal(f"# {dst.project_name}"),
    )


def apply_rules(text: str, active: Iterable[Rule]) -> str:
    """Run the rules in order; a replaced span is sealed so later rules cannot touch it."""
    sealed: list[str] = []

    def seal(value: str) -> str:
        sealed.append(value)
        return f"\x00{len(sealed) - 1}\x00"

    def sealed_replacement(rule: Rule) -> Callable[[re.Match[str]], str]:
        return lambda match: seal(rule.replace(match))

    for rule in active:
        text = rule.pattern.sub(sealed_replacement(rule), text)
    return re.sub("\x00(\\d+)\x00", lambda match: sealed[int(match.group(1))], text)


def _walk(node: Any, keys: tuple[str, ...], convert: Callable[[str, tuple[str, ...]], str]) -> Any:
    if isinstance(node, dict):
        return {
            convert(k, keys) if isinstance(k, str) else k: _walk(v, (*keys, str(k)), convert)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_walk(item, keys, convert) for item in node]
    if isinstance(node, str):
        return convert(node, keys)
    return node


def rename_compiled_pipeline(text: str, src: Names, dst: Names, active: list[Rule]) -> str:
    """A compiled KFP pipeline is rewritten as kfp writes it (its header comments, then
    yaml.dump_all with sorted keys), so that `compile --check` finds it up to date: renaming the
    text alone would leave kfp's line wrapping of the embedded sources behind."""
    lines = text.splitlines(keepends=True)
    header_end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    header, body = "".join(lines[:header_end]), "".join(lines[header_end:])

    def convert(value: str, keys: tuple[str, ...]) -> str:
        if keys[-2:] == ("namespace", "defaultValue") and value == src.namespace:
            return dst.namespace
        return apply_rules(value, active)

    documents = list(yaml.safe_load_all(body))
    renamed = [_walk(document, (), convert) for document in documents]
    new_header = apply_rules(header, active)
    if renamed == documents:
        return new_header + body
    return new_header + yaml.dump_all(renamed, sort_keys=True)


def rename_path(path: str, src: Names, dst: Names) -> str:
    parts = []
    for part in PurePosixPath(path).parts:
        if part == src.package:
            part = dst.package
        elif part == src.slug:
            part = dst.slug
        parts.append(part)
    return PurePosixPath(*parts).as_posix()


# --- the repository ------------------------------------------------------------------------


@dataclass
class File:
    data: bytes
    executable: bool = False
    symlink: bool = False

    def text(self) -> str | None:
        """The content as text, or None for binary content (left byte for byte)."""
        if self.symlink or b"\x00" in self.data:
            return None
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


Files = dict[str, File]


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TemplateError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout


def repository_files(root: Path, commit: str, exclude: str) -> Files:
    """The files committed at `commit`, except the template directory itself."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=root, capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise TemplateError(f"git archive {commit} failed: {archive.stderr.decode().strip()}")
    files: Files = {}
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            path = member.name
            if path == exclude or path.startswith(f"{exclude}/") or path in TEMPLATE_ONLY_FILES:
                continue
            if member.issym():
                files[path] = File(member.linkname.encode(), symlink=True)
            elif member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[path] = File(extracted.read(), executable=bool(member.mode & 0o111))
    return files


def check_identifier_homes(files: Files) -> None:
    missing = [
        f"{path}: {expected!r}"
        for path, expected in IDENTIFIER_HOMES
        if path not in files or expected not in (files[path].text() or "")
    ]
    if missing:
        raise TemplateError(
            "the repository no longer defines these identifiers as the template expects; update "
            "IDENTIFIER_HOMES and the renames in template/project_generator.py:\n  "
            + "\n  ".join(missing)
        )


# --- anchored edits -------------------------------------------------------------------------


def edit(files: Files, path: str, old: str, new: str, count: int = 1) -> None:
    """Replace `old` exactly `count` times; anything else means the file changed under us."""
    text = files[path].text() if path in files else None
    found = text.count(old) if text is not None else 0
    if text is None or found != count:
        raise TemplateError(
            f"{path}: expected {count} occurrence(s) of {old!r}, found {found}; "
            "update the edits in template/project_generator.py"
        )
    files[path].data = text.replace(old, new).encode()


def set_text(files: Files, path: str, text: str) -> None:
    files[path] = replace(files.get(path, File(b"")), data=text.encode())


def text_of(files: Files, path: str) -> str:
    text = files[path].text() if path in files else None
    if text is None:
        raise TemplateError(f"{path} is missing from the repository or is not text")
    return text


def drop_markdown_section(text: str, heading: str) -> str:
    """Remove a section, from its heading to the next heading of the same or a higher level."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    if not starts:
        return text
    level = len(heading) - len(heading.lstrip("#"))
    end = next(
        (i for i in range(starts[0] + 1, len(lines)) if re.match(rf"^#{{1,{level}}} ", lines[i])),
        len(lines),
    )
    return "".join(lines[: starts[0]] + lines[end:])


def drop_function(text: str, name: str, path: str) -> str:
    """Remove a top-level function (and the blank lines before it) from Python source."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            assert node.end_lineno is not None
            lines = text.splitlines(keepends=True)
            while first > 0 and not lines[first - 1].strip():
                first -= 1
            return "".join(lines[:first] + lines[node.end_lineno :]).rstrip("\n") + "\n"
    raise TemplateError(f"{path}: no function {name}(); update template/project_generator.py")


def drop_unused_import(text: str, module: str) -> str:
    if re.search(rf"\b{module}\.", text):
        return text
    return re.sub(rf"^import {module}\n", "", text, count=1, flags=re.MULTILINE)


# --- what the generated project leaves out, and the documentation that cites it -----------


@dataclass
class Removed:
    """Files, directories, test functions and Makefile targets the project does not have."""

    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)  # "path::name"
    targets: set[str] = field(default_factory=set)

    def covers(self, reference: str) -> bool:
        """Whether a repository path (optionally path::function) names something removed."""
        path, _, function = reference.partition("::")
        if "/" not in path:
            # A bare file name (`e2e-kind.yml`); a word such as `template` is not a path.
            return "." in path and any(f.rsplit("/", 1)[-1] == path for f in self.files)
        path = path.rstrip("/")
        if f"{path}::{function}" in self.functions or path in self.files:
            return True
        return any(path == d.rstrip("/") or path.startswith(d) for d in self.dirs)


LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s")


def _link_target(doc: str, target: str) -> str | None:
    """The repository path a relative Markdown link points at (None for URLs and anchors)."""
    path = target.partition("#")[0]
    if not path or re.match(r"[a-z][a-z0-9+.-]*:", path):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(doc), path))


def _cites_removed(doc: str, line: str, removed: Removed) -> bool:
    for _, target in LINK.findall(line):
        linked = _link_target(doc, target)
        if linked is not None and removed.covers(linked):
            return True
    for span in CODE.findall(line):
        words = span.split()
        if words and words[0] == "make" and removed.targets & set(words[1:]):
            return True
        if removed.covers(span):
            return True
    return False


def prune_markdown(files: Files, removed: Removed) -> None:
    """Documentation that cites what the project leaves out: a table row or list item citing
    it goes (it describes or proves something that is not there); in other text, links to it
    become plain text and code spans naming it lose their backticks."""
    for doc in [p for p in files if p.endswith(".md")]:
        text = files[doc].text()
        if text is None:
            continue
        kept: list[str] = []
        dropped_item_indent: int | None = None
        for line in text.splitlines(keepends=True):
            indent = len(line) - len(line.lstrip())
            if dropped_item_indent is not None:
                if line.strip() and indent > dropped_item_indent:
                    continue
                dropped_item_indent = None
            if not _cites_removed(doc, line, removed):
                kept.append(line)
                continue
            item = LIST_ITEM.match(line)
            if item:
                dropped_item_indent = len(item.group(1))
                continue
            if line.lstrip().startswith("|"):
                continue

            def unlink(match: re.Match[str], doc: str = doc) -> str:
                linked = _link_target(doc, match.group(2))
                return match.group(1) if linked and removed.covers(linked) else match.group(0)

            line = LINK.sub(unlink, line)
            line = CODE.sub(
                lambda m: m.group(1) if removed.covers(m.group(1)) else m.group(0), line
            )
            kept.append(line)
        new = "".join(kept)
        if new != text:
            set_text(files, doc, new)


# --- option: no kind cluster, no platform install ------------------------------------------

# tests/cluster/: make verify-cluster runs the kind scripts end to end.
KIND_DIRS = ("k8s/kind/", "k8s/platform/", "tests/cluster/")
KIND_FILES = (
    "k8s/jobs/workspace-init.yaml",
    "scripts/kind-up.sh",
    "scripts/kind-down.sh",
    "scripts/images.sh",
    "scripts/deploy.sh",
    "scripts/e2e.sh",
    "scripts/platform-manifests.sh",
    ".github/workflows/e2e-kind.yml",
    "docs/kind.md",
    "tests/static/test_platform.py",
    "tests/static/test_cluster_scripts.py",
    "tests/static/test_kind_up.py",
)
MAKE_CALL = re.compile(r"(?:^|[;&|(])[ \t]*make((?:[ \t]+[^\s;&|)]+)*)", re.MULTILINE)
MAKE_RULE = re.compile(r"^([A-Za-z0-9][\w.-]*)[ \t]*:(?![:=])")

CLUSTER_GUIDE = """\
# Kubernetes: the cluster you provide

This project was generated from kube-mlops-template without the kind path
(`include_kind_platform=no`): no local cluster definition, no platform install, no workspace
seeding Job, no `make kind-up`, `images`, `deploy` or `e2e`, and no nightly end-to-end workflow.
What stays targets a cluster you provide:

- the Helm chart [`charts/fraud-detection/`](../charts/fraud-detection/): the scoring service as a
  KServe InferenceService with an optional canary, the monitor and materialization CronJobs, the
  Feast feature server, the rollout RBAC and the NetworkPolicies;
- the pipeline image, [`k8s/images/pipeline.Dockerfile`](../k8s/images/pipeline.Dockerfile); the
  serving image is `bentoml containerize` of a Bento the pipeline built (`make bentos`);
- `make promote`, which the release workflow runs, and `make cluster-logs`.

What the platform install used to provide, the cluster has to: KServe in Standard mode and KFP;
and in the release namespace a ReadWriteMany PersistentVolumeClaim named by
`jobs.workspaceClaim`, holding `data/`, `feature_repo/` and `artifacts/`; the Secret named by
`featureStore.secretName` with the connection strings Feast reads; and the Feast stores, in pods
labelled `app.kubernetes.io/name: redis` and `postgres`, which the chart's NetworkPolicies let its
Feast clients reach. [`values.yaml`](../charts/fraud-detection/values.yaml) documents each value.

`make test` still lints and renders the chart for every values file and checks the rendered
objects against the Kubernetes and kserve SDK models; the platform checks (kustomize, checkov,
hadolint, the cross-file contracts) went with the platform. Generating the project again with
`include_kind_platform=yes` brings the kind path back.
"""

# Prose on the README that only the kind path makes true. Edits must match exactly.
NO_KIND_EDITS: tuple[tuple[str, str, str, int], ...] = (
    ("tests/static/test_workflows.py", '"e2e-kind.yml", ', "", 1),
    ("tests/static/test_workflows.py", "len(WORKFLOWS) >= 3", "len(WORKFLOWS) >= 2", 2),
    ("tests/static/test_versions.py", '"scripts/kind-up.sh", ', "", 1),
    ("tests/static/test_versions.py", "len(names) > 20", "len(names) > 10", 1),
    ("tests/static/test_docs.py", '"docs/kind.md"}', '"docs/cluster.md"}', 1),
    ("README.md", "`e2e-kind.yml` (kind cluster, nightly), ", "", 1),
    (
        "README.md",
        "; kind cluster, platform install, images, deploy and e2e scripts;",
        "; promotion and log collection scripts;",
        1,
    ),
    (
        "README.md",
        "and on Kubernetes (`make kind-up\nimages deploy e2e`, see [docs/kind.md](docs/kind.md));",
        "and on a Kubernetes cluster you\nprovide (see [docs/cluster.md](docs/cluster.md));",
        1,
    ),
)


def _make_targets(script: str) -> set[str]:
    targets: set[str] = set()
    for match in MAKE_CALL.finditer(script.replace("\\\n", " ")):
        targets.update(w for w in match.group(1).split() if not w.startswith("-") and "=" not in w)
    return targets


def _drop_make_rules(text: str, removed: Removed) -> tuple[str, set[str]]:
    """Remove every Makefile rule whose recipe runs a removed file, and its .PHONY entry."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    dropped: set[str] = set()
    i = 0
    while i < len(lines):
        rule = MAKE_RULE.match(lines[i])
        if rule:
            end = i + 1
            while end < len(lines) and lines[end].startswith("\t"):
                end += 1
            recipe = "".join(lines[i + 1 : end])
            if any(path in recipe for path in removed.files) or any(
                directory.rstrip("/") in recipe for directory in removed.dirs
            ):
                dropped.add(rule.group(1))
                i = end + 1 if end < len(lines) and not lines[end].strip() else end
                continue
        kept.append(lines[i])
        i += 1
    result: list[str] = []
    in_phony = False
    for line in kept:
        in_phony = in_phony or line.startswith(".PHONY:")
        if not in_phony:
            result.append(line)
            continue
        continued = line.rstrip("\n").endswith("\\")
        body = line.rstrip("\n").rstrip("\\").rstrip()
        indent = body[: len(body) - len(body.lstrip())]
        words = [w for w in body.split() if w not in dropped]
        if words:
            result.append(indent + " ".join(words) + (" \\" if continued else "") + "\n")
        elif result and not continued:
            result[-1] = result[-1].rstrip("\n").rstrip("\\").rstrip() + "\n"
        in_phony = continued
    return "".join(result), dropped


def _prune_unused_pins(files: Files) -> None:
    """Drop version pins nothing reads any more, with the comment lines directly above them:
    tests/static/test_versions.py refuses a pin no script, workflow or manifest reads."""
    readers = "".join(
        files[p].text() or ""
        for p in sorted(files)
        if re.match(r"scripts/[^/]+\.(sh|cjs)$", p)
        or re.match(r"\.github/workflows/[^/]+\.yml$", p)
        or (p.startswith("k8s/") and (p.endswith(".yaml") or p.endswith("Dockerfile")))
        or p in ("Makefile", ".ci/run", "tests/static/toolbox.py", "tests/static/test_versions.py")
    )
    path = "k8s/versions.env"
    lines = text_of(files, path).splitlines(keepends=True)
    drop: set[int] = set()
    for i, line in enumerate(lines):
        key = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if key and not re.search(rf"\b{key.group(1)}\b", readers):
            drop.add(i)
            above = i - 1
            while above >= 0 and lines[above].startswith("# ") and "---" not in lines[above]:
                drop.add(above)
                above -= 1
    set_text(files, path, "".join(line for i, line in enumerate(lines) if i not in drop))


def without_kind(files: Files, removed: Removed) -> None:
    missing = [p for p in KIND_FILES if p not in files]
    missing += [d for d in KIND_DIRS if not any(p.startswith(d) for p in files)]
    if missing:
        raise TemplateError(
            f"include_kind_platform=no: {missing} no longer exist; update KIND_FILES"
        )
    gone = {p for p in files if p.startswith(KIND_DIRS)} | set(KIND_FILES)
    removed.files |= gone
    removed.dirs |= set(KIND_DIRS)
    workflows = [p for p in files if p.startswith(".github/workflows/") and p not in gone]
    still_called = {t for p in workflows for t in _make_targets(files[p].text() or "")}
    for path in gone:
        del files[path]

    makefile, dropped = _drop_make_rules(text_of(files, "Makefile"), removed)
    if not dropped:
        raise TemplateError("include_kind_platform=no: no Makefile rule runs the kind scripts")
    set_text(files, "Makefile", makefile)
    removed.targets |= dropped

    # The workflows test lists targets the workflows call: keep those the kept ones call.
    path = "tests/static/test_workflows.py"
    expected = re.search(r"^EXPECTED_TARGETS = (\{.*\})$", text_of(files, path), re.MULTILINE)
    if not expected:
        raise TemplateError(f"{path}: no EXPECTED_TARGETS; update template/project_generator.py")
    targets = ast.literal_eval(expected.group(1))
    still = ", ".join(f'"{t}"' for t in sorted(set(targets) & still_called))
    edit(files, path, expected.group(0), f"EXPECTED_TARGETS = {{{still}}}")

    for path, old, new, count in NO_KIND_EDITS:
        edit(files, path, old, new, count)
    for path, function in (
        (
            "tests/static/test_versions.py",
            "test_the_versions_quoted_in_the_kind_guide_are_the_matrix",
        ),
        ("tests/static/toolbox.py", "render_platform"),
        # The promote and rollback tests stay: the release workflow promotes on any cluster.
        (
            "tests/static/test_rollout_scripts.py",
            "test_e2e_canaries_rolls_back_and_promotes_through_the_rollout_job",
        ),
        (
            "tests/static/test_rollout_scripts.py",
            "test_e2e_fails_when_the_cluster_does_not_do_its_part",
        ),
    ):
        set_text(files, path, drop_function(text_of(files, path), function, path))
        removed.functions.add(f"{path}::{function}")
    path = "tests/static/toolbox.py"
    set_text(files, path, drop_unused_import(text_of(files, path), "os"))
    set_text(files, "docs/cluster.md", CLUSTER_GUIDE)
    _prune_unused_pins(files)


# --- option: SQLite as the cluster profile's online store ----------------------------------

SQLITE_ONLINE_STORE = """\
# SQLite in the shared workspace volume instead of Redis (generated with
# cluster_online_store=sqlite). ../data resolves to /workspace/data for every client whose
# feature repo is /workspace/feature_repo: the CronJobs, the pipeline, and the model server (the
# chart's featureStore.repoPath; its workspace mount comes with predictionLog.enabled). One
# writer (the materialization CronJob) and readers on one node are fine; SQLite on a network
# file system shared by several nodes is not: use Redis there.
online_store:
  type: sqlite
  path: ../data/feast/online_store.cluster.db
"""


def with_sqlite(files: Files, removed: Removed) -> None:
    path = "feature_repo/feature_store.cluster.yaml"
    edit(
        files,
        path,
        "# Cluster profile: Redis online store and a SQL registry in PostgreSQL, shared by the\n"
        "# feature server, the materialization CronJob,",
        "# Cluster profile: a SQLite online store and a SQL registry in PostgreSQL, shared by the\n"
        "# materialization CronJob,",
    )
    edit(
        files,
        path,
        "online_store:\n  type: redis\n"
        "  connection_string: ${FEAST_REDIS_CONNECTION}  # e.g. redis:6379,password=<password>\n",
        SQLITE_ONLINE_STORE,
    )
    path = "charts/fraud-detection/values.yaml"
    edit(
        files,
        path,
        "  repoPath: /home/bentoml/bento/src/feature_repo\n",
        "  # The SQLite online store lives on the workspace volume, beside this copy of the repo.\n"
        "  repoPath: /workspace/feature_repo\n",
    )
    edit(
        files,
        path,
        "featureServer:\n  enabled: true\n",
        "# Off with the SQLite online store: the feature server's pod has no workspace mount.\n"
        "featureServer:\n  enabled: false\n",
    )
    path = "tests/integration/test_feature_store_cluster.py"
    function = "test_definitions_live_in_postgres_and_features_in_redis"
    set_text(files, path, drop_function(text_of(files, path), function, path))
    removed.functions.add(f"{path}::{function}")
    path = "tests/static/test_platform.py"
    if path in files:
        edit(
            files,
            path,
            '    server = _by(docs, "Deployment", "fraud-detection-feature-server")["spec"]'
            '["template"]\n'
            '    assert server["metadata"]["labels"]["fraud-detection.io/feast-client"] == "true"\n'
            '    command = server["spec"]["containers"][0]["command"]\n'
            '    assert command[:5] == ["feast", "-c", "/app/feature_repo", "-f",\n'
            '                           "/app/feature_repo/feature_store.cluster.yaml"]'
            "  # fmt: skip\n",
            "",
        )


# --- option: author -------------------------------------------------------------------------


def with_author(files: Files, author: str) -> None:
    match = AUTHOR.match(author)
    assert match
    name, email = match.group("name"), match.group("email")
    person = f"name = {json.dumps(name, ensure_ascii=False)}"
    if email:
        person += f", email = {json.dumps(email)}"
    pyproject = text_of(files, "pyproject.toml")
    licence = re.search(r"^license = .*\n", pyproject, re.MULTILINE)
    if not licence:
        raise TemplateError("pyproject.toml has no license line to put the authors after")
    edit(
        files, "pyproject.toml", licence.group(0), f"{licence.group(0)}authors = [{{ {person} }}]\n"
    )
    chart = "charts/fraud-detection/Chart.yaml"
    maintainer = f"maintainers:\n  - name: {json.dumps(name, ensure_ascii=False)}\n"
    if email:
        maintainer += f"    email: {json.dumps(email)}\n"
    set_text(files, chart, text_of(files, chart).rstrip("\n") + "\n" + maintainer)


# --- generation -----------------------------------------------------------------------------


@dataclass
class Generated:
    """The generated project's files, where each came from, and the Python files that differ
    from the repository's (they get their imports sorted and their lines re-formatted)."""

    files: Files
    origin: dict[str, str]
    changed_python: set[str]


def generate(
    files: Files, dst: Names, template: str = "template", src: Names = SOURCE
) -> Generated:
    """The generated project from the repository's files: options first (they are written
    against the example's names), then the documentation that cites what was left out, then
    the renames, then a check that nothing was missed."""
    check_identifier_homes(files)
    original = {path: file.data for path, file in files.items()}
    removed = Removed(files=set(TEMPLATE_ONLY_FILES), dirs={f"{template}/"})
    set_text(
        files, "README.md", drop_markdown_section(text_of(files, "README.md"), TEMPLATE_SECTION)
    )
    if not dst.include_kind:
        without_kind(files, removed)
    if dst.online_store == "sqlite":
        with_sqlite(files, removed)
    if dst.author:
        with_author(files, dst.author)
    prune_markdown(files, removed)

    base = rules(src, dst)
    title = title_rule(src, dst)
    result = Generated({}, {}, set())
    for path, file in files.items():
        new_path = rename_path(path, src, dst)
        text = file.text()
        if text is not None:
            active = [title, *base] if title and path == "README.md" else base
            if text.startswith("# PIPELINE DEFINITION\n"):
                renamed = rename_compiled_pipeline(text, src, dst, base)
            else:
                renamed = apply_rules(text, active)
            if renamed != text:
                file = replace(file, data=renamed.encode())
        result.files[new_path] = file
        result.origin[new_path] = path
        if new_path.endswith(".py") and file.data != original.get(path):
            result.changed_python.add(new_path)
    leftovers(result.files, src, dst)
    return result


SECRETS_BASELINE = ".secrets.baseline"


def _line_map(old: str, new: str) -> dict[int, int]:
    """1-based line numbers of `old` that survive in `new`, and where they went."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    moved: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            moved.update({i + 1: j1 + (i - i1) + 1 for i in range(i1, i2)})
    return moved


def follow_secrets_baseline(project_dir: Path, repository: Files, generated: Generated) -> None:
    """detect-secrets' baseline records each audited finding by file and line: follow the
    files the generator renamed, edited, re-formatted or left out."""
    path = project_dir / SECRETS_BASELINE
    if not path.is_file():
        return
    baseline = json.loads(path.read_text())
    results = baseline.get("results")
    if not isinstance(results, dict):
        return
    kept: dict[str, Any] = {}
    for name, findings in results.items():
        current = project_dir / name
        source = repository.get(generated.origin.get(str(name), str(name)))
        if not current.is_file() or not isinstance(findings, list):
            continue
        old, new = (source.text() if source else None), current.read_text()
        if old is not None and old != new:
            moved = _line_map(old, new)
            findings = [
                {**f, "line_number": moved[f["line_number"]]}
                for f in findings
                if isinstance(f, dict) and f.get("line_number") in moved
            ]
        if findings:
            kept[name] = findings
    if kept != results:
        baseline["results"] = kept
        path.write_text(json.dumps(baseline, indent=2) + "\n")


def leftovers(files: Files, src: Names, dst: Names) -> None:
    """Every renamed identifier is gone: a survivor means a rename rule is missing."""
    fields = ("package", "slug", "model", "model_class", "package_class", "namespace")
    tokens = [(getattr(src, f), getattr(dst, f)) for f in (*fields, "feast_project")]
    # A name the answers keep (or contain) legitimately stays.
    answered = " ".join([new for _, new in tokens] + [dst.registry, dst.project_name])
    changed = sorted({old for old, new in tokens if old != new and old not in answered})
    if not changed:
        return
    pattern = re.compile("|".join(rf"(?<![{WORD}]){re.escape(t)}(?![A-Za-z0-9])" for t in changed))
    found = sorted(
        f"{path}: {match.group(0)}"
        for path, file in files.items()
        for match in [pattern.search(f"{path}\n{file.text() or ''}")]
        if match
    )
    if found:
        raise TemplateError(
            "these files still name the example after the renames; add a rule to "
            "template/project_generator.py:\n  " + "\n  ".join(found)
        )


def write(files: Files, project_dir: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    for path, file in sorted(files.items()):
        target = project_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.symlink:
            target.symlink_to(file.data.decode())
            continue
        target.write_bytes(file.data)
        target.chmod((0o777 if file.executable else 0o666) & ~umask)


def find_ruff(root: Path) -> str | None:
    """The project's own pinned ruff when the source checkout has its environment, else the
    ruff beside cookiecutter's Python or on PATH."""
    for candidate in (root / ".venv" / "bin" / "ruff", Path(sys.executable).parent / "ruff"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("ruff")


def tidy_python(project_dir: Path, paths: set[str], root: Path) -> str:
    """Renames change the length of lines and the alphabetical order of imports: sort the
    imports and re-format the Python files the renames changed, with the project's settings."""
    if not paths:
        return "no Python file changed"
    ruff = find_ruff(root)
    if ruff is None:
        return "ruff not found: run `make format` once in the new project (lines may have moved)"
    targets = sorted(paths)
    for args in (["check", "--fix", "--select", "I"], ["format"]):
        result = subprocess.run(
            [ruff, *args, "--no-cache", "--quiet", *targets],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return f"ruff {args[0]} failed ({result.stdout.strip()} {result.stderr.strip()})"
    return f"sorted imports and re-formatted {len(targets)} renamed Python files with {ruff}"


def git_identity(project_dir: Path) -> bool:
    def configured(key: str, *variables: str) -> bool:
        if any(os.environ.get(v) for v in variables):
            return True
        found = subprocess.run(
            ["git", "config", "--get", key], cwd=project_dir, capture_output=True, check=False
        )
        return found.returncode == 0 and bool(found.stdout.strip())

    return configured("user.name", "GIT_AUTHOR_NAME") and configured(
        "user.email", "GIT_AUTHOR_EMAIL", "EMAIL"
    )


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")


def complain(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def pre_generate(context: Mapping[str, Any]) -> int:
    """Exit status of the pre-generation hook: 1 when an answer is invalid."""
    found = problems(context)
    for problem in found:
        complain(problem)
    if found:
        complain("nothing was generated; run cookiecutter again with valid answers")
        return 1
    return 0


def post_generate(context: Mapping[str, Any], project_dir: Path, templates: Path) -> int:
    """Exit status of the post-generation hook: 1 (and cookiecutter removes the project) when
    the repository cannot be turned into the project."""
    try:
        fill(context, project_dir, templates)
    except TemplateError as error:
        complain(str(error))
        return 1
    return 0


def fill(context: Mapping[str, Any], project_dir: Path, templates: Path) -> None:
    dst = names_from(context)
    root = Path(git("rev-parse", "--show-toplevel", cwd=templates).strip())
    commit = git("rev-parse", "HEAD", cwd=root).strip()
    exclude = templates.relative_to(root.resolve()).as_posix()
    leftover = [p.name for p in project_dir.iterdir() if p.name != PLACEHOLDER]
    if leftover:
        raise TemplateError(f"{project_dir} is not empty ({', '.join(sorted(leftover))})")
    (project_dir / PLACEHOLDER).unlink(missing_ok=True)
    repository = repository_files(root, commit, exclude)
    generated = generate({p: replace(f) for p, f in repository.items()}, dst, exclude)
    files = generated.files
    write(files, project_dir)

    given = str(context.get("_template", ""))
    # A repository URL as given; a local path as the repository it resolved to.
    source = given if re.match(r"^[\w+.-]+://|^[\w.-]+@", given) else str(root)
    say(f"Generated {dst.slug} from {source} at commit {commit[:12]} ({len(files)} files).")
    say(f"Python: {tidy_python(project_dir, generated.changed_python, root)}.")
    follow_secrets_baseline(project_dir, repository, generated)
    changed = git("status", "--porcelain", "--untracked-files=no", cwd=root).splitlines()
    dirty = [line[3:] for line in changed if not line[3:].startswith(f"{exclude}/")]
    if dirty:
        say(
            f"Note: {len(dirty)} tracked file(s) have uncommitted changes in {root}; the project "
            "has the committed versions."
        )

    git("init", "--quiet", cwd=project_dir)
    if not git_identity(project_dir):
        say(
            "Initialised a git repository without a commit: git has no user.name/user.email. "
            "Set them, then: git add --all && git commit -m 'Initial commit'"
        )
    else:
        answers = "".join(f"  {k}: {context[k]}\n" for k in sorted(context) if k[0] != "_")
        message = f"{dst.project_name}: generated from {source} at {commit}\n\nAnswers:\n{answers}"
        try:
            git("add", "--all", cwd=project_dir)
            git("commit", "--quiet", "--no-verify", "--message", message, cwd=project_dir)
            say("Initialised a git repository with the generated files as its first commit.")
        except TemplateError as error:
            say(f"Initialised a git repository; the first commit failed ({error}).")

    say("\nNext steps:")
    say(f"  cd {project_dir}")
    say("  make demo    # the whole loop on this machine: data, features, pipeline, serving")
    say("  make test    # lint, type-check and the test suite")
    if dst.include_kind:
        say("  make kind-up images deploy e2e    # the same on a local kind cluster (docs/kind.md)")
    else:
        say("  docs/cluster.md says what a cluster has to provide for the chart")
    if dst.online_store == "sqlite":
        say("The cluster Feast profile keeps its online store in SQLite on the workspace volume")
        say("(feature_repo/feature_store.cluster.yaml says where and when that is safe).")
    say("Then make it yours: replace the fraud example's data, features and model.")
