"""Distribution checks of incoming transactions against production's reference snapshot.

The data contract (`contract.py`) judges each value on its own: type, range, allowed categories,
nulls. It cannot see a column that turned constant inside its valid range, a category that
stopped arriving, a label that mostly stopped being set, or nulls that tripled but stay under
their cap. A model trained on such data is crippled, and the validation gate cannot tell: it
scores the candidate and production on a holdout cut from the same broken data. So ingestion
also compares the incoming rows with the reference snapshot the registry keeps beside
production's model card (the newest rows of the holdout production was judged on), and stops on:

    constant              a numeric column's standard deviation falls below `min_spread_ratio`
                          of the reference's, or one value of a categorical column holds more
                          than `max_top_share` of the rows
    category vanished     a reference category's share falls below `min_category_share_ratio`
                          of its reference share
    label rate collapsed  the fraud rate falls below `min_label_rate_ratio` of the reference's
    null share jumped     a column's null share rises more than `max_null_share_increase` above
                          the reference's

A share fails only when it also moves more than `noise_z` standard errors of the difference of
two binomial samples (the incoming rows and the reference's): a small batch or a small
reference widens the bound instead of raising a false alarm. The thresholds are
`config.IngestSettings`.

Why Evidently rather than pandera or Great Expectations. Evidently 0.7 is pinned already (the
monitoring job's drift reports use it). Its metrics run on a current and a reference dataset in
one pass, and its tests take thresholds relative to the reference's own value:
`Reference(relative=r, absolute=a)` fails a `gte` test below `ref - max(r·ref, a)`, which is
exactly "past the stated fraction and past the noise". Each check is then one declared metric
with one test. pandera (not installed) validates one frame against a schema; it has no
reference dataset, so every reference statistic and bound would be computed here and handed to
custom checks, beside a second schema that repeats the contract. Great Expectations (not
installed) has matching expectations (distinct values, proportions, mean between bounds) but
only with fixed bounds, again computed here from the reference, and it brings a data context
and a large dependency tree to reconcile with the pins of feast, bentoml and kfp, for four
checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from fraud_detection.config import IngestSettings
from fraud_detection.data.contract import LABEL, TRANSACTION_COLUMNS
from fraud_detection.errors import DataDistributionError

# The compared columns, from the contract; ids and timestamps have no distribution to keep.
NUMERIC: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS if c.kind == "float")
CATEGORICAL: tuple[str, ...] = tuple(
    c.name for c in TRANSACTION_COLUMNS if c.kind in ("category", "bool")
)
# The contract refuses nulls everywhere else, so only these can see their null share jump.
NULLABLE: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS if c.max_null_fraction > 0)

Label = str | bool


@dataclass(frozen=True)
class Problem:
    """One failed check, with what was observed and what the reference holds."""

    column: str
    check: str
    measure: str
    observed: float
    reference: float
    fails: Literal["below", "above"]
    bound: float

    def __str__(self) -> str:
        return (
            f"{self.column}: {self.check}: {self.measure} {self.observed:.4g}, reference "
            f"{self.reference:.4g} (fails {self.fails} {self.bound:.4g})"
        )


@dataclass(frozen=True)
class Comparison:
    """The outcome of every check of one batch against one reference."""

    reference: str
    checks: int
    problems: tuple[Problem, ...]
    not_compared: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "status": "failed" if self.problems else "passed",
            "reference": self.reference,
            "checks": self.checks,
            "problems": [str(p) for p in self.problems],
            "not_compared": list(self.not_compared),
        }

    def raise_for_problems(self, source: str) -> None:
        """Stop on any problem.

        Raises:
            DataDistributionError: naming every problem.
        """
        if self.problems:
            raise DataDistributionError(source, self.reference, [str(p) for p in self.problems])


@dataclass(frozen=True)
class _Check:
    column: str
    name: str
    measure: str
    metric: Any  # the Evidently metric carrying this check's test
    fails: Literal["below", "above"]
    threshold: Any  # a number, or an Evidently `Reference`
    label: Label | None = None


def compare(
    current: pd.DataFrame, reference: pd.DataFrame, settings: IngestSettings, reference_name: str
) -> Comparison:
    """Run every check of `current` (validated transactions) against `reference`.

    Columns the reference lacks (a snapshot of an older layout) are listed in `not_compared`.
    """
    from evidently import DataDefinition, Dataset, Report  # slow to import: only when comparing

    wanted = (*NUMERIC, *CATEGORICAL, LABEL)
    present = [c for c in wanted if c in reference.columns and c in current.columns]
    numeric = [c for c in present if c in NUMERIC]
    categorical = [c for c in present if c in CATEGORICAL]
    checks = _plan(current, reference, settings, numeric, categorical, LABEL in present)
    definition = DataDefinition(
        numerical_columns=[*numeric, *([LABEL] if LABEL in present else [])],
        categorical_columns=categorical,
    )
    metrics = list({c.metric.metric_id: c.metric for c in checks}.values())
    snapshot = Report(metrics).run(
        Dataset.from_pandas(current[present], data_definition=definition),
        Dataset.from_pandas(reference[present], data_definition=definition),
    )
    problems = tuple(p for c in checks if (p := _problem(snapshot.context, c)) is not None)
    not_compared = tuple(c for c in wanted if c not in present)
    return Comparison(reference_name, len(checks), problems, not_compared)


def _plan(
    current: pd.DataFrame, reference: pd.DataFrame, settings: IngestSettings,
    numeric: list[str], categorical: list[str], with_label: bool,
) -> list[_Check]:  # fmt: skip
    from evidently.metrics import MeanValue, MissingValueCount, StdValue, UniqueValueCount
    from evidently.tests import Reference, gte, lte

    def noise(share: float) -> float:
        """`noise_z` standard errors of the difference of two binomial shares."""
        variance = share * (1 - share) * (1 / len(current) + 1 / len(reference))
        return settings.noise_z * math.sqrt(variance)

    checks: list[_Check] = []
    for column in numeric:
        spread = Reference(relative=1 - settings.min_spread_ratio)
        metric = StdValue(column=column, tests=[gte(spread)])
        checks.append(_Check(column, "constant", "standard deviation", metric, "below", spread))
    for column in categorical:
        # One metric per column, a test per category: Evidently counts the column once.
        share_tests: dict[Label, list[Any]] = {}
        planned: list[tuple[str, Label, Literal["below", "above"], Any]] = []
        for raw, share in reference[column].value_counts(normalize=True).items():
            label = _label(raw)
            kept = Reference(
                relative=1 - settings.min_category_share_ratio, absolute=noise(float(share))
            )
            share_tests[label] = [gte(kept)]
            planned.append(("category vanished", label, "below", kept))
            if share <= settings.max_top_share:  # dominant in the reference already: no news
                share_tests[label].append(lte(settings.max_top_share))
                planned.append(("constant", label, "above", settings.max_top_share))
        counted = UniqueValueCount(column=column, share_tests=share_tests)
        checks += [
            _Check(column, name, f"share of {label!r}", counted, fails, threshold, label)
            for name, label, fails, threshold in planned
        ]
    if with_label:
        rate = float(reference[LABEL].mean())
        floor = Reference(relative=1 - settings.min_label_rate_ratio, absolute=noise(rate))
        metric = MeanValue(column=LABEL, tests=[gte(floor)])
        checks.append(_Check(LABEL, "label rate collapsed", "fraud rate", metric, "below", floor))
    for column in (c for c in NULLABLE if c in numeric or c in categorical):
        nulls = float(reference[column].isna().mean())
        ceiling = Reference(absolute=max(settings.max_null_share_increase, noise(nulls)))
        metric = MissingValueCount(column=column, share_tests=[lte(ceiling)])
        checks.append(_Check(column, "null share jumped", "null share", metric, "above", ceiling))
    return checks


def _problem(context: Any, check: _Check) -> Problem | None:
    """The check's failure as a `Problem`, or None when Evidently's test passed."""
    result = context.get_metric_result(check.metric)
    wanted = "ge" if check.fails == "below" else "le"
    (test,) = [
        t for t in result.tests
        if t.id == wanted and getattr(t.bound_test, "label", None) == check.label
    ]  # fmt: skip
    if test.status == "SUCCESS":
        return None
    observed = _value(result, check.label)
    reference = _value(context.get_reference_metric_result(check.metric.metric_id), check.label)
    return Problem(check.column, check.name, check.measure, observed, reference, check.fails,
                   _bound(check.threshold, reference, check.fails))  # fmt: skip


def _value(result: Any, label: Label | None) -> float:
    """The tested number of a metric result: a label's share, a count's share, or the value."""
    if label is not None:
        return float(result.get_label_result(label)[1].value)
    if hasattr(result, "share"):
        return float(result.share.value)
    return float(result.value)


def _bound(threshold: Any, reference: float, fails: Literal["below", "above"]) -> float:
    """Where the test starts failing, as Evidently places it (`ApproxValue`'s tolerance)."""
    from evidently.core.tests import ApproxValue, Reference

    if not isinstance(threshold, Reference):
        return float(threshold)
    approx = ApproxValue(reference, threshold.relative, threshold.absolute)
    tolerance = approx.tolerance if fails == "above" else -approx.tolerance
    return float(approx.value + tolerance)


def _label(value: Any) -> Label:
    """A category as Evidently keys it: plain `bool` or `str`, not a numpy scalar."""
    return bool(value) if isinstance(value, bool | np.bool_) else str(value)
