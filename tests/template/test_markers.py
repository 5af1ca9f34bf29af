"""The generator's two mechanisms on their own: option markers and whole-token substitution;
and the repository's markers, balanced and known, under every combination of the options."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from baking import (
    ANSWERS,
    MARKER_LINE,
    TEMPLATE_ONLY,
    Answers,
    File,
    TemplateError,
    apply_markers,
    generate,
    renamer,
    repository_files,
    token_map,
)
from template_fixtures import isolation_fixture, repository_fixture  # noqa: F401 (fixtures, by name)

COMBINATIONS = [
    {"include_kind_platform": kind, "cluster_online_store": store, "author": author}
    for kind, store, author in itertools.product(("yes", "no"), ("redis", "sqlite"), ("", "A B"))
]
EXAMPLE = {
    "PROJECT_SLUG": "fraud-detection", "PACKAGE_NAME": "fraud_detection",
    "MODEL_NAME": "fraud-detector", "APP_NAMESPACE": "fraud-ml", "IMAGE_REGISTRY": "",
    "PIPELINE_NAME": "fraud-detection-training", "FEAST_PROJECT": "fraud_features",
    "FEATURE_SERVICE": "fraud_features_v2", "SERVING_IMAGE": "fraud-detection-serving",
    "PIPELINE_IMAGE": "fraud-detection-pipeline", "CHART_NAME": "fraud-detection",
    "RELEASE_NAME": "fraud-detection", "CLUSTER_NAME": "fraud-detection",
}  # fmt: skip


def answers(**changes: str) -> Answers:
    return Answers.of({**ANSWERS, **changes})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud-detection fraud_detection fraud-detector", "card-risk card_risk risk-model"),
        ("fraud-ml fraud-detection-training", "risk-ns card-risk-training"),
        ("fraud-detection-serving:0.1.0", "card-risk-serving:0.1.0"),
        ('include "fraud-detection.fullname"', 'include "card-risk.fullname"'),
        ("fraud-detection.io/feast-client", "card-risk.io/feast-client"),
        ("kind-fraud-detection-control-plane", "kind-card-risk-control-plane"),
        ("from fraud_detection.config import x", "from card_risk.config import x"),
        ("fraud_features_v2 fraud_features", "risk_store_v2 risk_store"),
        ("class FraudDetector: FraudDetectionError", "class RiskModel: CardRiskError"),
        # Not whole tokens: left as they are.
        ("is_fraud fraud_detection_x xfraud-ml fraud-workspace FraudDetectors", None),
    ],
)
def test_whole_tokens_are_substituted_longest_first(text: str, expected: str | None) -> None:
    rename = renamer(token_map(EXAMPLE, answers().identity()))
    assert rename(text) == (text if expected is None else expected)


def test_two_new_names_for_one_old_name_are_refused() -> None:
    new = {**answers().identity(), "RELEASE_NAME": "other"}
    with pytest.raises(TemplateError, match="two different names"):
        token_map(EXAMPLE, new)


SAMPLE = """\
a

# >>> kind
kind line
# <<< kind

b
  # >>> redis
  redis: true
  # <<< redis
  # >>> sqlite
  # # a comment
  # sqlite: true
  # <<< sqlite
row | x | <!-- >>> kind <<< -->
# >>> author
# slot
# <<< author
"""


def test_markers_keep_drop_uncomment_and_fill() -> None:
    kept = apply_markers("pyproject.toml", SAMPLE, answers(include_kind_platform="yes"))
    assert kept == (
        "a\n\nkind line\n\nb\n  # a comment\n  sqlite: true\nrow | x |\n"
        'authors = [{ name = "Jane Doe", email = "jane@example.com" }]\n'
    )
    # A dropped block after a blank line takes the blank lines after it along.
    dropped = apply_markers("x.toml", SAMPLE, answers(author="", cluster_online_store="redis"))
    assert dropped == "a\n\nb\n  redis: true\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# >>> kind\nx\n", "never closed"),
        ("x\n# <<< kind\n", "closes no"),
        ("# >>> kind\n# >>> redis\n# <<< kind\n# <<< redis\n", "closes no"),
        ("# >>> kinds\n# <<< kinds\n", "unknown marker 'kinds'"),
        ("# >>> sqlite\nnot commented\n# <<< sqlite\n", "not commented"),
    ],
)
def test_broken_markers_are_refused_naming_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as raised:
        apply_markers("Makefile", text, answers())
    assert str(raised.value).startswith("Makefile:")


def test_a_survivor_is_refused_naming_the_file(repository: Path) -> None:
    files = repository_files(repository, "HEAD")
    files["docs/extra.md"] = File(b"the fraud_features_v3 service\n")
    with pytest.raises(TemplateError, match=r"docs/extra\.md: fraud_features"):
        generate(files, answers())


def template_free(repository: Path) -> dict[str, str]:
    """The repository's text files, less the template's own (which describe markers)."""
    files = repository_files(repository, "HEAD")
    own = tuple(f"{p}/" for p in TEMPLATE_ONLY)
    return {
        path: text
        for path, file in sorted(files.items())
        if (text := file.text()) is not None and path not in TEMPLATE_ONLY
        and not path.startswith(own)
    }  # fmt: skip


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda c: "-".join(c.values()) or "-")
def test_the_repositorys_markers_are_balanced_and_known(
    repository: Path, combination: dict[str, str]
) -> None:
    """Every marker in the repository, under each combination: apply_markers refuses an
    unbalanced or unknown marker, or an uncommented alternative, naming file and line."""
    texts = template_free(repository)
    choice = answers(**combination)
    for path, text in texts.items():
        assert not MARKER_LINE.search(apply_markers(path, text, choice)), path
    assert sum(bool(MARKER_LINE.search(text)) for text in texts.values()) >= 10


def test_every_marker_like_line_is_a_marker(repository: Path) -> None:
    """A misspelt marker (`#>>> kind`, `<!-- >>>kind -->`) would be an ordinary comment, its
    lines kept in every project: anything that looks like one must be one."""
    looks = re.compile(r"(?:#|<!--)\s*(?:>>>|<<<)")
    odd = [
        f"{path}:{number}: {line.strip()}"
        for path, text in template_free(repository).items()
        for number, line in enumerate(text.splitlines(), 1)
        if looks.search(line) and not MARKER_LINE.search(line)
    ]
    assert not odd, odd
