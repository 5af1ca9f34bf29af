"""Fault injection in the embedded canary: candidates that time out, fail some requests, or
crash while serving are rolled back, and the stable model keeps production and its traffic.

The candidates are real registered versions: the production model's pipeline wrapped in a
misbehaving classifier (`fault_models`), saved as a `FraudModel`, registered with the
production card and reference, then served by `run_canary` from the registry like any other.
(A candidate that cannot start and one that scores worse are in test_canary_embedded.py.)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fault_models
import pytest
from sklearn.pipeline import Pipeline

from fraud_detection.config import Settings
from fraud_detection.registry import ModelRegistry, RegisteredModel
from fraud_detection.rollout.embedded import RolloutResult, run_canary
from fraud_detection.training.model import FraudModel

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def registry_of(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings.paths.registry, settings.model_name)


@dataclass(frozen=True)
class Canary:
    settings: Settings
    production: RegisteredModel  # before the canary
    pointer: str  # production.json before the canary
    candidate: RegisteredModel
    result: RolloutResult

    def assert_rolled_back(self) -> dict[str, Any]:
        """Not promoted; the production pointer (and its history) untouched; the stable model
        served its share of traffic and the probe set without an error. Returns the verdict."""
        registry = registry_of(self.settings)
        assert not self.result.promoted
        assert registry.production_file.read_text() == self.pointer
        after = registry.production()
        assert after is not None and after.version == self.production.version
        record = json.loads(self.result.record.read_text())
        assert record["promoted"] is False
        assert record["candidate_version"] == self.candidate.version
        stable = record["verdict"]["stable"]
        assert stable["requests"] > 0 and stable["errors"] == 0
        assert stable.get("probe_pr_auc") is not None
        verdict: dict[str, Any] = record["verdict"]
        return verdict

    def failed(self) -> set[str]:
        return {c.name for c in self.result.verdict.checks if not c.ok}

    def candidate_log(self) -> str:
        return (self.result.record.parent / "candidate.log").read_text(errors="replace")


@pytest.fixture
def faulty_canary(
    trained_workspace: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Canary]:
    """Copy the trained workspace, register `wrap(production pipeline)` as a candidate, and
    canary it against production with the given rollout limits."""
    # The scoring servers must be able to unpickle the fault_models classes.
    paths = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    def canary(wrap: Callable[[Any], Any], **limits: Any) -> Canary:
        root = tmp_path / "workspace"
        shutil.copytree(trained_workspace.paths.root, root)
        rollout = trained_workspace.rollout.model_copy(update={"ready_timeout_s": 60.0, **limits})
        settings = trained_workspace.model_copy(update={"workspace": root, "rollout": rollout})
        registry = registry_of(settings)
        production = registry.production()
        assert production is not None
        sound = production.load()
        faulty = FraudModel(
            pipeline=Pipeline([("classify", wrap(sound.pipeline))]),
            looked_up=sound.looked_up,
            threshold=sound.threshold,
        )
        card = {k: v for k, v in production.card.items()
                if k not in ("name", "version", "registered_at", "files")}  # fmt: skip
        candidate = registry.register(
            faulty.save(tmp_path / "candidate" / "model.joblib"), card,
            {"reference.parquet": production.path / "reference.parquet"},
        )  # fmt: skip
        assert candidate.version != production.version
        assert isinstance(candidate.load().pipeline[-1], fault_models.Wrapper)
        pointer = registry.production_file.read_text()
        result = run_canary(settings, candidate.version, report=lambda _: None)
        return Canary(settings, production, pointer, candidate, result)

    return canary


@pytest.mark.slow
def test_candidate_that_times_out_is_rolled_back(
    faulty_canary: Callable[..., Canary],
) -> None:
    """Every candidate answer takes 12 s, beyond the 10 s request timeout: its requests count as
    errors, it has no latency and no probe-set result, and it is rolled back."""
    canary = faulty_canary(
        lambda inner: fault_models.Slow(inner, seconds=12.0),
        requests=20, canary_percent=20, min_requests=1, probe_rows=20,
    )  # fmt: skip

    verdict = canary.assert_rolled_back()
    candidate = verdict["candidate"]
    print(f"timing out: candidate {candidate['errors']}/{candidate['requests']} errors")
    assert candidate["ready"] is True and candidate["requests"] >= 1
    assert candidate["errors"] == candidate["requests"]
    assert {"error_rate", "latency_p95", "probe_pr_auc"} <= canary.failed()
    assert "status=504" in canary.candidate_log()  # the server's own 10 s timeout fired


def test_candidate_that_fails_one_request_in_twenty_is_rolled_back(
    faulty_canary: Callable[..., Canary],
) -> None:
    """The candidate raises (a 500) for about 5 % of transactions and answers the rest: its
    error rate is measured on live traffic and exceeds the stable's plus the 1-point margin."""
    canary = faulty_canary(
        lambda inner: fault_models.Flaky(inner, every=20),
        requests=300, canary_percent=50, probe_rows=100,
    )  # fmt: skip

    verdict = canary.assert_rolled_back()
    candidate = verdict["candidate"]
    print(f"flaky: candidate {candidate['errors']}/{candidate['requests']} errors "
          f"({candidate['error_rate']:.1%})")  # fmt: skip
    assert candidate["requests"] >= canary.settings.rollout.min_requests
    assert 0.02 <= candidate["error_rate"] <= 0.15  # partial failure, not a dead candidate
    assert candidate["p95_ms"] is not None  # it did answer most requests
    assert "error_rate" in canary.failed()
    assert (
        canary.candidate_log().count("RuntimeError: injected scoring failure")
        == (candidate["errors"])
    )


@pytest.mark.slow
def test_candidate_that_crashes_while_serving_is_rolled_back(
    faulty_canary: Callable[..., Canary],
) -> None:
    """The candidate becomes ready, then its worker process dies on the first request it
    scores (and again after each restart): the canary finishes, counts the failures as
    errors, and rolls it back."""
    canary = faulty_canary(
        fault_models.Crashing, requests=20, canary_percent=20, min_requests=1, probe_rows=20
    )

    verdict = canary.assert_rolled_back()
    candidate = verdict["candidate"]
    print(f"crashing: candidate {candidate['errors']}/{candidate['requests']} errors")
    assert candidate["ready"] is True and candidate["errors"] >= 1
    assert candidate["errors"] == candidate["requests"]
    assert {"error_rate", "latency_p95"} <= canary.failed()
    restarts = canary.candidate_log().count("Service fraud-detector initialized") - 1
    print(f"crashing: the candidate's worker was restarted {restarts} times")
    assert restarts >= 1
