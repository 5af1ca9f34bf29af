"""The model registry: versioned models with model cards, and a production pointer."""

from fraud_detection.registry.local import ModelRegistry, RegisteredModel

__all__ = ["ModelRegistry", "RegisteredModel"]
