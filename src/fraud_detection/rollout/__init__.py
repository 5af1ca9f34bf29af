"""Canary rollout: measure a candidate beside the stable model, then promote or roll back."""
