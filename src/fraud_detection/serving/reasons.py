"""Reason codes for flagged transactions: the features that pushed each score up the most.

Each reason is one model input, its value as the model saw it (None when missing) and its
contribution to the transaction's log-odds (`training.contributions`). Only transactions at or
above the threshold are explained, so unflagged traffic pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from fraud_detection.serving.schemas import Reason
from fraud_detection.training.contributions import TreeContributions
from fraud_detection.training.model import FraudModel

TOP_REASONS = 3


class ReasonCodes:
    """Built once per model, at load; `top` explains rows of its input matrix."""

    def __init__(self, model: FraudModel) -> None:
        # The classifier's columns: the encoder puts the categorical ones first.
        self.columns = [str(c) for c in model.pipeline[0].get_feature_names_out()]
        self.contributions = TreeContributions(model.pipeline[-1])

    @classmethod
    def of(cls, model: FraudModel) -> ReasonCodes | None:
        """The model's reason codes, or None when its trees cannot be explained (a pipeline
        that is not an encoder `encoded_inputs` mirrors in front of a binary HGB classifier)."""
        classifier = model.pipeline[-1]
        if not (isinstance(classifier, HistGradientBoostingClassifier) and model.encodes_rows):
            return None
        if classifier.n_trees_per_iteration_ != 1:
            return None
        return cls(model)

    def top(
        self, matrix: np.ndarray, records: Sequence[Mapping[str, Any]], count: int = TOP_REASONS
    ) -> list[list[Reason]]:
        """For each row, its `count` largest contributions, largest first (ties by column
        order); `records` are the rows' model inputs as `FraudModel.input_records` gives."""
        phi = self.contributions.contributions(matrix)
        # Stable sort on the negated values: equal contributions keep the column order.
        order = np.argsort(-phi, axis=1, kind="stable")[:, :count]
        return [
            [
                Reason(
                    feature=self.columns[i],
                    contribution=float(row_phi[i]),
                    value=record[self.columns[i]],
                )
                for i in row_order
            ]
            for row_phi, row_order, record in zip(phi, order, records, strict=True)
        ]
