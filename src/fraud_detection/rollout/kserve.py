"""The canary in the cluster: a KServe Standard-mode InferenceService with `spec.canary`.

Start: add a named canary whose predictor is the stable one with the candidate's model
(`STORAGE_URI`); the Gateway API HTTPRoute splits traffic by `trafficPercent`. Analyse: the
same `analysis.analyse` as on one machine, over measurements of each predictor's own Service.
Promote: the stable predictor takes the canary's name and spec, and the entry goes (KServe
keeps the canary's pods), and the registry's production pointer moves with it. Roll back:
remove the entry; neither the stable predictor nor the registry changes. The predictors' own
Services take the live traffic; the labelled probe set is scored in the rollout Job by the two
versions they serve, loaded from the registry on the workspace volume (`rollout.probe`). See
docs/serving-rollout.md.

Predictors are named after the model version they serve (`v-<version>`), so the name alone
says which model a Deployment runs, and a canary of the version already serving is refused.

The Kubernetes API is reached through `InferenceServiceAPI`; tests use an in-memory fake of
it, because no cluster can run where they do.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fraud_detection.config import RolloutSettings
from fraud_detection.errors import RolloutError
from fraud_detection.rollout.analysis import (
    CanaryVerdict,
    Measurements,
    analyse,
    live_checks,
    not_scored,
)
from fraud_detection.rollout.probe import ProbeEvidence

if TYPE_CHECKING:
    from fraud_detection.registry import ModelRegistry

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
MODEL_CONTAINER = "kserve-container"


def predictor_name(version: str) -> str:
    """The predictor that serves a registry version (a DNS label: versions are hex digits)."""
    return f"v-{version}"


def version_of(storage_uri: str) -> str:
    """The registry version a model URI points at: its last path segment."""
    return storage_uri.rstrip("/").rsplit("/", 1)[-1]


class ProductionPointer(Protocol):
    """What a promotion moves besides the InferenceService: the registry's production pointer
    (`ModelRegistry` is one)."""

    def promote(self, version: str, reason: str) -> object: ...


class InferenceServiceAPI(Protocol):
    def get(self, name: str) -> dict[str, Any]: ...
    def merge_patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class KubernetesInferenceServices:
    """`InferenceServiceAPI` on the real cluster (in-cluster or kubeconfig credentials)."""

    namespace: str

    def __post_init__(self) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self._api = client.CustomObjectsApi()

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._api.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return found

    def merge_patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        # A dict body is sent as a JSON merge patch: lists (spec.canary) are replaced whole,
        # and a null removes the field.
        patched: dict[str, Any] = self._api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, patch
        )
        return patched


Measure = Callable[[dict[str, str], dict[str, float]], dict[str, Measurements]]
# The probe set's evidence for (stable version, candidate version, why the candidate's model
# must not run here, "" when it may).
Judge = Callable[[str, str, str], ProbeEvidence]


@dataclass
class ClusterCanary:
    api: InferenceServiceAPI
    name: str
    namespace: str
    limits: RolloutSettings
    poll_interval_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def stable(self) -> dict[str, Any]:
        """The stable predictor's spec as the API server holds it now."""
        predictor: dict[str, Any] = self.api.get(self.name)["spec"]["predictor"]
        return predictor

    def serving(self) -> str:
        """The registry version the stable predictor serves (from its `STORAGE_URI`)."""
        return version_of(_storage_uri(self.stable()))

    def canaries(self) -> list[str]:
        """Names of the canaries running now."""
        entries = self.api.get(self.name)["spec"].get("canary") or []
        return [str(entry["predictor"].get("name")) for entry in entries]

    def start(self, canary_name: str, storage_uri: str) -> dict[str, Any]:
        isvc = self.api.get(self.name)
        if isvc["spec"].get("canary"):
            raise RolloutError(f"{self.name} already has a canary: finish that rollout first")
        stable = isvc["spec"]["predictor"]
        if stable.get("name") == canary_name or _storage_uri(stable) == storage_uri:
            raise RolloutError(
                f"{storage_uri} is what the stable predictor serves already: a canary of it "
                "would compare production with itself; train a model that differs"
            )
        predictor = copy.deepcopy(stable)
        predictor["name"] = canary_name
        for key in ("maxReplicas", "scaleTarget", "scaleMetric", "autoScaling"):
            predictor.pop(key, None)  # KServe refuses autoscaling fields on a canary
        _set_storage_uri(predictor, storage_uri)
        entry = {"trafficPercent": self.limits.canary_percent, "predictor": predictor}
        return self.api.merge_patch(self.name, {"spec": {"canary": [entry]}})

    def wait_ready(self, canary_name: str) -> bool:
        deadline = time.monotonic() + self.limits.ready_timeout_s
        while True:
            statuses = self.api.get(self.name).get("status", {}).get("canaryStatuses", [])
            if any(s.get("name") == canary_name and s.get("ready") for s in statuses):
                return True
            if time.monotonic() >= deadline:
                return False
            self.sleep(self.poll_interval_s)

    def urls(self, canary_name: str) -> dict[str, str]:
        """Each predictor's own Service (`<isvc>-<predictor>-predictor`, port 80)."""
        stable = self.api.get(self.name)["spec"]["predictor"].get("name", "predictor")
        domain = f"{self.namespace}.svc.cluster.local"
        return {
            "stable": f"http://{self.name}-{stable}-predictor.{domain}",
            "candidate": f"http://{self.name}-{canary_name}-predictor.{domain}",
        }

    def promote(self, canary_name: str) -> dict[str, Any]:
        entry = self._entry(canary_name)
        return self.api.merge_patch(
            self.name, {"spec": {"predictor": entry["predictor"], "canary": None}}
        )

    def rollback(self) -> dict[str, Any]:
        return self.api.merge_patch(self.name, {"spec": {"canary": None}})

    def restore(self, predictor: dict[str, Any]) -> dict[str, Any]:
        """Put back a stable predictor saved before a promotion (after a failed one)."""
        return self.api.merge_patch(self.name, {"spec": {"predictor": predictor, "canary": None}})

    def _entry(self, canary_name: str) -> dict[str, Any]:
        for entry in self.api.get(self.name)["spec"].get("canary") or []:
            if entry["predictor"].get("name") == canary_name:
                found: dict[str, Any] = entry
                return found
        raise RolloutError(f"{self.name} has no canary named {canary_name}")


def run(
    canary: ClusterCanary,
    version: str,
    storage_uri: str,
    measure: Measure,
    production: ProductionPointer,
    judge: Judge | None = None,
) -> CanaryVerdict:
    """Canary `version`, analyse it, then promote it (InferenceService and production pointer
    together) or roll it back (neither changes). Any failure rolls back.

    Args:
        judge: The probe set's evidence (`canary_with_recent_traffic` scores the registry's
            versions); None: there is none, and the quality checks fail.
    """
    canary_name = predictor_name(version)
    before = canary.stable()
    serving = version_of(_storage_uri(before))
    canary.start(canary_name, storage_uri)
    try:
        if not canary.wait_ready(canary_name):
            stable, candidate = Measurements(ready=True), Measurements(ready=False)
        else:
            percent = float(canary.limits.canary_percent)
            measured = measure(
                canary.urls(canary_name), {"stable": 100 - percent, "candidate": percent}
            )
            stable, candidate = measured["stable"], measured["candidate"]
        why_not = not_scored(live_checks(stable, candidate, canary.limits))
        evidence = judge(serving, version, why_not) if judge else None
        verdict = analyse(stable, candidate, canary.limits, evidence)
    except BaseException:
        canary.rollback()
        raise
    if not verdict.promote:
        canary.rollback()
        return verdict
    _promote_both(canary, canary_name, before, production, version,
                  f"canary on {canary.name}: {'; '.join(verdict.reasons)}")  # fmt: skip
    return verdict


def switch(
    canary: ClusterCanary,
    version: str,
    storage_uri: str,
    production: ProductionPointer,
    reason: str,
) -> None:
    """Move production to `version` without analysis (a rollback to a version that served
    before): through a canary, so that the new pods are ready before the old ones go."""
    canary_name = predictor_name(version)
    before = canary.stable()
    canary.start(canary_name, storage_uri)
    try:
        ready = canary.wait_ready(canary_name)
    except BaseException:
        canary.rollback()
        raise
    if not ready:
        canary.rollback()
        raise RolloutError(
            f"{canary_name} did not become ready within {canary.limits.ready_timeout_s:g} s; "
            "production is unchanged. Check its pods (kubectl get pods -n "
            f"{canary.namespace}), or raise rollout.ready_timeout_s"
        )
    _promote_both(canary, canary_name, before, production, version, reason)


def _promote_both(
    canary: ClusterCanary,
    canary_name: str,
    before: dict[str, Any],
    production: ProductionPointer,
    version: str,
    reason: str,
) -> None:
    # The InferenceService first: its patch is the step most likely to fail, and a failure
    # there leaves the registry untouched (the caller's rollback removes the canary).
    try:
        canary.promote(canary_name)
    except BaseException:
        canary.rollback()
        raise
    try:
        production.promote(version, reason)
    except BaseException:
        # The registry still names the old version: serve it again, so the two agree.
        canary.restore(before)
        raise


def _storage_uri(predictor: dict[str, Any]) -> str:
    for container in predictor.get("containers", []):
        if container.get("name") == MODEL_CONTAINER:
            for env in container.get("env", []):
                if env.get("name") == "STORAGE_URI":
                    return str(env.get("value", ""))
    raise RolloutError(f"the stable predictor's {MODEL_CONTAINER!r} container has no STORAGE_URI")


def _set_storage_uri(predictor: dict[str, Any], storage_uri: str) -> None:
    for container in predictor.get("containers", []):
        if container.get("name") == MODEL_CONTAINER:
            env = [e for e in container.get("env", []) if e.get("name") != "STORAGE_URI"]
            container["env"] = [{"name": "STORAGE_URI", "value": storage_uri}, *env]
            return
    raise RolloutError(f"the stable predictor has no {MODEL_CONTAINER!r} container")


def canary_with_recent_traffic(
    isvc_name: str,
    namespace: str,
    version: str,
    storage_uri: str,
    transactions_path: Path,
    limits: RolloutSettings,
    target_fpr: float,
    seed: int = 0,
    api: InferenceServiceAPI | None = None,
    *,
    registry: ModelRegistry,
) -> CanaryVerdict:
    """The whole cluster canary, as the in-cluster rollout Job and the pipeline's rollout step
    run it (`fraud_detection.rollout.cluster_job`): recent transactions as live traffic, the
    candidate's labelled point-in-time holdout as the probe set, scored by the stable and the
    candidate versions from the registry on the workspace volume (the files their predictors
    serve), and the registry promoted with the InferenceService."""
    from fraud_detection.data.io import load_transactions
    from fraud_detection.rollout import probe
    from fraud_detection.rollout.traffic import Client, measure, payloads

    transactions = load_transactions(transactions_path)
    traffic = payloads(transactions.sort_values("event_timestamp").tail(limits.requests))
    rows, source = probe.probe_rows(registry.get(version).path)

    def measure_services(
        urls: dict[str, str], weights: dict[str, float]
    ) -> dict[str, Measurements]:
        clients = {name: Client(url) for name, url in urls.items()}
        try:
            return measure(clients, weights, traffic, seed)
        finally:
            for client in clients.values():
                client.close()

    def judge(stable: str, candidate: str, why_not: str) -> ProbeEvidence:
        load = None if why_not else registry.get(candidate).load
        return probe.gather(
            rows, source, registry.get(stable).load(), load, limits, target_fpr, seed,
            not_scored=why_not,
        )  # fmt: skip

    canary = ClusterCanary(
        api or KubernetesInferenceServices(namespace), isvc_name, namespace, limits
    )
    return run(canary, version, storage_uri, measure_services, registry, judge)
