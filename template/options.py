"""The options' manifest: what each marker name means, and the files each option leaves out.

A marker block in any text file of the repository belongs to one name below:

    # >>> kind                       <!-- >>> kind -->
    ...lines...                      ...lines...
    # <<< kind                       <!-- <<< kind -->

and one Markdown line can end in `<!-- >>> kind <<< -->` (a table row, which a block would
break). The generator keeps a block's lines when its option holds and drops them otherwise;
the marker lines themselves never reach a generated project. A name with `commented=True` is
the alternative the example does not use: its lines are committed commented out (`# ` after
the marker's indentation), so that the repository stays valid as it is, and are uncommented
when kept. A name with `fill` marks a slot: when the option holds, its lines are replaced with
what `fill` writes for that file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from answers import Answers


def _author(path: str, lines: list[str], answers: Answers) -> list[str]:
    """pyproject.toml's `authors`, or Chart.yaml's `maintainers`."""
    name, email = answers.author_parts()
    quoted = json.dumps(name, ensure_ascii=False)
    if path.endswith(".toml"):
        also = f", email = {json.dumps(email)}" if email else ""
        return [f"authors = [{{ name = {quoted}{also} }}]\n"]
    return [
        "maintainers:\n",
        f"  - name: {quoted}\n",
        *([f"    email: {json.dumps(email)}\n"] if email else []),
    ]


def _title(path: str, lines: list[str], answers: Answers) -> list[str]:
    """The README's title line names the project; what follows its dash stays."""
    _, dash, rest = lines[0].partition(" — ")
    return [f"# {answers.project_name}{dash}{rest}" if dash else f"# {answers.project_name}\n"]


@dataclass(frozen=True)
class Option:
    keep: Callable[[Answers], bool]
    # Files, and directories (ending in /), that a project without the option leaves out.
    paths: tuple[str, ...] = ()
    commented: bool = False
    fill: Callable[[str, list[str], Answers], list[str]] | None = None


OPTIONS: dict[str, Option] = {
    # How this repository generates projects: no generated project has it.
    "template": Option(lambda answers: False, ("template/", "docs/template.md", "tests/template/")),
    # include_kind_platform: the local kind cluster, the platform install and their tests.
    "kind": Option(
        lambda answers: answers.include_kind,
        (
            "k8s/kind/",
            "k8s/platform/",
            "k8s/jobs/",
            "scripts/kind-up.sh",
            "scripts/kind-down.sh",
            "scripts/images.sh",
            "scripts/deploy.sh",
            "scripts/e2e.sh",
            "scripts/platform-manifests.sh",
            ".github/workflows/e2e-kind.yml",
            "docs/kind.md",
            # make verify-cluster runs the kind scripts end to end against stand-ins.
            "tests/cluster/",
            "tests/static/test_platform.py",
            "tests/static/test_cluster_scripts.py",
            "tests/static/test_kind_up.py",
            # The challenger's parameters are scripts/deploy.sh's.
            "tests/unit/rollout/test_deploy_challenger.py",
        ),
    ),
    # cluster_online_store: the cluster Feast profile's online store.
    "redis": Option(lambda answers: answers.online_store == "redis"),
    "sqlite": Option(lambda answers: answers.online_store == "sqlite", commented=True),
    "author": Option(lambda answers: bool(answers.author), fill=_author),
    "title": Option(lambda answers: True, fill=_title),
}
