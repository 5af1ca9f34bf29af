"""Every wait has a bound, and the bounds on the e2e path fit the workflow's timeout-minutes.

A recorded command's bound is its own timeout flag (or the tool's documented default when that
is finite); lib.sh's helpers multiply it: `retry A D cmd` waits at most A × cmd + (A - 1) × D,
`wait_job NS JOB T` at most T plus one last poll. Loops in the scripts are checked as text:
each `until`/`while` needs a limit and a way out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from helm_args import option
from install_record import Call, Install

INFINITE = float("inf")
WORKFLOW = ".github/workflows/e2e-kind.yml"
# The last iteration of wait_job may start just before its deadline: two polls (10 s + 1 s).
WAIT_JOB_POLL_S = 11


def seconds(text: str) -> float:
    """A Go duration (90s, 10m, 1h30m, 5m0s) or bare seconds."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or text.startswith("-"):
        return -1.0
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(frozen=True)
class Bound:
    seconds: float  # 0: not a wait; INFINITE: no bound
    why: str


def bound(call: Call) -> Bound:
    """How long this one command may block."""
    argv, verb = call.argv, call.argv[0] if call.argv else ""
    timeout = option(argv, "--timeout")
    if call.tool == "kubectl" and verb == "wait":
        value = seconds(timeout) if timeout else 30.0  # kubectl wait's default
        return Bound(INFINITE if value < 0 else value, "kubectl wait --timeout")
    if call.tool == "kubectl" and verb == "rollout" and "status" in argv:
        value = seconds(timeout) if timeout else 0.0
        return Bound(
            value if value > 0 else INFINITE, "rollout status without --timeout waits forever"
        )
    if call.tool == "kubectl" and verb == "delete":
        if "--wait=false" in argv:
            return Bound(0, "")
        value = seconds(timeout) if timeout else 0.0
        # kubectl delete waits for the deletion by default, and --timeout=0 means a week.
        return Bound(
            value if value > 0 else INFINITE,
            "kubectl delete without --timeout waits for finalizers up to a week",
        )
    if call.tool == "kubectl" and verb == "logs" and ({"-f", "--follow"} & set(argv)):
        return Bound(INFINITE, "kubectl logs --follow ends only when the container does")
    if (
        call.tool == "helm"
        and verb in ("install", "upgrade")
        and ({"--wait", "--atomic"} & set(argv))
    ):
        return Bound(seconds(timeout) if timeout else 300.0, "helm --timeout")
    if call.tool == "kind" and argv[:2] == ["create", "cluster"]:
        wait = option(argv, "--wait")
        return Bound(seconds(wait) if wait else 0.0, "kind --wait")
    if call.tool == "curl":
        limit = option(argv, "--max-time", "-m")
        return Bound(
            float(limit) if limit else INFINITE, "curl without --max-time can wait forever"
        )
    if call.tool == "sleep":
        return Bound(seconds(verb) if verb else 0.0, "sleep")
    if call.tool == "fraud-detection" and verb == "submit":
        return Bound(float(timeout or 3600), "fraud-detection submit --timeout")
    return Bound(0, "")


@dataclass(frozen=True)
class Wait:
    call: Call
    seconds: float
    what: str


def _count(args: list[str], index: int) -> float | None:
    return float(args[index]) if len(args) > index and args[index].isdigit() else None


def waits(install: Install) -> list[Wait]:
    """Each bounded operation of the run once, lib.sh's helpers applied."""
    out: list[Wait] = []
    seen_jobs: set[tuple[str, object, str]] = set()
    seen_retries: set[tuple[str, object, str]] = set()
    for call in install.calls:
        own = bound(call)
        helpers = {f.function: f for f in call.frames}
        if "wait_job" in helpers:
            # One wait_job call polls several times: count it once per calling shell.
            frame = helpers["wait_job"]
            if (call.run, call.event.get("shell"), frame.site) in seen_jobs:
                continue
            seen_jobs.add((call.run, call.event.get("shell"), frame.site))
            limit = _count(frame.args, 2)  # wait_job NAMESPACE JOB TIMEOUT_SECONDS
            total = limit + WAIT_JOB_POLL_S if limit is not None else INFINITE
            out.append(Wait(call, total, f"wait_job {' '.join(frame.args)} at {frame.site}"))
            continue
        if own.seconds == 0 or (call.tool == "sleep" and "retry" in helpers):
            continue  # retry's own sleeps are in its formula below
        total, what = own.seconds, f"`{call.words[:110]}` at {call.site}"
        if "retry" in helpers:
            # Each attempt is recorded; the formula covers them all: count one per retry call.
            frame = helpers["retry"]
            if (call.run, call.event.get("shell"), frame.site) in seen_retries:
                continue
            seen_retries.add((call.run, call.event.get("shell"), frame.site))
            attempts, delay = _count(frame.args, 0), _count(frame.args, 1)  # retry N DELAY CMD
            if attempts is None or delay is None:
                total = INFINITE
            else:
                total = attempts * total + (attempts - 1) * delay
            what += f" under retry {' '.join(frame.args[:2])}"
        out.append(Wait(call, total, what))
    return out


def check_bounded(install: Install) -> list[str]:
    errors = []
    for call in install.calls:
        own = bound(call)
        if own.seconds == INFINITE:
            errors.append(f"{call.site}: `{call.words[:140]}` has no bound ({own.why})")
    errors = list(dict.fromkeys(errors))  # one message per command, however often it ran
    for wait in waits(install):
        if wait.seconds == INFINITE and bound(wait.call).seconds != INFINITE:
            errors.append(f"{wait.what}: the helper's limit is not a number of seconds")
    return errors


LOOP = re.compile(r"(?:^\s*|[|;&]\s*|\bdo\s+|\bthen\s+)(until|while)\s+(.*)")
LIMIT = re.compile(r"-(lt|le|gt|ge|eq)\b|\(\(.*[<>].*\)\)")
EXIT = re.compile(r"\b(die|exit|return|break)\b")


def check_loops(root: Path) -> list[str]:
    """Each until/while loop of scripts/*.sh reads finite input or has a limit and a way out."""
    errors = []
    for path in sorted((root / "scripts").glob("*.sh")):
        lines = path.read_text().splitlines()
        function = "top level"
        for number, line in enumerate(lines, 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            header = re.match(r"^(\w+)\s*\(\)\s*\{", code)
            if header:
                function = header.group(1)
            match = LOOP.search(code)
            if not match:
                continue
            if re.match(r"(IFS=\S*\s+)?read\b", match.group(2)):
                continue  # consumes its input, which ends
            # The body: up to the `done` that closes this loop (nested loops open and close).
            body, depth = [code], 0
            for later in [] if re.search(r"\bdone\b", code) else lines[number:]:
                body.append(later)
                depth += len(re.findall(r"\bdo\b", later)) - len(re.findall(r"\bdone\b", later))
                if depth < 0:
                    break
            text = "\n".join(body)
            limited = LIMIT.search(match.group(2)) or (LIMIT.search(text) and EXIT.search(text))
            if not limited:
                where = f"{path.relative_to(root)}:{number}"
                errors.append(
                    f"{where}: `{code.strip()}` loop in {function} has no limit (no counter or "
                    "deadline checked with a way out)"
                )
    return errors


@dataclass(frozen=True)
class Step:
    name: str
    minutes: float | None  # its own timeout-minutes
    scripts: list[str]  # the cluster scripts its `make` targets run


def _workflow(root: Path) -> tuple[str, float, list[Step]]:
    """(job, timeout-minutes, steps) of the e2e workflow's first job."""
    workflow = yaml.safe_load((root / WORKFLOW).read_text())
    makefile = (root / "Makefile").read_text()
    name, job = next(iter((workflow.get("jobs") or {}).items()))
    steps = []
    for step in job.get("steps") or []:
        scripts = []
        for target in re.findall(r"\bmake\s+([\w-]+)", step.get("run") or ""):
            recipe = re.search(
                rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE
            )
            scripts += re.findall(r"scripts/([\w-]+\.sh)", recipe.group(1) if recipe else "")
        label = step.get("name") or step.get("run") or step.get("uses") or "?"
        steps.append(Step(str(label), step.get("timeout-minutes"), scripts))
    # GitHub's default job limit is 360 minutes.
    return str(name), float(job.get("timeout-minutes", 360)), steps


def _minutes(value: float) -> str:
    return "unbounded" if value == INFINITE else f"{value / 60:.0f} min"


def check_e2e_budget(install: Install) -> list[str]:
    """Each step's waits fit its timeout-minutes, and the job's limit covers every step: when a
    limit cuts a wait short, the job is cancelled with no step named and no logs collected."""
    job, job_minutes, steps = _workflow(install.root)
    per_script: dict[str, list[Wait]] = defaultdict(list)
    for wait in waits(install):
        per_script[wait.call.run].append(wait)
    errors, total = [], 0.0
    for step in steps:
        found = [w for s in step.scripts for w in per_script.get(s, [])]
        need = sum(w.seconds for w in found)
        if not step.scripts:
            total += (step.minutes or 0) * 60
            continue
        total += need
        if step.minutes is not None and need > step.minutes * 60:
            top = "; ".join(
                f"{w.what}: {_minutes(w.seconds)}"
                for w in sorted(found, key=lambda w: -w.seconds)[:3]
            )
            errors.append(
                f"{WORKFLOW} step `{step.name}`: timeout-minutes {step.minutes:g} is below the "
                f"waits of {', '.join(step.scripts)}, {_minutes(need)} (largest: {top})"
            )
    if total > job_minutes * 60:
        errors.append(
            f"{WORKFLOW} job {job}: timeout-minutes {job_minutes:g} is below its steps' waits "
            f"and limits, {_minutes(total)}"
        )
    return errors
