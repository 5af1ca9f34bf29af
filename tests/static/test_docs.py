"""The docs stay true to the repository: every relative link and every code path they name
exists, anchors point at real headings, and measured figures come from the benchmark record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([REPO_ROOT / "README.md", REPO_ROOT / "bench" / "README.md",
               *(REPO_ROOT / "docs").glob("*.md")])  # fmt: skip
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Backticked repository paths: `src/...`, `charts/...`, etc. (placeholders and globs excluded).
TOP_LEVEL = ("src/", "pipelines/", "serving/", "monitoring/", "feature_repo/", "charts/", "k8s/",
             "scripts/", "tests/", "docs/", "bench/", ".github/", "template/")  # fmt: skip
# (A backticked path that is a link's text is checked as the link instead.)
CODE_PATH = re.compile(r"`((?:" + "|".join(map(re.escape, TOP_LEVEL)) + r")[^`\s]*)`(?!\]\()")
INLINE_CODE = re.compile(r"`[^`\n]*`")
MEASURED = re.compile(r"\*\*Measured\*\* \(`make ([\w-]+)`[^)]*\):(.*?)(?:\n\n|\Z)", re.DOTALL)
FIGURE = re.compile(r"\d[\d,.]*(?= ?(?:ms|s|GB|rows/s|M rows|×))")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {_slug(line.lstrip("#")) for line in lines if line.startswith("#")}


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


def test_the_docs_are_found() -> None:
    names = set(_ids(DOCS))
    assert {"README.md", "docs/design.md", "docs/exercises.md", "docs/cluster.md"} <= names
    # >>> kind
    assert "docs/kind.md" in names
    # <<< kind


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(INLINE_CODE.sub("``", doc.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, broken


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_code_paths_exist(doc: Path) -> None:
    missing = []
    for reference in CODE_PATH.findall(doc.read_text()):
        if re.search(r"[<>*{}]", reference):
            continue
        path, _, test_name = reference.partition("::")
        file = REPO_ROOT / path.rstrip("/")
        defines = rf"^(async )?def {test_name}\("
        if not file.exists() or (test_name and not re.search(defines, file.read_text(), re.M)):
            missing.append(reference)
    assert not missing, missing


def test_measured_figures_come_from_the_benchmark_record() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    record = (REPO_ROOT / "bench" / "README.md").read_text()
    blocks = [(target, text) for doc in DOCS for target, text in MEASURED.findall(doc.read_text())]
    assert len(blocks) >= 4, blocks
    for target, text in blocks:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target
        if not target.startswith("bench"):
            continue
        figures = FIGURE.findall(text)
        assert figures, (target, text)
        absent = [f for f in figures if f not in record]
        assert not absent, f"`make {target}` figures not in bench/README.md: {absent}"


def test_the_checks_see_a_broken_link(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("[x](missing.md) `src/fraud_detection/nowhere.py`\n")
    (target,) = LINK.findall(doc.read_text())
    assert not (doc.parent / target).exists()
    assert CODE_PATH.findall(doc.read_text()) == ["src/fraud_detection/nowhere.py"]
