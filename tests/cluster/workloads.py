"""The pods an install would run: each workload's pod template, the InferenceService's
predictor and canaries (as KServe would create them), with the labels those pods carry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from install_record import Install, Obj


@dataclass(frozen=True)
class Pod:
    owner: Obj
    role: str  # e.g. "pod template", "predictor", "canary v-ba98"
    namespace: str
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        owner = self.owner
        return f"{owner.kind} {owner.namespace}/{owner.name} ({self.role}, {owner.origin})"

    def containers(self) -> list[dict[str, Any]]:
        return [*(self.spec.get("initContainers") or []), *(self.spec.get("containers") or [])]


def _template(obj: Obj) -> dict[str, Any] | None:
    spec = obj.body.get("spec") or {}
    if obj.kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if obj.kind == "Pod":
        return {"metadata": obj.body.get("metadata") or {}, "spec": spec}
    template = spec.get("template")
    return template if isinstance(template, dict) else None


def pods(install: Install) -> Iterator[Pod]:
    for obj in install.objects:
        if obj.kind in (
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "ReplicaSet",
            "Pod",
        ):
            template = _template(obj)
            if template:
                labels = (template.get("metadata") or {}).get("labels") or {}
                yield Pod(obj, "pod template", obj.namespace, labels, template.get("spec") or {})
        elif obj.kind == "InferenceService":
            spec = obj.body.get("spec") or {}
            labels = {
                **((obj.body.get("metadata") or {}).get("labels") or {}),
                "serving.kserve.io/inferenceservice": obj.name,
                "component": "predictor",
            }
            predictor = spec.get("predictor") or {}
            yield Pod(obj, "predictor", obj.namespace, labels, predictor)
            for canary in spec.get("canary") or []:
                body = canary.get("predictor") or {}
                yield Pod(obj, f"canary {body.get('name', '')}", obj.namespace, labels, body)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and In/Exists/NotIn/DoesNotExist expressions)."""
    for name, value in (selector.get("matchLabels") or {}).items():
        if labels.get(name) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (
            op == "NotIn" and labels.get(key) in values
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True
