"""Kinds of objects that live outside any namespace: the stand-in keeps them and the install
reader resolves references to them without a namespace."""

from __future__ import annotations

CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "GatewayClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "StorageClass",
    "PriorityClass",
    "ClusterIssuer",
    "ClusterServingRuntime",
    "ClusterStorageContainer",
    "APIService",
}
