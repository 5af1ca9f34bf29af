"""The answers cookiecutter collected: checked, and turned into the new project's names.

The pre-generation hook refuses invalid answers with one message per field (`problems`); the
generator turns valid ones into the values of the new `project.env` (`Answers.identity`).
No dependency beyond the standard library.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class TemplateError(Exception):
    """Generation cannot go on; the message says why and what to do."""


SLUG = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# KServe names a canary's Service <release>-v-<12 hex digits>-predictor, at most 63 characters.
SLUG_MAX = 38
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PACKAGE = re.compile(r"^[a-z_][a-z0-9_]*$")
FEAST_PROJECT = re.compile(r"^[A-Za-z0-9_]+$")
# Image references (github.com/distribution/reference): an optional registry host with port,
# then lowercase path components; the project appends /<slug>-pipeline and /<slug>-serving.
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
        "kubernetes", "redis", "psycopg", "cookiecutter", "dotenv",
    }
)  # fmt: skip
# Namespaces the platform install and the cluster's own components use.
TAKEN_NAMESPACES = frozenset(
    {"default", "kubeflow", "kserve", "cert-manager", "envoy-gateway-system", "local-path-storage"}
)


def camel(name: str) -> str:
    """CamelCase of a name: `risk-model` gives `RiskModel`, `card_risk` gives `CardRisk`."""
    return "".join(part.capitalize() for part in re.split(r"[-_]+", name) if part)


@dataclass(frozen=True)
class Answers:
    """The answers, as cookiecutter passed them to a hook."""

    project_name: str
    slug: str
    package: str
    namespace: str
    registry: str
    feast_project: str
    model: str
    author: str
    include_kind: bool
    online_store: str

    @classmethod
    def of(cls, context: Mapping[str, Any]) -> Answers:
        def text(key: str) -> str:
            return str(context.get(key, "")).strip()

        return cls(
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

    def identity(self) -> dict[str, str]:
        """The new project.env: every key, derived from the answers as the example's are."""
        return {
            "PROJECT_SLUG": self.slug,
            "PACKAGE_NAME": self.package,
            "MODEL_NAME": self.model,
            "APP_NAMESPACE": self.namespace,
            "IMAGE_REGISTRY": self.registry,
            "SERVING_IMAGE": f"{self.slug}-serving",
            "PIPELINE_IMAGE": f"{self.slug}-pipeline",
            "PIPELINE_NAME": f"{self.slug}-training",
            "FEAST_PROJECT": self.feast_project,
            "FEATURE_SERVICE": f"{self.feast_project}_v2",
            "CHART_NAME": self.slug,
            "RELEASE_NAME": self.slug,
            "CLUSTER_NAME": self.slug,
        }

    def author_parts(self) -> tuple[str, str | None]:
        """(name, email or None) of the author answer."""
        match = AUTHOR.match(self.author)
        assert match, self.author
        return match.group("name"), match.group("email")


def problems(context: Mapping[str, Any]) -> list[str]:
    """Every invalid answer, one message each, naming the field; empty when all are valid."""
    answers = Answers.of(context)
    found: list[str] = []

    def bad(field: str, value: str, why: str) -> None:
        found.append(f"{field} {value!r}: {why}")

    if not answers.project_name or not answers.project_name.isprintable():
        bad("project_name", answers.project_name, "must be non-empty printable text on one line")
    if not SLUG.match(answers.slug) or len(answers.slug) > SLUG_MAX:
        bad(
            "project_slug",
            answers.slug,
            f"must match {SLUG.pattern} (lowercase letters, digits and '-', starting with a "
            f"letter) and have at most {SLUG_MAX} characters (KServe derives 63-character "
            "Service names from it)",
        )
    package = answers.package
    if not PACKAGE.match(package) or not package.isidentifier():
        bad("package_name", package, "must be a lowercase Python identifier (a-z, 0-9, _)")
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        bad("package_name", package, "is a Python keyword")
    elif package in sys.stdlib_module_names:
        bad("package_name", package, "would shadow the standard library module of that name")
    elif package in TAKEN_PACKAGES:
        bad("package_name", package, "would shadow a package the project already imports")
    namespace = answers.namespace
    if not DNS_LABEL.match(namespace) or len(namespace) > 63:
        bad(
            "k8s_namespace",
            namespace,
            "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    elif namespace in TAKEN_NAMESPACES or namespace.startswith("kube-"):
        bad("k8s_namespace", namespace, "belongs to the cluster or the platform install")
    registry = answers.registry
    if registry and (
        not IMAGE_PREFIX.match(registry) or len(f"{registry}/{answers.slug}-pipeline") > 255
    ):
        bad(
            "image_registry",
            registry,
            "must be empty (local images, as on kind) or an image name prefix such as "
            "ghcr.io/acme or localhost:5000/team: no scheme, tag or trailing '/'",
        )
    if not FEAST_PROJECT.match(answers.feast_project) or answers.feast_project.startswith("_"):
        bad(
            "feast_project",
            answers.feast_project,
            "must match ^[A-Za-z0-9_]+$ and not start with '_' (Feast's rule for names)",
        )
    if not SLUG.match(answers.model) or len(answers.model) > 50:
        bad(
            "model_name",
            answers.model,
            f"must match {SLUG.pattern} and have at most 50 characters (a BentoML name, a "
            "registry directory and the service class name derive from it)",
        )
    if not answers.author.isprintable() or not AUTHOR.match(answers.author):
        bad("author", answers.author, "must be one line: 'Name' or 'Name <email>'")
    if context.get("include_kind_platform") not in ("yes", "no"):
        bad("include_kind_platform", str(context.get("include_kind_platform")), "must be yes or no")
    if answers.online_store not in ("redis", "sqlite"):
        bad("cluster_online_store", answers.online_store, "must be redis or sqlite")
    return found


def pre_generate(context: Mapping[str, Any]) -> int:
    """Exit status of the pre-generation hook: 1, with a line per invalid answer, if any."""
    found = problems(context)
    if found:
        found.append("nothing was generated; run cookiecutter again with valid answers")
    sys.stderr.write("".join(f"error: {problem}\n" for problem in found))
    return 1 if found else 0
