"""What a retraining attempt came to, as the metrics Prometheus alerts on
(`fraud_retraining_outcome`: FraudRetrainingFailed, FraudRetrainingRefused and
FraudCanaryRolledBack): pushed by the monitor after each attempt, and by the canary on the
cluster (the rollout Job, KFP's rollout step) when it promotes or rolls back."""

from __future__ import annotations

import time

from fraud_detection.monitoring.push import RETRAINING_GROUP, Pushgateway

# fraud_retraining_outcome's values; the alert rules fire on failed, refused and rolled_back.
OUTCOMES = ("submitted", "registered", "promoted", "refused", "rolled_back", "failed")


def push_canary_outcome(promoted: bool) -> str | None:
    """Push what a canary on the cluster came to (the rollout Job, KFP's rollout step), into
    the group the monitor's `submitted` went to, so FraudCanaryRolledBack fires on a rollback.
    None when pushed or when no Pushgateway is set; else why not, in a sentence."""
    try:
        gateway = Pushgateway.from_env()
    except ValueError as exc:
        return f"metrics not pushed: {exc}"
    if gateway is None:
        return None
    outcome = "promoted" if promoted else "rolled_back"
    return gateway.push(RETRAINING_GROUP, retraining_metrics(outcome, time.time()))


def retraining_metrics(outcome: str, at: float) -> str:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown retraining outcome {outcome!r}: expected one of {OUTCOMES}")
    return "\n".join([
        "# HELP fraud_retraining_outcome 1 for what the latest retraining attempt came to.",
        "# TYPE fraud_retraining_outcome gauge",
        *(f'fraud_retraining_outcome{{outcome="{o}"}} {int(o == outcome)}' for o in OUTCOMES),
        "# HELP fraud_retraining_last_attempt_timestamp_seconds When it was attempted.",
        "# TYPE fraud_retraining_last_attempt_timestamp_seconds gauge",
        f"fraud_retraining_last_attempt_timestamp_seconds {at:.3f}",
    ]) + "\n"  # fmt: skip
