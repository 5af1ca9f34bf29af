"""The rollout Job: canary, promotion and rollback, run inside the cluster.

    python -m fraud_detection.rollout.cluster_job status
    python -m fraud_detection.rollout.cluster_job canary VERSION
    python -m fraud_detection.rollout.cluster_job promote VERSION
    python -m fraud_detection.rollout.cluster_job rollback

It runs where the predictor Services resolve and where the registry lives (the workspace
volume, `FRAUD_WORKSPACE`): `make promote`, `make rollback`, the release workflow and the e2e
check start it as the chart's rollout Job (templates/rollout-job.yaml) and read its log; the
training pipeline's rollout step calls `promote` itself. Nothing here reads a registry outside
the cluster.

- `status`: the registry's production, previous and newest candidate versions, and what the
  InferenceService serves.
- `canary VERSION`: start a canary of VERSION at `rollout.canary_percent`, wait until it is
  ready, and leave it running (no verdict): to watch the split.
- `promote VERSION`: canary, analysis, then promotion (InferenceService and production pointer
  together) or rollback (neither changes). Exit 3 when rolled back. The analysis sends live
  traffic to both predictors' Services and scores VERSION's labelled, point-in-time holdout
  here, with the two versions' model files from the registry (`rollout.probe`).
- `rollback`: remove a running canary (production unchanged); with none running, return
  production to the previous version in the registry's history, and the InferenceService
  with it.

`--settings` takes the whole rollout settings as one JSON object, validated by
`RolloutSettings` (keys it omits keep their defaults). Lines of the form `key=value` are for
the scripts that read this log.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from pydantic import ValidationError

from fraud_detection.config import RolloutSettings, Settings
from fraud_detection.errors import FraudDetectionError, RolloutError
from fraud_detection.identity import Identity
from fraud_detection.process_exit import exit_with
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout import kserve
from fraud_detection.rollout.analysis import CanaryVerdict

ROLLED_BACK = 3


@dataclass(frozen=True)
class Target:
    """One InferenceService and the registry whose production it serves."""

    isvc: str
    namespace: str
    storage_prefix: str  # e.g. pvc://fraud-workspace/artifacts/registry/<model>/versions
    registry: ModelRegistry
    rollout: RolloutSettings
    transactions: Path
    target_fpr: float
    seed: int

    def storage_uri(self, version: str) -> str:
        return f"{self.storage_prefix.rstrip('/')}/{version}"

    def canary(self, api: kserve.InferenceServiceAPI | None) -> kserve.ClusterCanary:
        return kserve.ClusterCanary(
            api or kserve.KubernetesInferenceServices(self.namespace),
            self.isvc, self.namespace, self.rollout,
        )  # fmt: skip


def parse_settings(text: str) -> RolloutSettings:
    """The whole rollout settings from one JSON object; a misspelt key or a value out of range
    is an error that names it."""
    try:
        return RolloutSettings.model_validate_json(text or "{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise RolloutError(
            f"the rollout settings {text!r} are invalid ({problems}); the keys and their limits "
            "are RolloutSettings in src/fraud_detection/config.py"
        ) from exc


def status(target: Target, api: kserve.InferenceServiceAPI | None = None) -> dict[str, str]:
    """What the registry says is production, and what the InferenceService serves."""
    canary = target.canary(api)
    production = target.registry.production()
    previous = target.registry.previous()
    newest = target.registry.newest_candidate()
    candidate = newest.version if newest else None
    serving = canary.serving()
    found = {
        "production": production.version if production else "none",
        "previous": previous.version if previous else "none",
        "candidate": candidate or "none",
        "serving": serving,
        "canaries": ",".join(canary.canaries()) or "none",
    }
    found["agree"] = "yes" if production and production.version == serving else "no"
    return found


def start_canary(
    target: Target, version: str, api: kserve.InferenceServiceAPI | None = None
) -> str:
    """Start a canary of `version` and wait until it is ready; it keeps its traffic share."""
    canary = target.canary(api)
    _check_consistent(target, canary, version)
    name = kserve.predictor_name(version)
    canary.start(name, target.storage_uri(version))
    try:
        ready = canary.wait_ready(name)
    except BaseException:  # stopped while waiting (the Job's deadline): leave nothing half-up
        canary.rollback()
        raise
    if not ready:
        canary.rollback()
        raise RolloutError(
            f"canary {name} did not become ready within {target.rollout.ready_timeout_s:g} s "
            f"and was removed; check its pods (kubectl get pods -n {target.namespace}), or "
            "raise ready_timeout_s in the rollout settings"
        )
    return name


def promote(
    target: Target, version: str, api: kserve.InferenceServiceAPI | None = None
) -> CanaryVerdict:
    """Canary `version` on live traffic and the probe set; promote or roll back on evidence."""
    canary = target.canary(api)
    _check_consistent(target, canary, version)
    return kserve.canary_with_recent_traffic(
        target.isvc, target.namespace, version, target.storage_uri(version),
        target.transactions, target.rollout, target.target_fpr, target.seed,
        canary.api, registry=target.registry,
    )  # fmt: skip


def rollback(target: Target, api: kserve.InferenceServiceAPI | None = None) -> str:
    """Undo the last step: a running canary goes; without one, production returns to the
    previous version in the registry's history. Returns what was done."""
    canary = target.canary(api)
    running = canary.canaries()
    production = target.registry.production()
    if running:
        canary.rollback()
        stays = production.version if production else "unchanged"
        return f"removed canary {', '.join(running)}; production stays {stays}"
    previous = target.registry.previous()
    if production is None or previous is None:
        raise RolloutError(
            f"production {production.version if production else '(none)'} has no earlier "
            "version in the registry's history to roll back to"
        )
    _check_consistent(target, canary, previous.version)
    kserve.switch(
        canary, previous.version, target.storage_uri(previous.version), target.registry,
        reason=f"rollback from {production.version} on {target.isvc}",
    )  # fmt: skip
    return f"production returned from {production.version} to {previous.version}"


def _check_consistent(target: Target, canary: kserve.ClusterCanary, version: str) -> None:
    """Refuse to start from a state where the registry and the InferenceService disagree, or
    where the candidate is production already."""
    target.registry.get(version)  # a registered version, or a RegistryError naming it
    production = target.registry.require_production(hint="run make deploy")
    serving = canary.serving()
    if serving != production.version:
        raise RolloutError(
            f"{target.isvc} serves {serving} but the registry's production is "
            f"{production.version}: run make deploy (it renders the registry's production), "
            "then retry"
        )
    if version == production.version:
        raise RolloutError(
            f"{version} is production already: a canary of it would compare production with itself"
        )


def _say(line: str, stream: TextIO | None = None) -> None:
    """One line of the Job's log, flushed at once: the scripts follow the log as it grows."""
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()


def _parser() -> argparse.ArgumentParser:
    # The chart names the InferenceService after the release (fraud-detection.fullname).
    identity = Identity()
    parser = argparse.ArgumentParser(prog="python -m fraud_detection.rollout.cluster_job")
    parser.add_argument("--isvc", default=identity.release_name, help="InferenceService name")
    parser.add_argument("--namespace", default=identity.app_namespace)
    parser.add_argument(
        "--storage-prefix",
        default=f"pvc://fraud-workspace/artifacts/registry/{identity.model_name}/versions",
        help="model URI of the registry's versions, as KServe reads them",
    )
    parser.add_argument("--settings", default="{}", help="rollout settings, one JSON object")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="registry production and what the InferenceService serves")
    for name, text in (("canary", "start a canary and leave it running"),
                       ("promote", "canary, analyse, promote or roll back")):  # fmt: skip
        actions.add_parser(name, help=text).add_argument("version")
    actions.add_parser("rollback", help="remove the canary, or return to the previous version")
    return parser


def _target(args: argparse.Namespace) -> Target:
    settings = Settings()
    return Target(
        isvc=args.isvc, namespace=args.namespace, storage_prefix=args.storage_prefix,
        registry=ModelRegistry(settings.paths.registry, settings.model_name),
        rollout=parse_settings(args.settings), transactions=settings.paths.transactions,
        target_fpr=settings.gate.target_fpr, seed=settings.training.seed,
    )  # fmt: skip


def report_verdict(verdict: CanaryVerdict) -> None:
    """The evidence, one check a line, then the verdict as JSON (for the record)."""
    for check in verdict.checks:
        _say(f"  {'ok ' if check.ok else 'NO '} {check.name}: {check.detail}")
    _say(f"evidence={json.dumps(verdict.to_dict(), default=str)}")
    _say(f"result={'promoted' if verdict.promote else 'rolled back'}")


def publish_outcome(verdict: CanaryVerdict) -> None:
    """Push the outcome to the Pushgateway FRAUD_MONITOR_PUSHGATEWAY_URL names, if any; a push
    that fails is said and never changes the result (the rollout already happened)."""
    from fraud_detection.monitoring.retraining_outcome import push_canary_outcome

    failure = push_canary_outcome(verdict.promote)
    if failure:
        _say(f"notice: {failure}", sys.stderr)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None, api: kserve.InferenceServiceAPI | None = None) -> int:
    """Run one action; `api` replaces the Kubernetes API (tests: no cluster runs there)."""
    args = _parser().parse_args(argv)
    if api is None:
        # The Job's deadline (activeDeadlineSeconds) or a deletion sends SIGTERM: unwind, so a
        # canary being analysed is removed before the pod goes, not left taking traffic.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    code = 0
    try:
        target = _target(args)
        if args.action == "canary":
            name = start_canary(target, args.version, api)
            _say(f"canary={name} trafficPercent={target.rollout.canary_percent}")
        elif args.action == "promote":
            verdict = promote(target, args.version, api)
            report_verdict(verdict)
            publish_outcome(verdict)
            code = 0 if verdict.promote else ROLLED_BACK
        elif args.action == "rollback":
            _say(f"result={rollback(target, api)}")
        # Every action ends with the state it left, so its log is the evidence.
        for key, value in status(target, api).items():
            _say(f"{key}={value}")
    except FraudDetectionError as exc:
        _say(f"error: {exc}", sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    exit_with(main())
