"""Run the training pipeline on this machine with `kfp.local` (no cluster, no Docker).

SubprocessRunner executes each component as a subprocess of the current virtual environment,
which has this project installed; the component code is the same the cluster runs. The
components' own output goes to a log file; the caller sees one line per finished step.
"""

import contextlib
import io
import json
import re
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import local

from fraud_detection import fingerprint
from fraud_detection.config import Settings
from fraud_detection.errors import FraudDetectionError
from fraud_detection.pipeline import parameters
from fraud_detection.pipeline.definition import training_pipeline
from fraud_detection.registry import ModelRegistry
from fraud_detection.registry.local import REPORT_FILE

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_DONE = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
# The code a local run's result depends on, in the sources this package is installed from.
_CODE_DIRS = ("src", "serving")
# Arguments that do not change what a local run computes: `promote` only decides whether a
# registered model also becomes production (a result computed under either value answers the
# same question), and the rollout step does not run locally.
_NOT_KEYED = ("promote", "rollout_settings")


@dataclass(frozen=True)
class LocalRun:
    decision: dict[str, Any]
    decision_file: Path
    log_file: Path
    reused: bool = False

    def registered_version(self) -> str:
        """The registry version the run's register step returned (the gate must have passed).

        kfp.local keeps each task's outputs in `<run>/<task>/executor_output.json`.
        """
        run_dir = self.decision_file.parents[1]
        output = run_dir / "register-model" / "executor_output.json"
        try:
            values = json.loads(output.read_text())["parameterValues"]
        except (OSError, KeyError, json.JSONDecodeError) as exc:
            raise FraudDetectionError(f"this run registered no model ({output})") from exc
        return str(values["Output"])

    def evaluation_report(self, registry: ModelRegistry) -> Path:
        """The candidate's HTML evaluation report: its registered copy, beside the model card,
        when the gate passed it; otherwise what the evaluate step wrote."""
        if self.decision.get("passed"):
            registered = registry.get(self.registered_version()).path / REPORT_FILE
            if registered.exists():  # a version registered before reports were kept has none
                return registered
        return self.decision_file.parents[1] / "evaluate-model" / "report"


class _ProgressLog(io.TextIOBase):
    """Writes everything to a log file and reports each finished task to `report`."""

    def __init__(self, log: io.TextIOBase, report: Callable[[str], None]) -> None:
        self.log, self.report, self.pending = log, report, ""

    def write(self, text: str) -> int:
        clean = _ANSI.sub("", text)
        self.log.write(clean)
        self.pending += clean
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            match = _TASK_DONE.search(line)
            if match:
                self.report(f"step {match.group(1)}: {match.group(2).lower()}")
        return len(text)


def git_sha(repo: Path) -> str:
    """The commit the code came from, for the model card ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def pipeline_arguments(settings: Settings, promote: bool = True) -> dict[str, Any]:
    """The pipeline's arguments for a run on this machine: the workspace, the whole settings
    sections (`parameters.section_arguments`) and the fingerprints of the inputs."""
    paths = settings.paths
    return {
        "workspace": str(paths.root),
        **parameters.section_arguments(settings),
        "data_fingerprint": fingerprint.of_files(paths.transactions),
        "features_fingerprint": fingerprint.of_files(
            *sorted(paths.feature_tables.glob("*.parquet"))
        ),
        "git_sha": git_sha(paths.root),
        "promote": promote,
    }


def run(
    settings: Settings,
    promote: bool | None = None,
    force: bool = False,
    report: Callable[[str], None] = print,
) -> LocalRun:
    """Run the whole pipeline locally and return the gate decision.

    `promote=None` promotes a passing model only when there is no production model yet;
    otherwise it stays a registered candidate for the canary to judge.
    When data, features, settings and code are unchanged since the last run, that run's
    decision is returned instead (`force=True` runs anyway).

    Raises:
        FraudDetectionError: if any step fails; nothing is registered then.
    """
    paths = settings.paths
    if promote is None:
        promote = ModelRegistry(paths.registry, settings.model_name).production() is None
    arguments = pipeline_arguments(settings, promote)
    sources = parameters.source_root()
    code = [p for d in _CODE_DIRS for p in sorted((sources / d).rglob("*.py"))]
    code += sorted(paths.feature_repo.glob("*.py"))
    keyed = {k: v for k, v in arguments.items() if k not in _NOT_KEYED}
    inputs = fingerprint.of_value({**keyed, "code": fingerprint.of_files(*code)})
    # One stamp per distinct set of inputs: alternating runs (say, the production settings and
    # a challenger's) each find their own previous result.
    stamp = paths.pipeline_root / "runs" / f"{inputs}.json"
    previous = _read_stamp(stamp)
    if not force and previous.get("inputs") == inputs and Path(previous["decision"]).exists():
        decision_file = Path(previous["decision"])
        return LocalRun(json.loads(decision_file.read_text()), decision_file,
                        Path(previous["log"]), reused=True)  # fmt: skip

    paths.pipeline_root.mkdir(parents=True, exist_ok=True)
    log_file = paths.pipeline_root / "last_run.log"
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(paths.pipeline_root),
        raise_on_error=True,
    )
    try:
        with (
            log_file.open("w") as log,
            contextlib.redirect_stdout(_ProgressLog(log, report)),
            warnings.catch_warnings(),
        ):
            # The components name the cluster's pipeline image, whose contents are this virtual
            # environment, which is what SubprocessRunner uses: kfp's image warning is noise.
            warnings.filterwarnings("ignore", ".*non-Python base image", RuntimeWarning)
            task = training_pipeline(**arguments)
    except RuntimeError as exc:  # the log is closed (flushed) here, so its cause can be read
        failed = _ANSI.sub("", str(exc)).strip()
        raise FraudDetectionError(
            f"training pipeline failed: {failed}\n{_cause(log_file)}\n"
            f"Full log: {log_file}. Nothing was registered."
        ) from exc
    decision_file = Path(task.outputs["Output"].path)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"inputs": inputs, "decision": str(decision_file),
                                 "log": str(log_file)}, indent=2))  # fmt: skip
    return LocalRun(json.loads(decision_file.read_text()), decision_file, log_file)


def _cause(log_file: Path) -> str:
    """The last domain error a step logged, with its detail lines (e.g. contract violations)."""
    lines = log_file.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if "fraud_detection.errors." in line]
    if not starts:
        return "See the log for the traceback."
    first = starts[-1]
    detail = [lines[first].split("fraud_detection.errors.")[-1].strip()]
    for line in lines[first + 1 :]:
        if not line.strip().startswith("- "):
            break
        detail.append("  " + line.strip())
    return "\n".join(detail)


def _read_stamp(stamp: Path) -> dict[str, Any]:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
