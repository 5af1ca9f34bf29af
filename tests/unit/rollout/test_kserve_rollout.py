"""The cluster canary against an in-memory InferenceService API and a real registry directory.

The Kubernetes API is a mock, and only because no Kubernetes API can run here: the fake applies
JSON merge patches (RFC 7386) the way the API server does for custom objects, and plays the
KServe controller's part by reporting canary readiness. The registry is the real one, in
tmp_path: a promotion must move its production pointer with the InferenceService.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fraud_detection.config import RolloutSettings
from fraud_detection.errors import RolloutError
from fraud_detection.registry import ModelRegistry
from fraud_detection.rollout import kserve
from fraud_detection.rollout.analysis import Measurements
from fraud_detection.rollout.probe import Comparison, ProbeEvidence

STABLE_URI = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/aaaaaaaaaaaa"
CANDIDATE_URI = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions/bbbbbbbbbbbb"
LIMITS = RolloutSettings(canary_percent=20, ready_timeout_s=0.05, min_requests=5)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeInferenceServices:
    def __init__(self, isvc: dict[str, Any], canary_becomes_ready: bool = True) -> None:
        self.isvc = isvc
        self.canary_becomes_ready = canary_becomes_ready
        self.patches: list[dict[str, Any]] = []

    def get(self, name: str) -> dict[str, Any]:
        assert name == self.isvc["metadata"]["name"]
        return copy.deepcopy(self.isvc)

    def merge_patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        assert name == self.isvc["metadata"]["name"]
        self.patches.append(patch)
        self.isvc = merge_patch(self.isvc, patch)
        canaries = self.isvc["spec"].get("canary") or []
        self.isvc["status"] = {
            "canaryStatuses": [
                {
                    "name": c["predictor"]["name"],
                    "ready": self.canary_becomes_ready,
                    "trafficPercent": c["trafficPercent"],
                }
                for c in canaries
            ]
        }
        return self.get(name)


class Pointer:
    """A production pointer that records its promotions (or fails, to test the undo)."""

    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.promoted: list[str] = []

    def promote(self, version: str, reason: str) -> object:
        if self.fails:
            raise OSError("registry volume is read-only")
        self.promoted.append(version)
        return version


def registry_with(root: Path, *versions: str) -> ModelRegistry:
    """A real registry holding one version per name (model files with distinct bytes); the
    first is production. Returns it with `versions` mapped to their content digests."""
    registry = ModelRegistry(root, "fraud-detector")
    for name in versions:
        model = root / f"{name}.joblib"
        model.write_bytes(name.encode())
        registry.register(model, {"source": name})
    return registry


def inference_service() -> dict[str, Any]:
    """The shape the chart renders (charts/fraud-detection/templates/inferenceservice.yaml)."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "fraud",
            "annotations": {"serving.kserve.io/deploymentMode": "Standard"},
        },
        "spec": {
            "predictor": {
                "name": "stable", "minReplicas": 2, "maxReplicas": 2,
                "containers": [{
                    "name": "kserve-container", "image": "fraud-detection-serving:0.1.0",
                    "env": [{"name": "STORAGE_URI", "value": STABLE_URI},
                            {"name": "FRAUD_SERVING_MODEL_DIR", "value": "/mnt/models"}],
                }],
            }
        },
    }  # fmt: skip


def good(requests: int = 50) -> Measurements:
    return Measurements(ready=True, requests=requests, errors=0, latencies_ms=(10.0,) * 20)


class Judge:
    """The probe set's evidence without models: a comparison well within the margin, and a
    record of what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, stable: str, candidate: str, why_not: str) -> ProbeEvidence:
        self.asked.append((stable, candidate, why_not))
        comparisons = {
            name: Comparison(name, 0.8, 0.81, 0.01, -0.01, 0.03)
            for name in ("pr_auc", "recall_at_fpr")
        }
        return ProbeEvidence(
            source="probe.parquet", rows=80_000, frauds=250, fraud_customers=100,
            confidence=0.95, stable={"pr_auc": 0.8}, candidate={} if why_not else {"pr_auc": 0.81},
            comparisons={} if why_not else comparisons, problem=why_not,
        )  # fmt: skip


def canary_of(api: FakeInferenceServices) -> kserve.ClusterCanary:
    return kserve.ClusterCanary(api, "fraud", "fraud", LIMITS, poll_interval_s=0.01,
                                sleep=lambda _: None)  # fmt: skip


def test_start_adds_a_named_canary_with_the_candidate_model() -> None:
    api = FakeInferenceServices(inference_service())
    canary_of(api).start("v-bbbbbbbbbbbb", CANDIDATE_URI)
    (entry,) = api.isvc["spec"]["canary"]
    assert entry["trafficPercent"] == 20
    predictor = entry["predictor"]
    assert predictor["name"] == "v-bbbbbbbbbbbb"
    assert "maxReplicas" not in predictor  # refused by KServe on a canary
    env = {e["name"]: e["value"] for e in predictor["containers"][0]["env"]}
    assert env["STORAGE_URI"] == CANDIDATE_URI
    # The stable predictor is untouched.
    assert api.isvc["spec"]["predictor"] == inference_service()["spec"]["predictor"]


def test_a_passing_canary_is_promoted_by_retargeting_the_stable_predictor() -> None:
    api = FakeInferenceServices(inference_service())
    seen_urls: dict[str, str] = {}

    def measure(urls: dict[str, str], weights: dict[str, float]) -> dict[str, Measurements]:
        seen_urls.update(urls)
        assert weights == {"stable": 80.0, "candidate": 20.0}
        return {"stable": good(), "candidate": good()}

    pointer, judge = Pointer(), Judge()
    verdict = kserve.run(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI, measure, pointer, judge)

    assert verdict.promote, verdict.reasons
    assert pointer.promoted == ["bbbbbbbbbbbb"]
    # The probe set is scored by the version the stable predictor serves and the candidate's.
    assert judge.asked == [("aaaaaaaaaaaa", "bbbbbbbbbbbb", "")]
    spec = api.isvc["spec"]
    assert "canary" not in spec
    assert spec["predictor"]["name"] == "v-bbbbbbbbbbbb"
    env = {e["name"]: e["value"] for e in spec["predictor"]["containers"][0]["env"]}
    assert env["STORAGE_URI"] == CANDIDATE_URI
    assert seen_urls["candidate"] == "http://fraud-v-bbbbbbbbbbbb-predictor.fraud.svc.cluster.local"
    assert seen_urls["stable"] == "http://fraud-stable-predictor.fraud.svc.cluster.local"


def test_a_worse_canary_is_rolled_back_and_stable_keeps_all_traffic() -> None:
    api = FakeInferenceServices(inference_service())
    worse = Measurements(ready=True, requests=50, errors=25, latencies_ms=(10.0,) * 20)

    pointer, judge = Pointer(), Judge()
    verdict = kserve.run(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI,
                         lambda urls, weights: {"stable": good(), "candidate": worse},
                         pointer, judge)  # fmt: skip

    assert not verdict.promote
    assert pointer.promoted == []
    # A candidate that failed live traffic is not run where the rollout runs.
    ((_, _, why_not),) = judge.asked
    assert why_not.startswith("not scored: the candidate failed its live checks (error_rate")
    assert {"error_rate", "probe_pr_auc"} <= {c.name for c in verdict.checks if not c.ok}
    assert "canary" not in api.isvc["spec"]
    assert api.isvc["spec"]["predictor"] == inference_service()["spec"]["predictor"]


def test_a_canary_that_never_becomes_ready_is_rolled_back_without_traffic() -> None:
    api = FakeInferenceServices(inference_service(), canary_becomes_ready=False)

    def measure(urls: dict[str, str], weights: dict[str, float]) -> dict[str, Measurements]:
        raise AssertionError("an unready canary must not be measured")

    verdict = kserve.run(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI, measure, Pointer())

    assert not verdict.promote
    assert [c.name for c in verdict.checks if not c.ok] == ["ready"]
    assert "canary" not in api.isvc["spec"]


def test_a_failure_during_analysis_rolls_back_before_raising() -> None:
    api = FakeInferenceServices(inference_service())

    def measure(urls: dict[str, str], weights: dict[str, float]) -> dict[str, Measurements]:
        raise ConnectionError("gateway unreachable")

    with pytest.raises(ConnectionError):
        kserve.run(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI, measure, Pointer())
    assert "canary" not in api.isvc["spec"]


def test_a_second_canary_is_refused_while_one_is_running() -> None:
    api = FakeInferenceServices(inference_service())
    canary_of(api).start("v-bbbbbbbbbbbb", CANDIDATE_URI)
    with pytest.raises(RolloutError, match="already has a canary"):
        canary_of(api).start("v-cccccccccccc", CANDIDATE_URI)


def test_a_canary_of_the_model_already_serving_is_refused() -> None:
    api = FakeInferenceServices(inference_service())
    with pytest.raises(RolloutError, match="compare production with itself"):
        canary_of(api).start("v-aaaaaaaaaaaa", STABLE_URI)
    assert "canary" not in api.isvc["spec"]


def test_a_failed_registry_write_puts_the_old_predictor_back() -> None:
    api = FakeInferenceServices(inference_service())
    with pytest.raises(OSError, match="read-only"):
        kserve.run(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI,
                   lambda urls, weights: {"stable": good(), "candidate": good()},
                   Pointer(fails=True), Judge())  # fmt: skip
    # The registry still names the old version, and so does the InferenceService.
    assert api.isvc["spec"]["predictor"] == inference_service()["spec"]["predictor"]
    assert "canary" not in api.isvc["spec"]


def test_promotion_moves_the_registry_pointer_and_the_inference_service_together(
    tmp_path: Path,
) -> None:
    registry = registry_with(tmp_path, "first", "second")
    stable, candidate = (m.version for m in registry.versions())
    registry.promote(stable, "first model")
    prefix = "pvc://fraud-workspace/artifacts/registry/fraud-detector/versions"
    isvc = inference_service()
    isvc["spec"]["predictor"]["containers"][0]["env"][0]["value"] = f"{prefix}/{stable}"
    api = FakeInferenceServices(isvc)

    kserve.run(canary_of(api), candidate, f"{prefix}/{candidate}",
               lambda urls, weights: {"stable": good(), "candidate": good()}, registry,
               Judge())  # fmt: skip

    production = registry.production()
    assert production is not None and production.version == candidate
    assert canary_of(api).serving() == candidate
    assert api.isvc["spec"]["predictor"]["name"] == kserve.predictor_name(candidate)


def test_a_rolled_back_canary_leaves_the_registry_and_the_inference_service(
    tmp_path: Path,
) -> None:
    registry = registry_with(tmp_path, "first", "second")
    stable, candidate = (m.version for m in registry.versions())
    registry.promote(stable, "first model")
    pointer_before = registry.production_file.read_text()
    api = FakeInferenceServices(inference_service())
    worse = Measurements(ready=True, requests=50, errors=25, latencies_ms=(10.0,) * 20)

    verdict = kserve.run(canary_of(api), candidate, CANDIDATE_URI,
                         lambda urls, weights: {"stable": good(), "candidate": worse},
                         registry)  # fmt: skip

    assert not verdict.promote
    assert registry.production_file.read_text() == pointer_before
    assert api.isvc["spec"] == inference_service()["spec"]


def test_switch_moves_production_only_once_the_new_predictor_is_ready() -> None:
    api = FakeInferenceServices(inference_service(), canary_becomes_ready=False)
    pointer = Pointer()
    with pytest.raises(RolloutError, match="production is unchanged"):
        kserve.switch(canary_of(api), "bbbbbbbbbbbb", CANDIDATE_URI, pointer, "rollback")
    assert pointer.promoted == []
    assert api.isvc["spec"] == inference_service()["spec"]
