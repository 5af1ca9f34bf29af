"""When each label becomes known: chargebacks arrive weeks after the fraud, and a transaction
is only known to be legitimate once the time for a chargeback has run out.

`add_label_arrival` gives every generated transaction a `label_available_at`:

    fraud        the chargeback's arrival. A card's burst of fraud is disputed at once (fraud
                 rows of one card less than `DISPUTE_GAP` apart form one dispute), so the whole
                 burst shares one delay, counted from its last transaction. The delay is
                 lognormal (median `fraud_delay_median_days`, log-spread `fraud_delay_sigma`),
                 truncated so that every row of the dispute is reported within
                 `maturity_days`: the maturity period doubles as the chargeback deadline,
                 after which card networks refuse a dispute.
    legitimate   event time + `maturity_days`: no chargeback by then means legitimate.

So a row older than `maturity_days` always carries its final label, and the label a pipeline
knows at a cutoff is simply `is_fraud` of the rows whose `label_available_at` has passed
(`labels_known_at`); younger rows are unknown, fraud and legitimate alike.

Why truncate rather than let late chargebacks flip a matured "legitimate" to fraud: a flip
needs a second label column (the label as known at each time), which every reader would have
to pick correctly; a deadline keeps one label and one arrival time, which is what monitoring
and training both read. The lognormal's log is a normal truncated above, drawn with
`scipy.stats.truncnorm`.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from fraud_detection.config import LabelSettings
from fraud_detection.data.contract import LABEL, LABEL_AVAILABLE_AT
from fraud_detection.errors import DataError

# Fraud rows of one card closer than this belong to one dispute (bursts last minutes to hours).
DISPUTE_GAP = pd.Timedelta(days=1)
# Keeps the delays' random stream apart from the generator's, whatever the generator draws.
_STREAM = 0x1ABE1


def add_label_arrival(
    transactions: pd.DataFrame, settings: LabelSettings, seed: int
) -> pd.DataFrame:
    """`transactions` with a `label_available_at` column: when each row's label is known.

    Pure and deterministic: the same rows (in the same order), settings and seed give the same
    times. Every time lies within `[event_timestamp, event_timestamp + maturity_days]`.

    Args:
        transactions: Generated transactions (`customer_id`, `event_timestamp`, `is_fraud`).
        settings: The delay distribution and the maturity period.
        seed: Seeds the delays (the data seed; the stream is kept apart from the generator's).

    Returns:
        A copy with `label_available_at` (UTC) added after `is_fraud`.
    """
    missing = [c for c in ("customer_id", "event_timestamp", LABEL) if c not in transactions]
    if missing:
        raise DataError(f"cannot time the labels of transactions without {', '.join(missing)}")
    # Naive UTC nanoseconds: plain numpy arithmetic, whatever unit the input carries.
    events = (
        pd.to_datetime(transactions["event_timestamp"], utc=True)
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[ns]")
    )
    deadline = events + np.timedelta64(round(settings.maturity_days * 86_400), "s")
    available = deadline.copy()
    fraud = transactions[LABEL].to_numpy() == 1
    if fraud.any():
        dispute, last, span = _disputes(
            transactions["customer_id"].to_numpy()[fraud], events[fraud]
        )
        delay_days = _delays(settings, span / np.timedelta64(1, "D"), seed)
        delay = np.round(delay_days * 86_400).astype("int64").astype("timedelta64[s]")
        # Rounding to seconds must not carry a row past its deadline.
        available[fraud] = np.minimum(last[dispute] + delay[dispute], deadline[fraud])
    out = transactions.copy()
    position = out.columns.get_loc(LABEL) + 1 if LABEL in out.columns else len(out.columns)
    stamps = pd.DatetimeIndex(available).tz_localize("UTC")
    out.insert(int(position), LABEL_AVAILABLE_AT, stamps)
    return out


def labels_known_at(frame: pd.DataFrame, cutoff: datetime | pd.Timestamp) -> np.ndarray:
    """Which rows' labels are known at `cutoff` (all of them for data without arrival times).

    A known label is final: a fraud reported by then, or a transaction older than the maturity
    period without a chargeback. Unknown rows are dropped by training, not counted as
    legitimate: a fraud not yet reported must not become a negative example.
    """
    if LABEL_AVAILABLE_AT not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    arrived = pd.to_datetime(frame[LABEL_AVAILABLE_AT], utc=True) <= _utc(cutoff)
    return np.asarray(arrived.to_numpy(), dtype=bool)


def _utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _disputes(
    customers: np.ndarray, events: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group fraud rows into disputes: a card's fraud rows less than `DISPUTE_GAP` apart.

    Returns:
        For each fraud row, the index of its dispute; for each dispute, the time of its last
        transaction (datetime64) and its span, first to last (timedelta64).
    """
    order = np.lexsort((events, customers))
    card, at = customers[order], events[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (card[1:] != card[:-1]) | (at[1:] - at[:-1] > DISPUTE_GAP.to_timedelta64())
    number = np.cumsum(starts) - 1
    dispute = np.empty(len(order), dtype=np.int64)
    dispute[order] = number
    first = at[starts]
    last = at[np.r_[np.flatnonzero(starts)[1:] - 1, len(order) - 1]]
    return dispute, last, last - first


def _delays(settings: LabelSettings, span_days: np.ndarray, seed: int) -> np.ndarray:
    """One chargeback delay (days) per dispute, lognormal truncated so that the dispute's first
    row is reported within the maturity period."""
    room = np.maximum(settings.maturity_days - span_days, 1e-6)
    mu, sigma = np.log(settings.fraud_delay_median_days), settings.fraud_delay_sigma
    upper = (np.log(room) - mu) / sigma  # in standard units of the log-delay
    # Imported here: scipy.stats takes about a second to import, and the pipeline's steps read
    # label arrival times (`labels_known_at`) without ever drawing them.
    from scipy.stats import truncnorm

    rng = np.random.default_rng([seed, _STREAM])
    log_delay = truncnorm.rvs(-np.inf, upper, loc=mu, scale=sigma, random_state=rng)
    return np.asarray(np.exp(np.atleast_1d(log_delay)), dtype=float)
