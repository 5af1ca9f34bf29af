"""Real-time velocity for scoring: record each transaction and read its card's velocity, at once.

The record and the read are one atomic step of the card event store
(`fraud_detection.features.card_events`), taken before the model runs: a transaction's own
features count only earlier events, so recording it first changes nothing for it, and its
card's next transaction sees it as soon as this one is answered, on any replica.

When the store fails (down, slow, locked), the request is still answered, without velocity and
flagged degraded; the update is lost and counted (`on_lost`, the prediction log), and for
`retry_after_s` requests skip the store instead of each waiting for its timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fraud_detection.features.card_events import CardEventStore, CardVelocity, event
from fraud_detection.features.velocity import micros
from fraud_detection.serving.schemas import Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealTime:
    """Per transaction: velocity values (None where unknown) and whether it arrived late; and
    whether the events were recorded."""

    velocities: list[CardVelocity]
    recorded: bool


class RealTimeFeatures:
    def __init__(
        self,
        events: CardEventStore,
        names: tuple[str, ...],
        on_lost: Callable[[int], None] = lambda count: None,
        retry_after_s: float = 1.0,
    ) -> None:
        self.events = events
        self.names = names
        self.on_lost = on_lost
        self.retry_after_s = retry_after_s
        self._skip_until = -float("inf")

    def record_and_read(self, transactions: Sequence[Transaction], now: datetime) -> RealTime:
        """Record `transactions` (each at its event time, `now` if it has none) and return
        each one's velocity as of that time."""
        if time.monotonic() >= self._skip_until:
            batch = [
                event(t.customer_id, micros(t.event_timestamp or now), t.amount, t.transaction_id)
                for t in transactions
            ]
            try:
                velocities = self.events.record_and_read(batch)
                return RealTime([_only(v, self.names) for v in velocities], recorded=True)
            except Exception:  # any store failure degrades the answer instead of failing it
                log.exception("card events: record and read failed; scoring without velocity")
                self._skip_until = time.monotonic() + self.retry_after_s
        self.on_lost(len(transactions))
        unknown = CardVelocity(dict.fromkeys(self.names), late=False)
        return RealTime([unknown] * len(transactions), recorded=False)


def _only(velocity: CardVelocity, names: tuple[str, ...]) -> CardVelocity:
    return CardVelocity({n: velocity.values[n] for n in names}, velocity.late)
