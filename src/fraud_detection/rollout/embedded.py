"""The canary on one machine: stable and candidate as two real BentoML servers.

Same analysis as in the cluster; the traffic split is done by the client instead of the
Gateway, and promotion moves the registry's production pointer (the production alias). The
servers take the live traffic; the probe set is scored here by the models they serve, with
point-in-time features (`rollout.probe`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraud_detection.config import Settings
from fraud_detection.data.io import load_transactions
from fraud_detection.errors import FraudDetectionError, ServerNotReadyError
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.registry.local import MODEL_FILE
from fraud_detection.rollout import probe
from fraud_detection.rollout.analysis import (
    CanaryVerdict,
    Measurements,
    analyse,
    live_checks,
    not_scored,
)
from fraud_detection.rollout.traffic import Client, measure, payloads
from fraud_detection.serving import local_server
from fraud_detection.training.model import FraudModel


@dataclass(frozen=True)
class RolloutResult:
    stable_version: str
    candidate_version: str
    verdict: CanaryVerdict
    promoted: bool
    record: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable_version": self.stable_version,
            "candidate_version": self.candidate_version,
            "promoted": self.promoted,
            "verdict": self.verdict.to_dict(),
        }


def run_canary(
    settings: Settings,
    candidate_version: str,
    report: Callable[[str], None] = print,
    candidate_model_dir: Path | None = None,
) -> RolloutResult:
    """Canary `candidate_version` against production, then promote it or roll it back.

    Args:
        candidate_model_dir: Serve the candidate from this directory instead of its registered
            files (how tests stage a deliberately broken candidate).

    Raises:
        FraudDetectionError: if there is no production model to compare with, the candidate
            keeps no labelled probe rows, or the stable server itself cannot start (then
            nothing changes).
    """
    paths, limits = settings.paths, settings.rollout
    registry = ModelRegistry(paths.registry, settings.model_name)
    stable = registry.require_production(hint="nothing to canary against; promote one first")
    candidate = registry.get(candidate_version)
    if candidate.version == stable.version:
        raise FraudDetectionError(f"{candidate.version} is already the production model")

    transactions = load_transactions(paths.transactions)
    traffic = payloads(transactions.sort_values("event_timestamp").tail(limits.requests))
    rows, source = probe.probe_rows(candidate.path)
    run_dir = paths.rollouts / f"{_stamp()}-{candidate.version}"
    weights = {"stable": 100.0 - limits.canary_percent, "candidate": float(limits.canary_percent)}

    with ExitStack() as servers:
        report(f"starting stable {stable.version} and candidate {candidate.version}")
        # Both start at once (a start is mostly the server's imports and model loading, a core
        # each), then are waited for; both stop with the stack, whichever wait fails.
        stable_server = _start(servers, settings, stable, run_dir / "stable.log")
        candidate_server = _start(
            servers, settings, candidate, run_dir / "candidate.log", model_dir=candidate_model_dir
        )
        _wait(stable_server, limits.ready_timeout_s)
        urls = {"stable": stable_server.url}
        try:
            _wait(candidate_server, limits.ready_timeout_s)
            urls["candidate"] = candidate_server.url
        except ServerNotReadyError as exc:
            report(f"candidate not ready: {str(exc).splitlines()[0]}")
            local_server.stop(candidate_server.process)  # not left restarting during traffic
        clients = {name: Client(url) for name, url in urls.items()}
        report(f"sending {len(traffic)} requests ({limits.canary_percent}% to the candidate)")
        measured = measure(
            clients, {n: weights[n] for n in clients}, traffic, settings.training.seed
        )
        for client in clients.values():
            client.close()
    stable_measured = measured["stable"]
    candidate_measured = measured.get("candidate", Measurements(ready=False))
    why_not = not_scored(live_checks(stable_measured, candidate_measured, limits))
    served = (candidate_model_dir or candidate.path) / MODEL_FILE
    report(f"scoring the {len(rows):,}-row labelled probe set with both models")
    evidence = probe.gather(
        rows, source, stable.load(), None if why_not else (lambda: FraudModel.load(served)),
        limits, settings.gate.target_fpr, settings.training.seed, not_scored=why_not,
    )  # fmt: skip
    verdict = analyse(stable_measured, candidate_measured, limits, evidence)
    if verdict.promote:
        registry.promote(candidate.version, reason="canary analysis passed")
    result = RolloutResult(stable.version, candidate.version, verdict, verdict.promote,
                           run_dir / "rollout.json")  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    result.record.write_text(json.dumps(result.to_dict(), indent=2))
    return result


def _start(
    servers: ExitStack, settings: Settings, model: RegisteredModel, log_file: Path,
    model_dir: Path | None = None,
) -> local_server.LocalServer:  # fmt: skip
    """Start serving `model`, without waiting for it to be ready."""
    return servers.enter_context(
        local_server.serve_registered(settings, model, log_file, model_dir=model_dir, wait_for=None)
    )


def _wait(server: local_server.LocalServer, timeout_s: float) -> None:
    """Wait until `server` is ready; a server whose worker failed to start (its model cannot
    be loaded) will not recover, so the canary does not wait out the timeout for it."""
    local_server.wait_until_ready(server, timeout_s, startup_failure_is_final=True)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
