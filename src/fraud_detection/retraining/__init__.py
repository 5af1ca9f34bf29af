"""Closing the loop: a failing monitoring verdict starts retraining, once per window."""
