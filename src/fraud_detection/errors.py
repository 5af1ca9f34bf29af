"""Domain errors: problems a user can fix, each with a message that says what and how.

Every domain error of the project is defined here, whichever module raises it. Entry points
(the CLI, the monitoring CronJob) catch `FraudDetectionError`, print its message and exit with
`exit_code`; anything else is a bug and keeps its traceback.
"""


class FraudDetectionError(Exception):
    """Base class for errors caused by input, configuration or state, not by a bug."""

    exit_code = 2


class DataError(FraudDetectionError):
    """A data file is missing, unreadable or empty."""


class DataContractError(FraudDetectionError):
    """Data violates the contract; `violations` lists every problem found, not just the first."""

    def __init__(self, source: str, violations: list[str]) -> None:
        self.source = source
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{source} violates the transaction data contract:\n{lines}")


class DataDistributionError(FraudDetectionError):
    """Data passes the contract row by row but departs from production's reference snapshot (a
    column turned constant, a category vanished, the label rate collapsed, nulls jumped);
    `problems` names each: column, check, observed and reference values. Raised at ingestion,
    so nothing is trained on it."""

    def __init__(self, source: str, reference: str, problems: list[str]) -> None:
        self.source = source
        self.reference = reference
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} departs from the reference of {reference}:\n{lines}")


class FeatureRepoError(FraudDetectionError):
    """The Feast feature repository is inconsistent with its data, or not applied yet."""


class TrainingError(FraudDetectionError):
    """The training set cannot produce a meaningful model (for example, one class only)."""


class EvaluationReportError(FraudDetectionError):
    """The candidate's evaluation report cannot be built or written: the evaluate step fails,
    so the gate never judges a candidate whose report is missing or half-written."""


class RegistryError(FraudDetectionError):
    """The model registry is missing, corrupt, or asked for a version it does not hold."""


class NoProductionModelError(RegistryError):
    """The registry has no production model yet: nothing was promoted (or the gate refused the
    first candidate). Raised by `ModelRegistry.require_production`."""


class NoCandidateError(RegistryError):
    """The registry holds no version to canary: every registered version is production."""


class StalePipelineError(FraudDetectionError):
    """The compiled pipeline differs from the code that compiles it."""


class PipelineParameterError(FraudDetectionError):
    """A pipeline parameter (a settings section) does not validate against its settings model."""


class PipelineRunError(FraudDetectionError):
    """The KFP API is unreachable, refused the pipeline, or the run did not succeed."""


class PackagingError(FraudDetectionError):
    """`bentoml build` failed; the model stays registered, but nothing new can be served."""


class ServerNotReadyError(FraudDetectionError):
    """A local scoring server did not become ready in time (or exited while starting)."""


class RolloutError(FraudDetectionError):
    """The InferenceService is not in a state a canary can start from."""


class MonitoringError(FraudDetectionError):
    """The prediction log or the reference cannot be compared."""


class AlertingStackError(FraudDetectionError):
    """The local alerting stack (`make observe`) cannot run here: a binary is missing, a port is
    taken, or a component did not become ready (its log is named)."""


class TriggerError(FraudDetectionError):
    """Retraining could not be started; the trigger's state stays consistent."""
