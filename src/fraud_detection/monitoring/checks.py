"""The monitor's decisive checks, each a hypothesis test with its share of one false-alarm
budget.

A window of live traffic is judged against the production model's reference by about thirty
tests: each model input (two-sample Kolmogorov-Smirnov for numbers, chi-squared homogeneity
for categories and the card-present flag), the prediction (K-S), the decline rate and three
score quantiles (exact beta-binomial tests, below), the decline rate of each merchant-category
and card-present segment with enough rows, and PR-AUC on matured labels (bootstrap).

The family-wise false-alarm rate of a window drawn like the reference is held at
`MonitorSettings.family_alpha` (1 %) by a weighted Bonferroni split: each family of checks
gets a fixed share of the budget (`FAMILY_WEIGHTS`), divided evenly among the tests it runs in
that window. Which tests run depends only on row and label counts, never on their outcome, so
the bound holds whatever is skipped. Bonferroni ignores the correlation between the tests (the
ratio features move with `amount`), which makes it conservative, not wrong.

The tests are scipy's on numpy arrays rather than Evidently's: one Evidently report per window
takes seconds (its setup and HTML), while the bench judges thousands of windows; Evidently still
renders the report a person reads, configured with the same tests and thresholds
(`reports.drift_report`).

The beta-binomial tests take the reference's own sampling error into account, not only the
window's: the reference's count k of m rows gives p a Jeffreys posterior Beta(k + 1/2,
m - k + 1/2), so a window's count of n rows is beta-binomial under "nothing changed". For a
quantile no parametric form is needed: a window value falls below the reference's j-th order
statistic with probability Beta(j, m - j + 1), so how many of n do is beta-binomial too
(distribution-free, exact).

Rows are not independent draws: a card's rows share its habits and its fraud bursts. The count
tests run on effective sizes, rows over Kish's design effect 1 + (m - 1) rho, with rho the
indicator's within-card correlation measured on the reference (`intraclass_correlation`) and
m the window's or the reference's size-weighted rows per card. The K-S and chi-squared tests of
the inputs take distinct cards as their sizes instead (`_ks`), the bound for a feature that
repeats per card; for declines, which cluster far less than a card's profile, that bound left a
fraud attack inside the noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from fraud_detection.errors import MonitoringError
from fraud_detection.features.derived import CATEGORICAL_FEATURES

PREDICTION = "prediction"
LABEL = "is_fraud"
LABEL_AVAILABLE_AT = "label_available_at"
QUANTILES = (0.5, 0.9, 0.99)
# Columns compared as categories: the model's categorical inputs and the card-present flag
# (a K-S test on a 0/1 column is valid but needlessly weak).
CATEGORY_TESTED = (*CATEGORICAL_FEATURES, "card_present")
# The card a row belongs to: the history features of one card's rows (its velocity, its
# profile) repeat or nearly so, so they are tested with cards, not rows, as the sample size.
CARD = "customer_id"
# Segments whose decline rate is checked on its own: a shift confined to one kind of spending
# (an attack on online electronics) barely moves the overall rate.
SEGMENT_COLUMNS = ("merchant_category", "card_present")
# The reference's within-card correlations are taken at their bootstrap 90th percentile
# (`intraclass_correlation`): erring toward more noise keeps the false-alarm bound.
RHO_UPPER = 0.9

Family = Literal["feature_drift", "prediction_drift", "decline_rate", "score_quantile",
                 "segment", "quality"]  # fmt: skip
FAMILIES: tuple[Family, ...] = ("feature_drift", "prediction_drift", "decline_rate",
                                "score_quantile", "segment", "quality")  # fmt: skip
# Share of the false-alarm budget per family (sums to 1). The input and segment families hold
# many tests each, so they get more; the decline rate and score quantiles are the checks that
# see a fraud attack, which moves few inputs, so they keep a large share for few tests.
FAMILY_WEIGHTS: dict[Family, float] = {
    "feature_drift": 0.30, "prediction_drift": 0.10, "decline_rate": 0.15,
    "score_quantile": 0.15, "segment": 0.20, "quality": 0.10,
}  # fmt: skip
DRIFT_FAMILIES: tuple[Family, ...] = FAMILIES[:5]  # a failure here is a `drift` verdict

CheckStatus = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class Check:
    """One test of one window: its p-value against its share of the budget.

    `observed` and the limits are in the checked quantity's own unit (a rate, a score), so a
    reader and an alert rule can compare them without the p-value; `observed` outside
    [lower_limit, upper_limit] is exactly a failure.
    """

    family: Family
    name: str
    status: CheckStatus
    alpha: float
    p_value: float | None = None
    statistic: float | None = None
    method: str = ""
    rows: int = 0
    observed: float | None = None
    lower_limit: float | None = None
    upper_limit: float | None = None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Judgement:
    """Every check of one window, and the per-test alpha each family was given."""

    checks: list[Check]
    alphas: dict[str, float]
    family_alpha: float

    def failed(self, families: Sequence[Family] = FAMILIES) -> list[Check]:
        return [c for c in self.checks if c.failed and c.family in families]

    def of(self, family: Family) -> list[Check]:
        return [c for c in self.checks if c.family == family]

    def to_dict(self) -> dict[str, Any]:
        return {"family_alpha": self.family_alpha, "alphas": self.alphas,
                "checks": [c.to_dict() for c in self.checks]}  # fmt: skip


def allocate_alpha(
    family_alpha: float, tests: Mapping[Family, int],
    weights: Mapping[Family, float] = FAMILY_WEIGHTS,
) -> dict[Family, float]:  # fmt: skip
    """Per-test significance level of each family: weighted Bonferroni.

    Family f gets `family_alpha * weights[f]`, split evenly among its `tests[f]` tests; the
    levels of every test run sum to at most `family_alpha`, which bounds the probability of any
    false alarm in the window by it (Bonferroni's inequality, whatever the dependence).

    Raises:
        MonitoringError: the budget is not within (0, 1), a weight is negative or the weights
            do not sum to 1, or a test count is negative.
    """
    if not 0 < family_alpha < 1:
        raise MonitoringError(f"the family-wise false-alarm rate must be within (0, 1), got "
                              f"{family_alpha}")  # fmt: skip
    if any(w < 0 for w in weights.values()) or not math.isclose(sum(weights.values()), 1.0):
        raise MonitoringError(f"family weights must be non-negative and sum to 1, got "
                              f"{dict(weights)}")  # fmt: skip
    if any(n < 0 for n in tests.values()):
        raise MonitoringError(f"test counts must be non-negative, got {dict(tests)}")
    return {f: family_alpha * weights.get(f, 0.0) / n for f, n in tests.items() if n > 0}


# ---------------------------------------------------------------------------------------------
# Rows that come in cards: effective sizes


def card_codes(frame: pd.DataFrame) -> np.ndarray | None:
    """Each row's card as an integer code, or None when the frame names no cards."""
    if CARD not in frame or not frame[CARD].notna().any():
        return None
    codes, _ = pd.factorize(frame[CARD], use_na_sentinel=False)
    return np.asarray(codes)


def cluster_size(codes: np.ndarray | None) -> float:
    """The mean size of the card a row belongs to, sum(m_i^2) / sum(m_i) over the cards' row
    counts m_i (Kish's size-weighted mean; 1 when rows name no cards)."""
    if codes is None or codes.size == 0:
        return 1.0
    counts = np.bincount(codes).astype(float)
    return float((counts**2).sum() / counts.sum())


def intraclass_correlation(
    indicator: np.ndarray, codes: np.ndarray | None, upper: float | None = None,
    resamples: int = 200, seed: int = 0,
) -> float:  # fmt: skip
    """How alike a 0/1 indicator (declined; below a score quantile) is within one card's rows.

    The rate of the indicator over rows that come in cards has the cluster-robust variance
    V = c/(c-1) * sum_i (y_i - p m_i)^2 / N^2 (y_i of card i's m_i rows, c cards, N rows): the
    ratio estimator's. Its ratio to the binomial p(1-p)/N is the design effect, which Kish's
    1 + (m - 1) rho relates to the correlation rho at the mean card size m (`cluster_size`).
    rho, not the design effect, carries over from the reference to a window, whose cards hold
    fewer or more rows. Clipped to [0, 1]; 0 without cards or for a constant indicator.

    With `upper` (say 0.9), the `upper` quantile of rho over `resamples` bootstrap resamples
    of the cards instead: a reference with few declines estimates rho loosely, and an
    understated rho understates the window's noise (1.5 % false alarms on 1,000-row windows
    with the point estimate, bench/monitor_detection.py).
    """
    if codes is None or codes.size == 0:
        return 0.0
    rows = np.bincount(codes).astype(float)
    hits = np.bincount(codes, weights=np.asarray(indicator, float))
    kept = rows > 0
    rows, hits = rows[kept], hits[kept]
    if upper is None:
        return float(_rho(rows[None, :], hits[None, :])[0])
    rng, cards = np.random.default_rng(seed), rows.size
    per_chunk = max(1, 2_000_000 // cards)  # bounded memory for references of many cards
    rho = np.concatenate([
        _rho(rows[draws], hits[draws])
        for draws in (rng.integers(0, cards, (min(per_chunk, resamples - done), cards))
                      for done in range(0, resamples, per_chunk))
    ])  # fmt: skip
    return float(np.quantile(rho, upper))


def _rho(rows: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """`intraclass_correlation` of each line of per-card row and hit counts."""
    cards = rows.shape[1]
    total, positive = rows.sum(axis=1), hits.sum(axis=1)
    p = positive / total
    size = (rows**2).sum(axis=1) / total
    robust = cards / (cards - 1) * ((hits - p[:, None] * rows) ** 2).sum(axis=1) / total**2
    binomial = p * (1 - p) / total
    valid = (cards >= 2) & (p > 0) & (p < 1) & (size > 1)
    effect = np.divide(robust, binomial, out=np.ones_like(robust), where=valid)
    rho: np.ndarray = np.clip(
        np.divide(effect - 1, size - 1, out=np.zeros_like(effect), where=valid), 0.0, 1.0
    )
    return rho


def design_effect(rho: float, size: float) -> float:
    """Kish's design effect 1 + (m - 1) rho: how many rows count as one independent draw."""
    return 1.0 + max(0.0, size - 1.0) * rho


# ---------------------------------------------------------------------------------------------
# Exact count tests (beta-binomial)


def _tails(size: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """P(X <= x) and P(X >= x) for x = 0..size, X ~ BetaBinom(size, a, b) (from its pmf: scipy's
    cdf sums the pmf anew for every x, seconds for a 20,000-row reference)."""
    pmf = stats.betabinom.pmf(np.arange(size + 1), size, a, b)
    return np.cumsum(pmf), np.cumsum(pmf[::-1])[::-1]


def _band(at_most: np.ndarray, at_least: np.ndarray, alpha: float) -> tuple[int, int]:
    """The counts whose equal-tail two-sided p-value exceeds alpha: [low, high]."""
    low = int(np.argmax(at_most > alpha / 2))
    high = int(np.flatnonzero(at_least > alpha / 2)[-1])
    return low, high


def rate_test(
    count: int, rows: int, reference_count: int, reference_rows: int, alpha: float
) -> tuple[float, float, float]:
    """Two-sided test that `count` of `rows` share the reference's rate.

    Returns:
        The p-value and the acceptance band of the window's rate at level `alpha`: the rate
        lies outside [low, high] exactly when p <= alpha.
    """
    if rows < 1 or reference_rows < 1:
        raise MonitoringError(f"a rate test needs rows in both the window ({rows}) and the "
                              f"reference ({reference_rows})")  # fmt: skip
    at_most, at_least = _tails(rows, reference_count + 0.5, reference_rows - reference_count + 0.5)
    low, high = _band(at_most, at_least, alpha)
    p = float(min(1.0, 2 * min(at_most[count], at_least[count])))
    return p, low / rows, high / rows


def quantile_test(
    window: np.ndarray, reference_sorted: np.ndarray, q: float, alpha: float,
    sizes: tuple[int, int] | None = None,
) -> tuple[float, float, float, float]:  # fmt: skip
    """Two-sided test that the window's q-quantile sits where the reference's does.

    D, the number of reference values at or below the window's k-th order statistic
    (k = ceil(q n)), is BetaBinom(m, k, n - k + 1) when both samples come from one continuous
    distribution; the test is on D, and the band is the reference's order statistics between
    the acceptable values of D.

    `sizes` (effective sizes of the window and the reference: their rows over their design
    effects, `design_effect`) replaces n and m in the distribution, D scaled alike.

    Returns:
        The window's q-quantile, the p-value, and the band [low, high] in score units: the
        quantile lies outside it exactly when p <= alpha (up to ties in the scores, and to
        rounding with `sizes`).
    """
    n, m = window.size, reference_sorted.size
    n_eff, m_eff = sizes if sizes is not None else (n, m)
    n_eff, m_eff = max(1, min(n_eff, n)), max(1, min(m_eff, m))
    observed_k = max(1, math.ceil(q * n))
    observed = float(np.partition(window, observed_k - 1)[observed_k - 1])
    k = max(1, math.ceil(q * n_eff))
    at_most, at_least = _tails(m_eff, k, n_eff - k + 1)
    low_d, high_d = _band(at_most, at_least, alpha)
    scale = m / m_eff
    # D >= low_d means the quantile is at least the reference's low_d-th value, and so on.
    low = float(reference_sorted[math.ceil(low_d * scale) - 1]) if low_d >= 1 else -math.inf
    high = (float(reference_sorted[min(m - 1, round((high_d + 1) * scale) - 1)])
            if high_d < m_eff else math.inf)  # fmt: skip
    d = min(m_eff, round(int(np.searchsorted(reference_sorted, observed, side="right")) / scale))
    p = float(min(1.0, 2 * min(at_most[d], at_least[d])))
    return observed, p, low, high


# ---------------------------------------------------------------------------------------------
# PR-AUC with a bootstrap interval


def average_precision_draws(
    y: np.ndarray, scores: np.ndarray, resamples: int, seed: int
) -> np.ndarray:
    """PR-AUC (average precision, as scikit-learn computes it) of `resamples` stratified
    bootstrap resamples of (y, scores): fraud and legitimate rows are resampled separately, so
    each resample keeps the sample's number of each.

    Written out rather than calling `sklearn.metrics.average_precision_score` per resample
    (about 1 ms each; seconds per window at thousands of resamples): AP only depends on how many
    legitimate rows score at or above each fraud row's score, so a resample is a multinomial
    draw of the fraud rows plus one of the legitimate rows over the bins between consecutive
    fraud scores, and costs the number of fraud rows, not of all rows. It is exact, and equals
    scikit-learn's value on any sample (tests/unit/monitoring/test_detection.py).
    """
    y, scores = np.asarray(y, int), np.asarray(scores, float)
    fraud_scores = np.sort(scores[y == 1])[::-1]
    legit_scores = np.sort(scores[y == 0])
    if fraud_scores.size == 0:
        raise MonitoringError("PR-AUC needs at least one fraud label")
    levels, fraud_at_level = np.unique(-fraud_scores, return_inverse=True)  # descending scores
    # Legitimate rows at or above each level, then per bin (the last bin: below every level).
    above = legit_scores.size - np.searchsorted(legit_scores, -levels, side="left")
    bins = np.diff(above, prepend=0)
    bins = np.append(bins, legit_scores.size - above[-1])
    rng = np.random.default_rng(seed)
    fraud_draws = rng.multinomial(fraud_scores.size, np.full(fraud_scores.size,
                                  1 / fraud_scores.size), size=resamples)  # fmt: skip
    gained = np.zeros((resamples, levels.size))
    np.add.at(gained.T, fraud_at_level, fraud_draws.T)
    legit_draws: np.ndarray = np.zeros((resamples, levels.size))
    if legit_scores.size:
        legit_draws = rng.multinomial(legit_scores.size, bins / legit_scores.size,
                                      size=resamples)[:, :-1]  # fmt: skip
    caught = np.cumsum(gained, axis=1)
    flagged = caught + np.cumsum(legit_draws, axis=1)
    precision = np.divide(caught, flagged, out=np.zeros_like(caught), where=flagged > 0)
    draws: np.ndarray = (gained * precision).sum(axis=1) / fraud_scores.size
    return draws


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """PR-AUC of the sample itself (each row counted once), as `average_precision_draws`."""
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    y, ordered = np.asarray(y, int)[order], np.asarray(scores, float)[order]
    level_end = np.r_[ordered[1:] != ordered[:-1], True]
    caught, flagged = np.cumsum(y)[level_end], np.arange(1, y.size + 1)[level_end]
    gained = np.diff(caught, prepend=0)
    return float((gained * caught / flagged).sum() / max(1, int(y.sum())))


# ---------------------------------------------------------------------------------------------
# The reference, prepared once


@dataclass
class Reference:
    """What every window is compared with, computed once from the reference frame."""

    numeric: dict[str, np.ndarray]  # non-null values, sorted
    categories: dict[str, pd.Series]  # value -> count
    unused: list[str]  # model inputs the reference never filled
    per_card: list[str]  # the inputs looked up per card (all inputs are tested per card)
    cards: int  # distinct cards in the reference (its rows when it does not say)
    scores: np.ndarray  # sorted
    threshold: float
    declined: int
    segments: dict[str, tuple[int, int, float]]  # "column=value" -> (rows, declined, card size)
    cluster_size: float  # rows per card, size-weighted (`cluster_size`)
    # Within-card correlation of the decline indicator and of each quantile's "at or below"
    # indicator ("decline_rate", "score_quantile:0.99"): the window's design effects.
    rho: dict[str, float]
    labels: np.ndarray | None
    label_scores: np.ndarray | None
    _pr_auc_draws: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls, frame: pd.DataFrame, columns: Sequence[str], threshold: float,
        per_card: Sequence[str] = (),
    ) -> Reference:  # fmt: skip
        """`frame` holds the model inputs `columns`, `prediction` and (optionally) `is_fraud`
        and `customer_id`; `per_card` names the inputs looked up per card (the feature
        store's)."""
        scores = pd.to_numeric(frame[PREDICTION], errors="coerce").to_numpy(float)
        if scores.size == 0 or not np.isfinite(scores).all():
            raise MonitoringError("the reference's predictions must be a non-empty set of "
                                  "finite numbers")  # fmt: skip
        unused = [c for c in columns if frame[c].isna().all()]
        numeric, categories = {}, {}
        for column in (c for c in columns if c not in unused):
            if column in CATEGORY_TESTED:
                categories[column] = as_category(frame[column]).value_counts()
            else:
                values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(float)
                numeric[column] = np.sort(values)
        declined = scores >= threshold
        codes = card_codes(frame)
        segments = _segments(frame, declined, codes)
        rho = {"decline_rate": intraclass_correlation(declined, codes, RHO_UPPER)}
        for q in QUANTILES:
            at_most = scores <= np.quantile(scores, q, method="inverted_cdf")
            rho[f"score_quantile:{q:g}"] = intraclass_correlation(at_most, codes, RHO_UPPER)
        labels = label_scores = None
        if LABEL in frame:
            known = frame[LABEL].notna().to_numpy()
            labels = frame[LABEL].to_numpy()[known].astype(int)
            label_scores = scores[known]
        cards = _cards(frame)
        return cls(numeric, categories, unused, [c for c in per_card if c in numeric], cards,
                   np.sort(scores), threshold, int(declined.sum()), segments,
                   cluster_size(codes), rho, labels, label_scores)  # fmt: skip

    def pr_auc_draws(self, resamples: int, seed: int) -> np.ndarray:
        key = (resamples, seed)
        if key not in self._pr_auc_draws:
            if self.labels is None or self.label_scores is None:
                raise MonitoringError("the reference holds no labels to compare PR-AUC with")
            self._pr_auc_draws[key] = average_precision_draws(
                self.labels, self.label_scores, resamples, seed
            )
        return self._pr_auc_draws[key]


def as_category(values: pd.Series) -> pd.Series:
    """Non-null values as category labels: text as it is, a flag (bool or 0/1) as "0"/"1", so
    the log's JSON and the reference's parquet spell one value alike."""
    values = values.dropna()
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype(float).astype(int).astype(str)
    return values.astype(str)


def _segment_masks(column: pd.Series) -> list[tuple[str, np.ndarray]]:
    labels = as_category(column).reindex(column.index)
    values = labels.to_numpy(dtype=object)
    return [(v, values == v) for v in sorted(set(labels.dropna()))]


# ---------------------------------------------------------------------------------------------
# Judging a window


@dataclass(frozen=True)
class CheckLimits:
    """The knobs of `judge` (MonitorSettings carries them in the job)."""

    family_alpha: float = 0.01
    min_segment_rows: int = 200
    min_fraud_labels: int = 10
    max_pr_auc_drop: float = 0.1
    resamples: int = 5_000
    seed: int = 0


def judge(
    reference: Reference, window: pd.DataFrame, columns: Sequence[str], limits: CheckLimits,
) -> Judgement:  # fmt: skip
    """Every check of `window` (model inputs, `prediction`, and `is_fraud` where the label has
    matured, NaN where not) against `reference`, at the levels `allocate_alpha` gives."""
    scores = pd.to_numeric(window[PREDICTION], errors="coerce").to_numpy(float)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise MonitoringError("the window's predictions must be a non-empty set of finite "
                              "numbers")  # fmt: skip
    compared = [c for c in columns if c not in reference.unused]
    codes = card_codes(window)
    segment_rows = _segments(window, scores >= reference.threshold, codes)
    cards, size = _cards(window), cluster_size(codes)
    runnable = [s for s, (rows, _, _) in segment_rows.items()
                if rows >= limits.min_segment_rows and s in reference.segments
                and reference.segments[s][0] >= limits.min_segment_rows]  # fmt: skip
    labels = _matured_labels(window, scores)
    quality_runs = labels is not None and reference.labels is not None and (
        int(labels[0].sum()) >= limits.min_fraud_labels
        and int(labels[0].size - labels[0].sum()) >= limits.min_fraud_labels
        and int(reference.labels.sum()) >= limits.min_fraud_labels
    )  # fmt: skip
    tests: dict[Family, int] = {
        "feature_drift": len(compared), "prediction_drift": 1, "decline_rate": 1,
        "score_quantile": len(QUANTILES), "segment": len(runnable), "quality": int(quality_runs),
    }  # fmt: skip
    alphas = allocate_alpha(limits.family_alpha, tests)
    checks = [_feature_check(reference, window, c, alphas["feature_drift"]) for c in compared]
    checks.append(_ks("prediction_drift", PREDICTION, reference.scores, scores,
                      alphas["prediction_drift"], sizes=(reference.cards, cards)))  # fmt: skip
    rows, declined = scores.size, int((scores >= reference.threshold).sum())
    decline_rho = reference.rho["decline_rate"]  # the overall and the segments' declines
    checks.append(
        _rate_check(
            "decline_rate",
            "decline_rate",
            declined,
            rows,
            reference.declined,
            reference.scores.size,
            alphas["decline_rate"],
            (design_effect(decline_rho, size), design_effect(decline_rho, reference.cluster_size)),
        )
    )
    for q in QUANTILES:
        quantile_rho = reference.rho[f"score_quantile:{q:g}"]
        effective = (
            round(rows / design_effect(quantile_rho, size)),
            round(reference.scores.size / design_effect(quantile_rho, reference.cluster_size)),
        )
        observed, p, low, high = quantile_test(scores, reference.scores, q,
                                               alphas["score_quantile"],
                                               sizes=effective)  # fmt: skip
        checks.append(
            Check(
                "score_quantile",
                f"score_quantile:{q:g}",
                _status(p, alphas["score_quantile"]),
                alphas["score_quantile"],
                p,
                method="beta-binomial order statistic (design effect)",
                rows=rows,
                observed=observed,
                lower_limit=low,
                upper_limit=high,
            )
        )
    for segment, (seg_rows, seg_declined, seg_size) in sorted(segment_rows.items()):
        if segment in runnable:
            ref_rows, ref_declined, ref_size = reference.segments[segment]
            checks.append(
                _rate_check(
                    "segment",
                    segment,
                    seg_declined,
                    seg_rows,
                    ref_declined,
                    ref_rows,
                    alphas["segment"],
                    (design_effect(decline_rho, seg_size), design_effect(decline_rho, ref_size)),
                )
            )
        else:
            ref_rows = reference.segments.get(segment, (0, 0, 0))[0]
            checks.append(
                Check(
                    "segment",
                    segment,
                    "skipped",
                    0.0,
                    rows=seg_rows,
                    detail=f"{seg_rows} window rows and {ref_rows} reference rows;"
                    f" at least {limits.min_segment_rows} of each needed",
                )
            )
    checks.append(_quality_check(reference, labels, limits, alphas.get("quality", 0.0)))
    return Judgement(checks, {str(k): v for k, v in alphas.items()}, limits.family_alpha)


def _segments(
    frame: pd.DataFrame, declined: np.ndarray, codes: np.ndarray | None
) -> dict[str, tuple[int, int, float]]:
    return {
        f"{column}={value}": (int(mask.sum()), int(declined[mask].sum()),
                              cluster_size(None if codes is None else codes[mask]))
        for column in SEGMENT_COLUMNS if column in frame
        for value, mask in _segment_masks(frame[column])
    }  # fmt: skip


def _cards(rows: pd.DataFrame) -> int:
    """Distinct cards among the rows, or the rows when the frame names no cards."""
    if CARD in rows and rows[CARD].notna().any():
        return int(rows[CARD].nunique())
    return len(rows)


def _matured_labels(
    window: pd.DataFrame, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    if LABEL not in window:
        return None
    known = pd.to_numeric(window[LABEL], errors="coerce").notna().to_numpy()
    if not known.any():
        return None
    return window[LABEL].to_numpy()[known].astype(int), scores[known]


def _status(p: float, alpha: float) -> CheckStatus:
    return "fail" if p <= alpha else "pass"


def _feature_check(reference: Reference, window: pd.DataFrame, column: str, alpha: float) -> Check:
    if column in reference.categories:
        values = as_category(window[column])
        if values.empty:
            return Check("feature_drift", column, "fail", alpha, 0.0, method="no values in the "
                         "log", detail="the reference has values, the window none")  # fmt: skip
        counts = pd.concat([reference.categories[column], values.value_counts()], axis=1)
        table = counts.fillna(0).to_numpy().T
        # Effective sizes: counts scaled by cards / rows (see `_ks`).
        window_cards = _cards(window.loc[window[column].notna()])
        table = table * np.array([[reference.cards / reference.scores.size],
                                  [window_cards / max(1, len(values))]])  # fmt: skip
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return Check("feature_drift", column, "pass", alpha, 1.0, 0.0, "chi-squared",
                         rows=len(values))  # fmt: skip
        result = stats.chi2_contingency(table, correction=False)
        p = float(result.pvalue)
        return Check("feature_drift", column, _status(p, alpha), alpha, p,
                     float(result.statistic), "chi-squared (per card)",
                     rows=len(values))  # fmt: skip
    values = pd.to_numeric(window[column], errors="coerce").dropna().to_numpy(float)
    if values.size == 0:
        return Check("feature_drift", column, "fail", alpha, 0.0, method="no values in the log",
                     detail="the reference has values, the window none")  # fmt: skip
    if CARD in window and window[CARD].notna().any():
        cards = int(window.loc[window[column].notna(), CARD].nunique())
        return _ks("feature_drift", column, reference.numeric[column], values, alpha,
                   sizes=(reference.cards, cards))  # fmt: skip
    return _ks("feature_drift", column, reference.numeric[column], values, alpha)


def _ks(
    family: Family, name: str, reference: np.ndarray, window: np.ndarray, alpha: float,
    sizes: tuple[int, int] | None = None,
) -> Check:  # fmt: skip
    """Two-sample K-S. With `sizes` (cards in the reference and in the window) the statistic
    is the rows' but its p-value takes the cards as the sample sizes: a card that transacts
    five times in a day repeats its history five times, and counting those rows as five
    independent draws made K-S fire on one undrifted window in five (bench/
    monitor_detection.py). A design-effect correction; for a feature that repeats exactly per
    card it is the K-S test of the cards."""
    result = stats.ks_2samp(reference, window, method="asymp")
    statistic, p = float(result.statistic), float(result.pvalue)
    method = "Kolmogorov-Smirnov"
    if sizes is not None:
        m, n = sizes
        p = float(stats.kstwo.sf(statistic, max(1, round(m * n / (m + n))))) if m and n else 1.0
        method = "Kolmogorov-Smirnov (per card)"
    return Check(family, name, _status(p, alpha), alpha, p, statistic, method,
                 rows=int(window.size))  # fmt: skip


def _rate_check(
    family: Family, name: str, count: int, rows: int, ref_count: int, ref_rows: int,
    alpha: float, design_effects: tuple[float, float] = (1.0, 1.0),
) -> Check:  # fmt: skip
    """A rate test on effective sizes: rows and counts of the window and of the reference
    divided by their design effects. Declines cluster by card (a fraud burst, a customer whose
    habits look risky), and rows counted as independent made the 0.15 % decline test fire on
    2 % of undrifted windows (bench/monitor_detection.py)."""
    window_effect, reference_effect = design_effects
    method = "beta-binomial rate (design effect)" if design_effects != (1.0, 1.0) else (
        "beta-binomial rate")  # fmt: skip
    effective = max(1, round(rows / window_effect)), max(1, round(ref_rows / reference_effect))
    test = (min(effective[0], round(count / window_effect)), effective[0],
            min(effective[1], round(ref_count / reference_effect)), effective[1])  # fmt: skip
    p, low, high = rate_test(*test, alpha)
    return Check(family, name, _status(p, alpha), alpha, p, method=method,
                 rows=rows, observed=count / rows, lower_limit=low, upper_limit=high,
                 detail=f"reference {ref_count}/{ref_rows}")  # fmt: skip


def _quality_check(
    reference: Reference, labels: tuple[np.ndarray, np.ndarray] | None, limits: CheckLimits,
    alpha: float,
) -> Check:  # fmt: skip
    if labels is None:
        return Check("quality", "pr_auc", "skipped", 0.0, detail="no matured labels")
    y, scores = labels
    fraud, legit = int(y.sum()), int(y.size - y.sum())
    ref_fraud = 0 if reference.labels is None else int(reference.labels.sum())
    if alpha == 0.0:
        return Check("quality", "pr_auc", "skipped", 0.0, rows=int(y.size), detail=(
            f"{fraud} fraud and {legit} legitimate matured labels (reference {ref_fraud} fraud);"
            f" at least {limits.min_fraud_labels} of each needed"))  # fmt: skip
    assert reference.labels is not None and reference.label_scores is not None
    window_ap = average_precision(y, scores)
    reference_ap = average_precision(reference.labels, reference.label_scores)
    drop = reference.pr_auc_draws(limits.resamples, limits.seed) - average_precision_draws(
        y, scores, limits.resamples, limits.seed + 1
    )
    lower = float(np.quantile(drop, alpha))  # one-sided (1 - alpha) lower bound of the drop
    p = float((np.sum(drop <= limits.max_pr_auc_drop) + 1) / (drop.size + 1))
    return Check("quality", "pr_auc", "fail" if lower > limits.max_pr_auc_drop else "pass",
                 alpha, p, lower, "stratified bootstrap", rows=int(y.size),
                 observed=window_ap, lower_limit=reference_ap - limits.max_pr_auc_drop,
                 detail=f"PR-AUC drop {reference_ap - window_ap:.3f}, lower bound {lower:.3f} "
                 f"at {1 - alpha:.4%} confidence; reference {reference_ap:.3f}; {fraud} fraud "
                 "labels")  # fmt: skip


def whole_days(reference: pd.DataFrame, timestamp: str = "event_timestamp") -> pd.DataFrame:
    """The reference without its first calendar day (UTC) when that day is only partly in it.

    The pipeline keeps the holdout's newest rows (`training.steps.REFERENCE_ROWS`), which can
    start somewhere in a day: a first day's evening hours alone skew `hour_of_day` against any
    window of whole days (`window_hours` 72), so the window is compared with whole days.
    """
    if timestamp not in reference or reference.empty:
        return reference
    at = pd.to_datetime(reference[timestamp], utc=True)
    day = at.dt.floor("D")
    first = day.min()
    if day.nunique() < 2 or at.min() - first < pd.Timedelta(hours=1):
        return reference
    return reference[(day > first).to_numpy()]


def matured(labels: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """Labels known by `end`: `label_available_at` at or before it. Without that column (or
    with it empty for a row) a label is taken as known, as the labels file holds it."""
    if LABEL_AVAILABLE_AT not in labels:
        return labels
    at = pd.to_datetime(labels[LABEL_AVAILABLE_AT], utc=True, errors="coerce")
    return labels[at.isna() | (at <= pd.Timestamp(end))]
