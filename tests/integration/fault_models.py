"""Misbehaving classifiers for canary fault injection (importable by the scoring servers).

Each wraps a sound fitted pipeline and keeps its interface, so a `FraudModel` holding one
loads, passes readiness and is registered like any other; only `predict_proba` misbehaves.
The servers unpickle these by module name: the directory of this file must be on their
PYTHONPATH.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin


# sklearn is untyped: its base classes are Any to mypy.
class Wrapper(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def classes_(self) -> np.ndarray:
        classes: np.ndarray = self.inner.classes_
        return classes

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, inputs: pd.DataFrame, labels: np.ndarray) -> Wrapper:
        return self


class Slow(Wrapper):
    """Answers after `seconds`, every time."""

    def __init__(self, inner: Any, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        time.sleep(self.seconds)
        result: np.ndarray = self.inner.predict_proba(inputs)
        return result


def fails_on(amounts: pd.Series, every: int) -> pd.Series:
    """The rows `Flaky(every)` refuses: amount in cents divisible by `every` (about 1/every)."""
    cents: pd.Series = (amounts * 100).round().astype("int64")
    return cents % every == 0


class Flaky(Wrapper):
    """Raises for any batch holding a row whose amount in cents is divisible by `every`."""

    def __init__(self, inner: Any, every: int) -> None:
        super().__init__(inner)
        self.every = every

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        if fails_on(inputs["amount"], self.every).any():
            raise RuntimeError("injected scoring failure")
        result: np.ndarray = self.inner.predict_proba(inputs)
        return result


class Crashing(Wrapper):
    """Kills its own process the first time it scores (readiness scores nothing, so the
    server becomes ready first)."""

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        os._exit(70)
