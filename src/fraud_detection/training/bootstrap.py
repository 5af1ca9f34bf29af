"""Customer-clustered bootstrap of holdout metrics, paired across two models.

Why clustered: one customer's transactions are not independent evidence. A compromised card
produces a burst of fraud rows, and a model that misjudges a customer misjudges most of that
customer's rows, so resampling rows would count one burst as many independent cases and draw an
interval that is too narrow. Each resample therefore draws as many customers as the holdout
holds, with replacement, and keeps every row of each drawn customer (as often as it was drawn).

Why paired: both models are scored on the *same* resample, and the difference is taken per
resample. Their errors are strongly correlated (same rows, mostly the same hard cases), so the
difference varies far less than either metric does alone.

Why hand-vectorised: scikit-learn's metrics take one sample at a time; 1,000 resamples of
~80,000 rows for two models would be 4,000 sorts and curve builds (about a minute). A resample
is a vector of draw counts, one per customer, so each model's curve is built once and every
resample's true and false positives at every threshold are a sparse matrix product (draw counts
x per-customer row counts between thresholds), about O(rows x resamples) in all.
`scipy.stats.bootstrap` is not used: it resamples observations of one array, gives one interval
per call, and its BCa interval needs one jackknife evaluation per customer; here one set of
draws serves several metrics, both models and the operating point, all on the same resamples.

Both curve metrics equal scikit-learn's on the resampled rows (`average_precision_score`, and
the best recall within the FPR budget on `roc_curve(..., drop_intermediate=False)`), ties
included: they change only at the thresholds (distinct scores) that hold a fraud row, so only
those are kept.

Intervals are percentile intervals, two-sided at the stated confidence; each end is also a
one-sided bound at (1 + confidence) / 2. A resample on which a metric is undefined (no fraud,
or no legitimate row, drawn) counts as the worst case (-inf for a quantity wanted high, +inf
for one wanted low), so it can only move the bound a check reads against the candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Draw counts held at once (resamples x customers): bounds memory to about 8 bytes x this.
_MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class Curves:
    """Weighted counts at each kept threshold (distinct score holding a fraud row, in
    descending order), one row per resample.

    Attributes:
        true_positives: (resamples, K): fraud rows scoring at or above each kept threshold.
        false_positives: (resamples, K): legitimate rows scoring at or above it.
        positives: (resamples,): fraud rows in the resample.
        negatives: (resamples,): legitimate rows in the resample.
    """

    true_positives: np.ndarray
    false_positives: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray


# A metric over resampled curves: one value per resample, NaN where undefined.
CurveMetric = Callable[[Curves], np.ndarray]


def pr_auc(curves: Curves) -> np.ndarray:
    """Average precision: the precision at each kept threshold weighted by the recall it adds
    (as `sklearn.metrics.average_precision_score`)."""
    tp, fp = curves.true_positives, curves.false_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        flagged = tp + fp
        precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
        gained = np.diff(tp, axis=1, prepend=0.0)
        values = (gained * precision).sum(axis=1) / curves.positives
    return np.where(_undefined(curves), np.nan, values)


def recall_at_fpr(target_fpr: float) -> CurveMetric:
    """The metric "best recall with a false-positive rate within `target_fpr`" (as
    `training.evaluate`: the highest `roc_curve` recall whose FPR is at most the budget)."""

    def metric(curves: Curves) -> np.ndarray:
        tp, fp = curves.true_positives, curves.false_positives
        with np.errstate(invalid="ignore", divide="ignore"):
            # fp grows along the curve, so the kept thresholds within budget are a prefix; a
            # threshold between kept points has the recall of the kept point above it.
            within = (fp / curves.negatives[:, None] <= target_fpr).sum(axis=1)
            if tp.shape[1]:
                last = np.maximum(within - 1, 0)[:, None]
                reached = np.take_along_axis(tp, last, axis=1)[:, 0]
            else:
                reached = np.zeros(len(within))
            values = np.where(within > 0, reached, 0.0) / curves.positives
        return np.where(_undefined(curves), np.nan, values)

    return metric


def _undefined(curves: Curves) -> np.ndarray:
    undefined: np.ndarray = (curves.positives == 0) | (curves.negatives == 0)
    return undefined


@dataclass(frozen=True)
class Resampled:
    """A statistic on the holdout as it is, and its value on each bootstrap resample.

    Attributes:
        estimate: The value on the holdout (every customer once).
        draws: One value per resample; NaN where the statistic is undefined on it.
    """

    estimate: float
    draws: np.ndarray

    @property
    def undefined(self) -> int:
        """Resamples on which the statistic is undefined."""
        return int(np.isnan(self.draws).sum())

    def interval(self, confidence: float, higher_is_better: bool = True) -> tuple[float, float]:
        """The two-sided percentile interval at `confidence`.

        Each end is an order statistic (no interpolation), taken outwards; undefined resamples
        count as the worst case, -inf when higher is better and +inf otherwise, so the end a
        check reads (the lower one, or the upper one) is unbounded when too many are undefined.
        """
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
        worst = -np.inf if higher_is_better else np.inf
        values = np.where(np.isnan(self.draws), worst, self.draws)
        tail = (1 - confidence) / 2
        low = float(np.quantile(values, tail, method="lower"))
        high = float(np.quantile(values, 1 - tail, method="higher"))
        return low, high

    def scaled(self, factor: float) -> Resampled:
        """The statistic times `factor` (e.g. a count over the holdout made a daily rate)."""
        return Resampled(self.estimate * factor, self.draws * factor)


def cluster_index(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's cluster numbered 0 .. n-1 (in sorted order of the ids), and n."""
    ids, index = np.unique(np.asarray(clusters), return_inverse=True)
    return index.ravel(), len(ids)


def resample_counts(n_clusters: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Draw counts of the bootstrap's resamples, in chunks of (resamples, n_clusters).

    Each resample draws `n_clusters` clusters uniformly with replacement; its row holds how
    often each cluster was drawn. The same `(n_clusters, resamples, seed)` always yields the
    same draws, so every statistic of one holdout sees the same resamples.
    """
    if resamples < 1 or n_clusters < 1:
        raise ValueError(
            f"need at least one resample and one cluster, not {resamples}, {n_clusters}"
        )
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS // n_clusters)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, n_clusters, size=(size, n_clusters))
        flat = (drawn + (np.arange(size) * n_clusters)[:, None]).ravel()
        counts = np.bincount(flat, minlength=size * n_clusters)
        yield counts.reshape(size, n_clusters).astype(np.float64)


def paired_differences(
    labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, clusters: np.ndarray,
    metrics: Mapping[str, CurveMetric], resamples: int = 1_000, seed: int = 0,
) -> dict[str, Resampled]:  # fmt: skip
    """Model A minus model B on each metric, over cluster bootstrap resamples of one holdout.

    Args:
        labels: 1 for fraud, 0 otherwise, per row.
        scores_a: Model A's score per row (the candidate).
        scores_b: Model B's score per row, the same rows in the same order (the champion).
        clusters: Each row's cluster id (the customer; `np.arange(n)` for a row bootstrap).
        metrics: Name to curve metric, e.g. `{"pr_auc": pr_auc}`.
        resamples: How many resamples.
        seed: Seeds the draws (`resample_counts`).

    Returns:
        For each metric, A - B on the holdout as it is and on each resample.
    """
    labels = np.asarray(labels)
    _check_rows(labels, scores_a, scores_b, clusters)
    cluster, n_clusters = cluster_index(clusters)
    a, b = (_Weighted(labels, scores, cluster, n_clusters) for scores in (scores_a, scores_b))

    def differences(draws: np.ndarray) -> dict[str, np.ndarray]:
        ours, theirs = a.curves(draws), b.curves(draws)
        return {name: metric(ours) - metric(theirs) for name, metric in metrics.items()}

    return _resampled(differences, n_clusters, resamples, seed)


def clustered_metric(
    labels: np.ndarray, scores: np.ndarray, clusters: np.ndarray, metric: CurveMetric,
    resamples: int = 1_000, seed: int = 0,
) -> Resampled:  # fmt: skip
    """One model's `metric` on the holdout as it is and on each cluster bootstrap resample
    (the draws `paired_differences` makes for the same arguments)."""
    labels = np.asarray(labels)
    _check_rows(labels, scores, clusters)
    cluster, n_clusters = cluster_index(clusters)
    weighted = _Weighted(labels, scores, cluster, n_clusters)
    found = _resampled(
        lambda draws: {"metric": metric(weighted.curves(draws))}, n_clusters, resamples, seed
    )
    return found["metric"]


def weighted_metric(
    labels: np.ndarray, scores: np.ndarray, clusters: np.ndarray, draws: np.ndarray,
    metric: CurveMetric,
) -> np.ndarray:  # fmt: skip
    """A curve metric on the rows of each cluster repeated as often as `draws` says.

    Args:
        clusters: Each row's cluster id; `draws` columns follow `cluster_index` order.
        draws: (resamples, n_clusters) counts; a row of ones is the holdout as it is.

    Returns:
        One value per row of `draws`.
    """
    labels = np.asarray(labels)
    _check_rows(labels, scores, clusters)
    cluster, n_clusters = cluster_index(clusters)
    return metric(_Weighted(labels, scores, cluster, n_clusters).curves(draws))


def ratio_of_sums(
    numerator: np.ndarray, denominator: np.ndarray | None, clusters: np.ndarray,
    resamples: int = 1_000, seed: int = 0,
) -> Resampled:  # fmt: skip
    """sum(numerator) / sum(denominator) over cluster bootstrap resamples, or sum(numerator)
    alone when `denominator` is None.

    For a rate at a fixed threshold: the false-positive rate is flagged legitimate rows over
    legitimate rows; the alert volume is the flagged rows' sum (divided by the days afterwards,
    `Resampled.scaled`). NaN where the denominator's sum is zero. The same `clusters`,
    `resamples` and `seed` as `paired_differences` draw the same resamples.
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    _check_rows(numerator, clusters, *([] if denominator is None else [denominator]))
    cluster, n_clusters = cluster_index(clusters)
    top = np.bincount(cluster, weights=numerator, minlength=n_clusters)
    bottom = (
        None
        if denominator is None
        else np.bincount(cluster, weights=np.asarray(denominator, float), minlength=n_clusters)
    )

    def ratio(draws: np.ndarray) -> dict[str, np.ndarray]:
        over = draws @ top
        if bottom is None:
            return {"value": over}
        under = draws @ bottom
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"value": np.where(under != 0, over / np.where(under != 0, under, 1), np.nan)}

    return _resampled(ratio, n_clusters, resamples, seed)["value"]


class _Weighted:
    """One model's curve, ready to be weighted by cluster draw counts.

    For each cluster, how many of its fraud and of its legitimate rows fall into each band
    between consecutive kept thresholds (sparse: at most one entry per row); a resample's
    counts at the kept thresholds are then a sparse matrix product and a cumulative sum.
    """

    def __init__(
        self, labels: np.ndarray, scores: np.ndarray, cluster: np.ndarray, n_clusters: int
    ) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        ordered, fraud, cluster = scores[order], labels[order] == 1, cluster[order]
        # Which run of tied scores each row belongs to, counted from the top.
        run = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
        kept = np.unique(run[fraud])
        # The first kept threshold at or below each row's score (len(kept): below them all).
        band = np.searchsorted(kept, run)
        self._kept = len(kept)
        self._fraud = self._bands(cluster[fraud], band[fraud], n_clusters)
        self._legit = self._bands(cluster[~fraud], band[~fraud], n_clusters)
        self._positives = np.bincount(cluster[fraud], minlength=n_clusters).astype(np.float64)
        self._negatives = np.bincount(cluster[~fraud], minlength=n_clusters).astype(np.float64)

    def _bands(self, cluster: np.ndarray, band: np.ndarray, n_clusters: int) -> sparse.csr_array:
        inside = band < self._kept  # rows below every kept threshold are never counted
        ones = np.ones(int(inside.sum()))
        shape = (n_clusters, self._kept)
        # Duplicate (cluster, band) entries are summed by the conversion to CSR.
        return sparse.coo_array((ones, (cluster[inside], band[inside])), shape=shape).tocsr()

    def curves(self, draws: np.ndarray) -> Curves:
        """Each resample's counts at the kept thresholds (`draws`: resamples x clusters)."""
        draws = np.asarray(draws, dtype=np.float64)
        tp = np.cumsum(np.asarray(self._fraud.T @ draws.T).T, axis=1)
        fp = np.cumsum(np.asarray(self._legit.T @ draws.T).T, axis=1)
        return Curves(tp, fp, draws @ self._positives, draws @ self._negatives)


def _resampled(
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]], n_clusters: int, resamples: int,
    seed: int,
) -> dict[str, Resampled]:  # fmt: skip
    """`statistic` (draw counts -> named values per resample) on the holdout as it is and on
    each resample."""
    whole = statistic(np.ones((1, n_clusters)))
    parts = [statistic(draws) for draws in resample_counts(n_clusters, resamples, seed)]
    return {
        name: Resampled(float(whole[name][0]), np.concatenate([p[name] for p in parts]))
        for name in whole
    }


def _check_rows(reference: np.ndarray, *columns: np.ndarray) -> None:
    for column in columns:
        if len(column) != len(reference):
            raise ValueError(
                f"one value per row needed: {len(column)} values for {len(reference)} rows"
            )
