"""Check KServe manifests against the KServe Python SDK's models, field by field.

A KServe resource is a custom resource: kubernetes-validate does not know its kind and lets it
pass, and the SDK's deserialiser silently drops fields it does not know. So a manifest is
deserialised into the SDK model, serialised back, and compared with what went in; every key
that did not survive (a misspelled or unsupported field), every value that changed type, and
every key the SDK added (a default the manifest should state) is a difference.

    differences = roundtrip_differences(manifest)   # [] when the SDK reproduces it exactly
    assert_roundtrips(manifest)                     # AssertionError listing the differences

The SDK's models name Kubernetes types (V1Container, V1Probe, ...) that live in
`kubernetes.client.models`; they are made visible to the SDK once, on first use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

# Kubernetes Quantity fields are int-or-string on the API server; the SDK types them `str` and
# turns a number into its string. Under these keys that conversion is not a difference.
_QUANTITY_PARENTS = frozenset({"limits", "requests", "overhead"})
_QUANTITY_KEYS = frozenset({"sizeLimit"})


@dataclass(frozen=True)
class Difference:
    path: str  # JSON-path-like location, e.g. spec.predictor.containers[0].env[1]
    kind: str  # "dropped", "added", "changed" or "rejected"
    expected: Any = None  # the manifest's value
    actual: Any = None  # what came back from the SDK

    def __str__(self) -> str:
        if self.kind == "dropped":
            return f"{self.path}: unknown to the SDK, dropped (value {self.expected!r})"
        if self.kind == "added":
            return f"{self.path}: added by the SDK as {self.actual!r}; state it in the manifest"
        if self.kind == "rejected":
            return f"{self.path}: the SDK refused the manifest: {self.actual}"
        return f"{self.path}: {self.expected!r} came back as {self.actual!r}"


@cache
def _api_client() -> Any:
    import kserve.models
    import kubernetes.client.models
    from kserve.api_client import ApiClient

    # The SDK resolves type names with getattr(kserve.models, name); lend it the Kubernetes
    # models it refers to (V1Container, V1EnvVar, V1Probe, V1SecurityContext, ...).
    for name in dir(kubernetes.client.models):
        value = getattr(kubernetes.client.models, name)
        is_model = isinstance(value, type) and hasattr(value, "openapi_types")
        if is_model and not hasattr(kserve.models, name):
            setattr(kserve.models, name, value)
    return ApiClient()


def model_name(manifest: Mapping[str, Any]) -> str:
    """The SDK model class for a manifest: serving.kserve.io/v1beta1 InferenceService ->
    V1beta1InferenceService."""
    api_version = str(manifest.get("apiVersion", ""))
    kind = str(manifest.get("kind", ""))
    group, _, version = api_version.rpartition("/")
    if group != "serving.kserve.io" or not version or not kind:
        raise ValueError(f"not a KServe resource: apiVersion={api_version!r} kind={kind!r}")
    return version[:1].upper() + version[1:] + kind


def roundtrip(manifest: Mapping[str, Any], model: str | None = None) -> Any:
    """Deserialise `manifest` into the SDK model and serialise it back to plain data."""
    client = _api_client()
    response = SimpleNamespace(data=json.dumps(manifest))
    obj = client.deserialize(response, model or model_name(manifest))
    return client.sanitize_for_serialization(obj)


def roundtrip_differences(
    manifest: Mapping[str, Any], model: str | None = None
) -> list[Difference]:
    """Every way the SDK's round trip of `manifest` differs from it; empty when it matches."""
    try:
        result = roundtrip(manifest, model)
    except (AttributeError, TypeError, ValueError) as exc:
        # A required field missing (ValueError from a model's constructor) or a type name the
        # SDK cannot resolve (AttributeError) means the manifest cannot be represented.
        return [Difference("<root>", "rejected", actual=f"{type(exc).__name__}: {exc}")]
    return list(_compare(manifest, result, ""))


def assert_roundtrips(manifest: Mapping[str, Any], model: str | None = None) -> None:
    """Raise AssertionError listing the differences, if the SDK does not reproduce `manifest`."""
    differences = roundtrip_differences(manifest, model)
    if differences:
        name = manifest.get("metadata", {}).get("name", "?")
        lines = "\n".join(f"  - {d}" for d in differences)
        raise AssertionError(
            f"{manifest.get('kind', '?')} {name!r} does not round-trip through the KServe SDK "
            f"({len(differences)} difference(s)):\n{lines}"
        )


def _compare(
    expected: Any, actual: Any, path: str, key: str = "", parent: str = ""
) -> Iterator[Difference]:
    """Differences between `expected` and `actual`; `key` is the name they sit under and
    `parent` the name of the mapping holding them."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for name, value in expected.items():
            sub = f"{path}.{name}" if path else str(name)
            if name not in actual:
                yield Difference(sub, "dropped", expected=value)
            else:
                yield from _compare(value, actual[name], sub, key=str(name), parent=key)
        for name, value in actual.items():
            if name not in expected:
                sub = f"{path}.{name}" if path else str(name)
                yield Difference(sub, "added", actual=value)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from _compare(e, a, f"{path}[{i}]", key=key, parent=parent)
        if len(expected) != len(actual):
            yield Difference(path, "changed", expected=expected, actual=actual)
        return
    if not _same_scalar(
        expected, actual, quantity=key in _QUANTITY_KEYS or parent in _QUANTITY_PARENTS
    ):
        yield Difference(path, "changed", expected=expected, actual=actual)


def _same_scalar(expected: Any, actual: Any, quantity: bool) -> bool:
    # bool is an int in Python: compare types too, so True never matches 1 or "True".
    if type(expected) is type(actual) and expected == actual:
        return True
    is_number = isinstance(expected, int | float) and not isinstance(expected, bool)
    return quantity and is_number and isinstance(actual, str) and actual == str(expected)
