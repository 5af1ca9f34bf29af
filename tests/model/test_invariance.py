"""Invariance tests of the trained model: what must not change a fraud score.

Each test perturbs something the model must ignore (an identifier, the label column, the order
or the company of a transaction in a batch) and checks that no score moves. The request-level
tests go through `Scorer.score`, the code the BentoML service runs, with an in-memory stand-in
for the online store; the frame-level ones call `FraudModel.score`, what evaluation, the gate
and the monitoring reference call on labelled rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pytest
from trained_model import Trained, one_openmp_thread, train_once

from fraud_detection.data.contract import LABEL
from fraud_detection.data.generate import GeneratedData
from fraud_detection.features.aggregates import customer_profile, customer_transaction_stats
from fraud_detection.serving.online_features import Lookup
from fraud_detection.serving.schemas import MAX_BATCH, Transaction
from fraud_detection.serving.scoring import Scorer

EXACT = 1e-12  # "identical": the same float, or within rounding of the last bits


@pytest.fixture(scope="module", autouse=True)
def trained() -> Iterator[Trained]:
    """The session's model (trained once), scored on one OpenMP thread as in serving."""
    with one_openmp_thread():
        yield train_once()


class MaterializedFeatures:
    """What the online store holds after materialization: each customer's latest feature row."""

    def __init__(self, history: GeneratedData, names: tuple[str, ...]) -> None:
        stats = customer_transaction_stats(history.transactions)
        latest = stats.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        profile = customer_profile(history.customers).set_index("customer_id")
        table = latest.join(profile.drop(columns="event_timestamp"), how="outer")[list(names)]
        self.names = names
        self.values = {
            int(customer): {k: None if pd.isna(v) else float(v) for k, v in row.items()}
            for customer, row in table.iterrows()
        }

    def lookup(self, customer_ids: Sequence[int]) -> Lookup:
        empty = dict.fromkeys(self.names)
        return Lookup([self.values.get(c, empty) for c in customer_ids], degraded=False)


def requests(rows: pd.DataFrame) -> list[Transaction]:
    """The scoring API's validated requests for labelled rows (the label left out)."""
    return [
        Transaction(
            transaction_id=str(row.transaction_id),
            customer_id=int(row.customer_id),
            amount=float(row.amount),
            merchant_category=str(row.merchant_category),
            distance_from_home_km=(
                None if pd.isna(row.distance_from_home_km) else float(row.distance_from_home_km)
            ),
            card_present=bool(row.card_present),
            event_timestamp=pd.Timestamp(row.event_timestamp).to_pydatetime(),
        )
        for row in rows.itertuples()
    ]


@pytest.fixture(scope="module")
def scorer(trained: Trained) -> Scorer:
    """The serving path around the trained model, reading materialized features."""
    features = MaterializedFeatures(trained.history, trained.model.looked_up)
    return Scorer(trained.model, features, "behaviour-test")


@pytest.fixture(scope="module")
def batch(trained: Trained) -> list[Transaction]:
    """A full request (MAX_BATCH rows) of holdout transactions, an eighth of them fraud, so the
    scores span the whole range instead of sitting near zero."""
    holdout = trained.split.holdout
    fraud = holdout[holdout[LABEL] == 1].sample(MAX_BATCH // 8, random_state=1)
    legit = holdout[holdout[LABEL] == 0].sample(MAX_BATCH - len(fraud), random_state=1)
    rows = pd.concat([fraud, legit]).sample(frac=1.0, random_state=2)
    return requests(rows)


def probabilities(scorer: Scorer, transactions: list[Transaction]) -> np.ndarray:
    return np.array([s.fraud_probability for s in scorer.score(transactions)])


def test_the_batch_spans_low_and_high_scores(scorer: Scorer, batch: list[Transaction]) -> None:
    """Pins that the invariance tests below compare scores that differ from row to row.

    Invariances checked on a model or batch whose scores are all alike would pass vacuously:
    here they run from near zero to well above the decision threshold (calibrated scores of
    a world with 0.3 % fraud rarely come near 1), so the batch holds declines and approvals.
    """
    scores = probabilities(scorer, batch)
    threshold = scorer.model.threshold
    assert scores.min() < 0.01 and scores.max() > 3 * threshold, (scores.min(), scores.max())
    assert 0 < (scores >= threshold).sum() < len(scores)


def test_transaction_ids_do_not_change_scores(scorer: Scorer, batch: list[Transaction]) -> None:
    """Pins: the transaction id is a key, not a signal. Shuffled among the rows, replaced by
    new ids, or left out, the same purchases get the same probabilities, and each answer
    carries the id of its own request.

    For a fraud team: a client retrying a request, a replay of yesterday's traffic and a
    backfill under new ids must get the decisions the original got; a model that read the id
    (through a leak into the features) could also memorise ids of known frauds.
    """
    expected = probabilities(scorer, batch)
    order = np.random.default_rng(3).permutation(len(batch))
    variants = {
        "shuffled": [t.model_copy(update={"transaction_id": batch[i].transaction_id})
                     for t, i in zip(batch, order, strict=True)],
        "renamed": [t.model_copy(update={"transaction_id": f"replay-{n:06d}"})
                    for n, t in enumerate(batch)],
        "absent": [t.model_copy(update={"transaction_id": None}) for t in batch],
    }  # fmt: skip
    for name, variant in variants.items():
        scored = scorer.score(variant)
        got = np.array([s.fraud_probability for s in scored])
        np.testing.assert_allclose(got, expected, rtol=0, atol=EXACT, err_msg=name)
        assert [s.transaction_id for s in scored] == [t.transaction_id for t in variant], name


def test_row_order_of_a_request_does_not_change_scores(
    scorer: Scorer, batch: list[Transaction]
) -> None:
    """Pins: scoring a permuted request gives the permuted scores, each still answered under
    its own transaction id.

    For a fraud team: the order of a request is an accident of the client (a queue, a
    thread pool); a decision that moved with it would be irreproducible, and an answer that
    landed on its neighbour's id would block the wrong card.
    """
    expected = probabilities(scorer, batch)
    order = np.random.default_rng(4).permutation(len(batch))
    scored = scorer.score([batch[i] for i in order])
    got = np.array([s.fraud_probability for s in scored])
    np.testing.assert_allclose(got, expected[order], rtol=0, atol=EXACT)
    assert [s.transaction_id for s in scored] == [batch[i].transaction_id for i in order]


def test_a_transaction_scores_the_same_alone_or_in_a_batch(
    scorer: Scorer, batch: list[Transaction]
) -> None:
    """Pins: a transaction's score does not depend on the other transactions of its batch.

    For a fraud team: the service's adaptive batching merges requests of unrelated clients into
    one model call (up to MAX_BATCH rows); a card's decision must not depend on whose
    purchases happened to arrive in the same few milliseconds.
    """
    expected = probabilities(scorer, batch)
    some = range(0, len(batch), 8)
    alone = np.array([probabilities(scorer, [batch[i]])[0] for i in some])
    np.testing.assert_allclose(alone, expected[list(some)], rtol=0, atol=EXACT)


def _rename_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(transaction_id=[f"other-{i}" for i in range(len(frame))])


def _renumber_customers(frame: pd.DataFrame) -> pd.DataFrame:
    # The stored features stay joined: only the key changes, as after a re-keying of accounts.
    return frame.assign(customer_id=frame["customer_id"] + 10_000_000)


def _flip_labels(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{LABEL: 1 - frame[LABEL]})


def _drop_identifiers_and_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["transaction_id", "customer_id", LABEL])


@pytest.mark.parametrize(
    "change",
    [_rename_ids, _renumber_customers, _flip_labels, _drop_identifiers_and_label],
    ids=["transaction_id", "customer_id", "label_flipped", "ids_and_label_dropped"],
)
def test_identifier_and_label_columns_do_not_reach_the_model(
    trained: Trained, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    """Pins: on labelled rows (transactions joined with their features, the frame evaluation,
    the gate and the monitoring reference score) the ids and the label change nothing; the
    features alone decide.

    For a fraud team: a label that reached the inputs would make the holdout metrics the gate
    reads look perfect while the served model, which never sees a label, is blind; an id
    that reached them would tie decisions to account numbering.
    """
    model, holdout = trained.model, trained.split.holdout
    np.testing.assert_allclose(
        model.score(change(holdout)), model.score(holdout), rtol=0, atol=EXACT
    )


def test_row_order_of_a_labelled_frame_does_not_change_scores(trained: Trained) -> None:
    """Pins: scoring the holdout in another order gives the same score per transaction.

    For a fraud team: evaluation, the gate and the monitoring reference pair each score with
    its label by position; a score that moved with the row order would corrupt every metric
    computed from them.
    """
    model, holdout = trained.model, trained.split.holdout
    order = np.random.default_rng(5).permutation(len(holdout))
    expected = pd.Series(model.score(holdout), index=holdout["transaction_id"])
    for frame in (holdout.iloc[order], holdout.iloc[::-1]):
        got = pd.Series(model.score(frame), index=frame["transaction_id"])
        np.testing.assert_allclose(got[expected.index], expected, rtol=0, atol=EXACT)
