"""Domain errors: problems a user can fix, each with a message that says what and how.

Command-line entry points catch `FraudDetectionError`, print its message and exit with
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


class FeatureRepoError(FraudDetectionError):
    """The Feast feature repository is inconsistent with its data, or not applied yet."""


class TrainingError(FraudDetectionError):
    """The training set cannot produce a meaningful model (for example, one class only)."""


class RegistryError(FraudDetectionError):
    """The model registry is missing, corrupt, or asked for a version it does not hold."""


class NoProductionModelError(RegistryError):
    """The registry has no production model yet: nothing was promoted (or the gate refused the
    first candidate). Raised by `ModelRegistry.require_production`."""
