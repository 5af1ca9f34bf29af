"""What a job tells its caller while it runs, through one callback (`Report`), and the results
it shows on the way.

A plain string is a line of progress: the layers below the jobs (the local pipeline, the canary,
the feature stage) report strings, and a job hands them its own callback. The other events mark
stages and carry results as soon as they exist (a training run's decision, a canary's verdict, a
monitoring verdict), so an adapter can present them in order while the job goes on.

Nothing here imports more than the standard library at run time: adapters import this module
before they know which job, with which heavy dependencies, they will run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraud_detection.loadtest.generator import BurstResult
    from fraud_detection.monitoring.job import MonitorResult
    from fraud_detection.pipeline.local_run import LocalRun
    from fraud_detection.registry.local import RegisteredModel
    from fraud_detection.retraining.trigger import TriggerResult
    from fraud_detection.rollout.embedded import RolloutResult


@dataclass(frozen=True)
class Stage:
    """A stage of a longer job begins."""

    title: str


@dataclass(frozen=True)
class StageDone:
    """A stage ended: done, or skipped because its inputs had not changed."""

    name: str
    skipped: bool
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


@dataclass(frozen=True)
class Notice:
    """A sentence for the reader: why a stage was skipped, or ends early."""

    text: str


@dataclass(frozen=True)
class TrainingRun:
    """A training pipeline run and the production model after it."""

    run: LocalRun
    model_name: str
    production: RegisteredModel | None


@dataclass(frozen=True)
class ServingLatency:
    """Sequential scoring over HTTP: one row per request, then 100 rows per request."""

    single: BurstResult
    batched: BurstResult


@dataclass(frozen=True)
class CanaryOutcome:
    """A canary's verdict (this run's, or the recorded one of an earlier run)."""

    stable_version: str
    candidate_version: str
    promoted: bool
    checks: tuple[dict[str, Any], ...]  # each: name, ok, detail
    reasons: tuple[str, ...]
    record: Path

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> CanaryOutcome:
        """From a rollout record (`rollout.json`'s fields plus the `record` path)."""
        verdict = data["verdict"]
        return cls(
            stable_version=str(data["stable_version"]),
            candidate_version=str(data["candidate_version"]),
            promoted=bool(data["promoted"]),
            checks=tuple(verdict["checks"]),
            reasons=tuple(verdict["reasons"]),
            record=Path(data["record"]),
        )

    @classmethod
    def of(cls, result: RolloutResult) -> CanaryOutcome:
        return cls.from_record({**result.to_dict(), "record": str(result.record)})


@dataclass(frozen=True)
class MonitorVerdict:
    """The monitoring check of one window: reports written, verdict reached."""

    result: MonitorResult


@dataclass(frozen=True)
class RetrainOutcome:
    """What retraining on this machine came to: the gate's decision, then (if it passed and a
    production model was there to compare with) the canary's."""

    gate: bool
    decision: Path
    version: str | None = None  # registered (the gate passed)
    canary: CanaryOutcome | None = None
    promoted: bool = False

    @property
    def run_id(self) -> str:
        """What the trigger records as the run: the canary's evidence, else the decision."""
        return str(self.canary.record if self.canary else self.decision)


@dataclass(frozen=True)
class Retraining:
    """What a verdict that calls for retraining set off: the trigger's answer and, when the
    retraining ran here, its outcome."""

    trigger: TriggerResult
    outcome: RetrainOutcome | None = None


Event = (
    str | Stage | StageDone | Notice | TrainingRun | ServingLatency | CanaryOutcome
    | MonitorVerdict | Retraining
)  # fmt: skip
Report = Callable[[Event], None]


def discard(event: Event) -> None:
    """A `Report` for callers that show nothing."""
