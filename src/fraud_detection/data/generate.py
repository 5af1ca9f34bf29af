"""Deterministic synthetic card transactions with fraud labels, and drift knobs for both sides.

The world is meant to be hard in the ways real card fraud is: fraud is rare (about 0.3 % of
rows, a tenth of it never reported), no single input separates it (legitimate customers travel,
shop online at night, buy gift cards and electronics; some fraud is card-present, near home, at
ordinary merchants, at ordinary hours), and it comes in the scenarios practitioners know
(after the Fraud Detection Handbook's simulator, Le Borgne et al., and the fraud typologies
CardSim is calibrated on, Allen 2025):

* `card_testing`: a compromised card (card not present) is tested with a few tiny amounts
  within minutes, then cashed out on resellable goods (electronics, gift cards) an hour or two
  later: a burst the velocity features see;
* `account_takeover`: a fraudster controls the account for days, transacting a few times a day
  from a new place, for bigger amounts, mostly card not present: slow, so the 1-hour velocity
  misses it, but the amount against the card's 30-day mean and the distance do not;
* `skimmed_card`: a cloned card used card-present at ordinary merchants (retail, fuel,
  grocery), often near home, at ordinary hours, for moderate amounts: hard;
* `compromised_merchant`: a crooked or breached merchant charges many cards within a day or
  two, near each card holder's home, at amounts a little above their habits (the Handbook's
  compromised terminals). Without a merchant id this shows only as a spike of one category in
  one time window across many cards, which no per-card feature sees: the hardest.

Which rows are fraud, and how, is in `GeneratedData.fraud_scenario`; the label is
`is_fraud`, which is 0 for fraud the card holder never reported (`unreported_fraud_share`).

Everything is drawn with vectorised numpy from one seeded generator, so the same settings and
drift give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fraud_detection.config import DataSettings
from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.data.labels import add_label_arrival
from fraud_detection.errors import FraudDetectionError

SCENARIOS: tuple[str, ...] = (
    "card_testing",
    "account_takeover",
    "skimmed_card",
    "compromised_merchant",
)
# Share of fraud rows each scenario makes (before drift).
_SCENARIO_SHARE = np.array([0.38, 0.32, 0.20, 0.10])
_CATEGORY_INDEX = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
_EVERYDAY = ("grocery", "restaurant", "fuel", "retail")

# Legitimate spending in store and online: category weights of each channel.
_IN_STORE_P = dict(
    grocery=0.26, restaurant=0.22, fuel=0.13, retail=0.19, online_retail=0.0,
    electronics=0.04, travel=0.03, entertainment=0.08, gift_cards=0.05,
)  # fmt: skip
_ONLINE_P = dict(
    grocery=0.05, restaurant=0.04, fuel=0.0, retail=0.0, online_retail=0.48,
    electronics=0.11, travel=0.10, entertainment=0.13, gift_cards=0.09,
)  # fmt: skip
_BIG_P = dict(electronics=0.4, travel=0.3, retail=0.3)
_CATEGORY_AMOUNT = dict(
    grocery=0.8, restaurant=0.6, fuel=0.9, retail=1.2, online_retail=1.1,
    electronics=2.5, travel=3.0, entertainment=0.8, gift_cards=1.2,
)  # fmt: skip
# Fraud's category weights per scenario (compromised merchants are drawn per episode).
_TESTING_P = dict(online_retail=0.4, entertainment=0.3, gift_cards=0.15, restaurant=0.15)
_CASH_OUT_P = dict(electronics=0.3, gift_cards=0.2, online_retail=0.35, travel=0.1, retail=0.05)
_TAKEOVER_P = dict(
    electronics=0.22, online_retail=0.3, gift_cards=0.1, travel=0.13, retail=0.1,
    entertainment=0.08, restaurant=0.07,
)  # fmt: skip
_SKIMMED_P = dict(
    retail=0.3, fuel=0.2, grocery=0.18, electronics=0.14, restaurant=0.08, entertainment=0.1
)
_MERCHANT_P = dict(restaurant=0.3, fuel=0.2, retail=0.25, grocery=0.1, online_retail=0.15)
# Relative weight of each hour of day for legitimate daytime spending (06:00-24:00); night
# (00:00-06:00) is drawn per customer (`night` propensity).
_DAY_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 1.5, 3, 4, 5, 5.5, 6, 7, 6, 5.5, 5.5, 6, 7, 7.5, 7, 6, 4.5, 3, 1.8]
)
_NIGHT_HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5] + [0] * 18)
# Fraud leans a little towards the night, no more.
_FRAUD_HOURS = np.array(
    [2.5, 2.2, 2, 2, 2, 2, 2.5, 3, 4, 4.5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4.5, 4, 3.5, 3]
)
_NIGHT = slice(0, 6)
_DAY = 86_400


@dataclass(frozen=True)
class DriftSpec:
    """Named distribution shifts applied to generated traffic (all neutral by default).

    Legitimate spending:
        amount_scale: Multiplies every legitimate amount.
        distance_scale: Multiplies every legitimate distance from home.
        card_present_rate: Replaces the card-present probability of legitimate in-store spending.
        night_share: Share of legitimate transactions between 00:00 and 06:00.
        online_share: Extra share of legitimate spending moved to online_retail (card not
            present).

    Fraud volume and fraud that adapts (fraudsters move to where the model is not looking):
        fraud_rate_scale: Multiplies the fraud rate.
        fraud_amount_scale: Multiplies every fraud amount (below 1: smaller, quieter fraud).
        fraud_distance_scale: Multiplies every fraud distance from home (below 1: fraud moves
            near home).
        fraud_card_present_rate: Replaces the card-present probability of every fraud
            transaction (e.g. 0.8: a wave of skimmed, cloned cards).
        fraud_everyday_share: Share of fraud transactions moved to everyday merchants
            (grocery, restaurant, fuel, retail) from the resellable goods they favour.
        fraud_spacing_scale: Multiplies the time between an episode's transactions (above 1:
            bursts slow down, out of the velocity windows).
    """

    amount_scale: float = 1.0
    distance_scale: float = 1.0
    card_present_rate: float | None = None
    night_share: float | None = None
    online_share: float = 0.0
    fraud_rate_scale: float = 1.0
    fraud_amount_scale: float = 1.0
    fraud_distance_scale: float = 1.0
    fraud_card_present_rate: float | None = None
    fraud_everyday_share: float = 0.0
    fraud_spacing_scale: float = 1.0

    @classmethod
    def parse(cls, text: str) -> DriftSpec:
        """Parse `name=value[,name=value...]`, e.g. `amount_scale=2.5,night_share=0.3`."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise FraudDetectionError(
                    f"bad drift setting {item!r}: use name=value with name one of "
                    f"{', '.join(sorted(known))}"
                )
            try:
                values[name] = float(raw)
            except ValueError:
                raise FraudDetectionError(
                    f"bad drift setting {item!r}: {raw!r} is not a number"
                ) from None
        spec = replace(cls(), **values)
        spec.check()
        return spec

    def check(self) -> None:
        positive = (
            "amount_scale", "distance_scale", "fraud_rate_scale", "fraud_amount_scale",
            "fraud_distance_scale", "fraud_spacing_scale",
        )  # fmt: skip
        problems = [f"{name} must be > 0" for name in positive if getattr(self, name) <= 0]
        shares = (
            "card_present_rate", "night_share", "online_share", "fraud_card_present_rate",
            "fraud_everyday_share",
        )  # fmt: skip
        for name in shares:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                problems.append(f"{name} must be within [0, 1]")
        if problems:
            raise FraudDetectionError("bad drift settings: " + "; ".join(problems))


@dataclass(frozen=True)
class GeneratedData:
    """The generated tables, and the truth the labels do not tell.

    Attributes:
        transactions: The contract's transaction columns (`data.contract`).
        customers: The customer profile snapshot.
        fraud_scenario: Aligned with `transactions`: the fraud scenario (one of `SCENARIOS`)
            of each fraud row, reported or not, and "" for legitimate rows. Not part of the
            contract: what a real system never knows, kept for tests and benchmarks.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    fraud_scenario: np.ndarray


@dataclass
class _Rows:
    """Columns of generated rows before they become a frame (`who` indexes the customers)."""

    who: np.ndarray
    seconds: np.ndarray  # since the history's start
    amount: np.ndarray
    category: np.ndarray  # index into MERCHANT_CATEGORIES
    distance: np.ndarray
    card_present: np.ndarray
    scenario: np.ndarray  # 0 legitimate, else 1 + index into SCENARIOS
    case: np.ndarray  # fraud episode (one card's) that reporting is decided for; -1 legitimate

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Rows)))


def generate(settings: DataSettings, drift: DriftSpec | None = None) -> GeneratedData:
    """Generate customers and their transactions over `settings.days` days before `end`.

    The same settings and drift always give the same rows.
    """
    drift = drift or DriftSpec()
    drift.check()
    rng = np.random.default_rng(settings.seed)
    end = settings.end_timestamp()
    start = end - timedelta(days=settings.days)
    customers = _customers(rng, settings.n_customers)
    legit = _legitimate(rng, customers, settings, drift)
    n_fraud = settings.fraud_rate * drift.fraud_rate_scale * len(legit.who)
    n_fraud /= 1 - settings.fraud_rate * drift.fraud_rate_scale  # a share of all rows
    fraud = _adapted(rng, _fraud(rng, customers, settings.days, n_fraud), drift)
    rows = _Rows.concat([legit, fraud])
    rows.seconds = np.round(rows.seconds)
    rows.distance = _with_unknown_locations(rng, np.clip(rows.distance, 0, 20_000))
    kept = np.flatnonzero(rows.seconds < settings.days * _DAY)
    order = kept[np.lexsort((rows.who[kept], rows.seconds[kept]))]  # by time, then customer
    frame = _frame(rows, customers, start, order)
    reported = _reported(rng, rows.case[order], settings.unreported_fraud_share)
    frame["is_fraud"] = ((rows.scenario[order] > 0) & reported).astype("int64")
    scenario = np.array(("", *SCENARIOS))[rows.scenario[order]]
    frame.insert(0, "transaction_id", [f"tx-{settings.seed}-{i:09d}" for i in range(len(frame))])
    profile = customers[["customer_id", "account_age_days", "credit_limit"]].copy()
    profile.insert(1, "event_timestamp", pd.Timestamp(start - timedelta(days=1)))
    # The rows are final here: what is derived from whole rows (e.g. when each label becomes
    # known) is added below this line.
    frame = add_label_arrival(frame, settings.labels, settings.seed)
    return GeneratedData(transactions=frame, customers=profile, fraud_scenario=scenario)


def _customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Card holders and their habits: spend level, activity, and how often each travels, shops
    online and spends at night (so that some legitimate customers look like fraud often)."""
    return pd.DataFrame(
        {
            "customer_id": np.arange(1_000, 1_000 + n, dtype="int64"),
            "account_age_days": rng.integers(30, 3_650, n),
            "credit_limit": rng.choice([1_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0], n,
                                       p=[0.15, 0.3, 0.3, 0.17, 0.08]),
            "typical_amount": rng.lognormal(np.log(35), 0.7, n),
            "activity": rng.gamma(2.0, 0.5, n),
            "travel": rng.beta(1.1, 6.5, n),  # share of days away from home, mean 0.14
            "online": rng.beta(1.5, 3.5, n),  # share of spending card-not-present, mean 0.3
            "night": rng.beta(0.7, 9.0, n),  # share of spending 00:00-06:00, mean 0.07
        }
    )  # fmt: skip


def _legitimate(
    rng: np.random.Generator, customers: pd.DataFrame, settings: DataSettings, drift: DriftSpec
) -> _Rows:
    days = settings.days
    rate = customers["activity"].to_numpy() * settings.transactions_per_customer_per_day
    who = np.repeat(np.arange(len(customers)), rng.poisson(rate * days))
    n = len(who)
    night_p = customers["night"].to_numpy()[who]
    if drift.night_share is not None:
        night_p = np.full(n, drift.night_share)
    at_night = rng.random(n) < night_p
    hour = np.where(at_night, _hours(rng, n, _NIGHT_HOURS), _hours(rng, n, _DAY_HOURS))
    seconds = rng.integers(0, days, n) * _DAY + hour * 3_600 + rng.integers(0, 3_600, n)
    seconds = _sessions(rng, who, seconds.astype("float64"))
    distance, away = _legit_distance(rng, customers, who, seconds, days)
    # Away from home, people pay in person more and online less.
    online_p = customers["online"].to_numpy()[who] * np.where(away, 0.3, 1.0)
    online_p = online_p * (1 - drift.online_share) + drift.online_share
    online = rng.random(n) < online_p
    category = np.where(online, _categories(rng, n, _ONLINE_P), _categories(rng, n, _IN_STORE_P))
    # The occasional big purchase (a phone, a flight, a repair), at home, mostly in store.
    big = ~away & (rng.random(n) < 0.08)
    category = np.where(big, _categories(rng, n, _BIG_P), category)
    online = np.where(big, category == _CATEGORY_INDEX["travel"], online)
    moved = rng.random(n) < drift.online_share
    category = np.where(moved, _CATEGORY_INDEX["online_retail"], category)
    online |= moved
    present_p = np.full(n, 0.95 if drift.card_present_rate is None else drift.card_present_rate)
    card_present = ~online & (rng.random(n) < present_p)
    amount = customers["typical_amount"].to_numpy()[who] * _amount_multiplier(category)
    amount *= rng.lognormal(0.0, 0.75, n)
    amount = np.where(big, amount * rng.lognormal(np.log(5), 0.5, n), amount)
    # Small online payments (apps, subscriptions, donations) look like card tests, alone.
    small = online & ~big & (rng.random(n) < 0.08)
    amount = np.where(small, rng.uniform(0.5, 4, n), amount)
    return _Rows(
        who=who,
        seconds=seconds,
        amount=amount * drift.amount_scale,
        category=category,
        distance=distance * drift.distance_scale,
        card_present=card_present,
        scenario=np.zeros(n, dtype="int64"),
        case=np.full(n, -1, dtype="int64"),
    )


def _sessions(rng: np.random.Generator, who: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Move an eighth of a customer's transactions to minutes after their previous one (a
    shopping trip, a dinner then a taxi): legitimate cards have bursts too."""
    order = np.lexsort((seconds, who))
    w, t = who[order], seconds[order]
    follows = (rng.random(len(t)) < 0.12) & np.r_[False, w[1:] == w[:-1]]
    index = np.arange(len(t))
    anchor = np.maximum.accumulate(np.where(follows, 0, index))
    gaps = np.cumsum(np.where(follows, 60 + rng.exponential(12 * 60, len(t)), 0.0))
    out = np.empty_like(seconds)
    out[order] = t[anchor] + gaps - gaps[anchor]
    return out


def _legit_distance(
    rng: np.random.Generator, customers: pd.DataFrame, who: np.ndarray, seconds: np.ndarray,
    days: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Near home most of the time, further for errands, far for every transaction of a trip;
    and whether each transaction is made on a trip."""
    n = len(who)
    local = np.where(
        rng.random(n) < 0.7, rng.exponential(5.0, n), rng.lognormal(np.log(25), 0.8, n)
    )
    trips_per = rng.poisson(customers["travel"].to_numpy() * days / 4)
    trip_who = np.repeat(np.arange(len(customers)), trips_per)
    trip_start = rng.uniform(0, days, len(trip_who)) * _DAY
    trip_end = trip_start + rng.uniform(1.5, 7, len(trip_who)) * _DAY
    trip_distance = rng.lognormal(np.log(350), 1.0, len(trip_who))
    if not len(trip_who):
        return local, np.zeros(n, dtype=bool)
    order = np.lexsort((trip_start, trip_who))
    key = trip_who[order] * (days + 10.0) * _DAY + trip_start[order]
    at = np.searchsorted(key, who * (days + 10.0) * _DAY + seconds, side="right") - 1
    trip = order[np.clip(at, 0, None)]
    away = (at >= 0) & (trip_who[trip] == who) & (seconds < trip_end[trip])
    return np.where(away, trip_distance[trip] * rng.lognormal(0, 0.15, n), local), away


def _fraud(rng: np.random.Generator, customers: pd.DataFrame, days: int, rows: float) -> _Rows:
    """About `rows` fraud rows, split across the scenarios by `_SCENARIO_SHARE`."""
    # Young accounts are compromised more often: a weak signal for the profile features.
    weight = 1 / np.sqrt(customers["account_age_days"].to_numpy())
    victim_p = weight / weight.sum()
    makers = (_card_testing, _account_takeover, _skimmed_card, _compromised_merchant)
    parts = []
    first_case = 0
    for code, (make, share) in enumerate(zip(makers, _SCENARIO_SHARE, strict=True), start=1):
        part = make(rng, customers, days, rows * share, victim_p)
        part.scenario = np.full(len(part.who), code, dtype="int64")
        part.case = part.case + first_case
        first_case = int(part.case.max(initial=first_case - 1)) + 1
        parts.append(part)
    return _Rows.concat(parts)


def _episodes(
    rng: np.random.Generator, rows: float, mean_rows: float, days: int, victim_p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Victims and start times (seconds) of enough episodes for about `rows` rows."""
    n = max(1, round(rows / mean_rows))
    victim = rng.choice(len(victim_p), n, p=victim_p)
    start = _spread_days(rng, n, days) * _DAY + _hours(rng, n, _FRAUD_HOURS) * 3_600
    return victim, start + rng.integers(0, 3_600, n)


def _spread_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """The days `n` episodes start on: one in each of `n` equal slices of the history, in a
    random order. Fraud arrives at a steady rate, so any window of the history (a 10-day
    holdout) holds its share of the episodes; drawn uniformly, a few large episodes more or
    less would swing a window's fraud count by a third."""
    day: np.ndarray = np.floor((np.arange(n) + rng.random(n)) * days / n).astype("int64")
    return rng.permutation(day)


def _card_testing(
    rng: np.random.Generator, customers: pd.DataFrame, days: int, rows: float,
    victim_p: np.ndarray,
) -> _Rows:  # fmt: skip
    tests_mean, cash_mean = 3.0, 2.5
    victim, start = _episodes(rng, rows, tests_mean + cash_mean, days, victim_p)
    tests = 2 + rng.poisson(tests_mean - 2, len(victim))
    cash = 1 + rng.poisson(cash_mean - 1, len(victim))
    size = tests + cash
    case = np.repeat(np.arange(len(victim)), size)
    n = len(case)
    position = np.arange(n) - np.repeat(np.cumsum(size) - size, size)
    testing = position < tests[case]
    # Tests minutes apart; the cash-out starts within the hour after the last test.
    gap = np.where(testing, rng.exponential(4 * 60, n), rng.exponential(8 * 60, n))
    gap = np.where(position == tests[case], rng.exponential(20 * 60, n), gap)
    gap[position == 0] = 0
    offset = _within_episode(gap, size)
    typical = customers["typical_amount"].to_numpy()[victim][case]
    amount = np.where(testing, rng.uniform(0.5, 3, n), typical * rng.lognormal(np.log(3.0), 0.7, n))
    category = np.where(testing, _categories(rng, n, _TESTING_P), _categories(rng, n, _CASH_OUT_P))
    far = rng.random(len(victim))[case] < 0.55  # where the fraudster's connection geolocates
    distance = np.where(far, rng.lognormal(np.log(500), 1.2, n), rng.exponential(15.0, n))
    return _Rows(
        who=victim[case], seconds=start[case] + offset, amount=amount, category=category,
        distance=distance, card_present=np.zeros(n, dtype=bool),
        scenario=np.zeros(n, dtype="int64"), case=case,
    )  # fmt: skip


def _account_takeover(
    rng: np.random.Generator, customers: pd.DataFrame, days: int, rows: float,
    victim_p: np.ndarray,
) -> _Rows:  # fmt: skip
    sessions_mean, per_session_mean = 2.5, 2.2
    victim, start = _episodes(rng, rows, sessions_mean * per_session_mean, days, victim_p)
    # The fraudster comes back to the account a few times over days, each time for a few
    # purchases minutes apart.
    sessions = 1 + rng.poisson(sessions_mean - 1, len(victim))
    span = rng.uniform(1, 6, len(victim)) * _DAY
    session_case = np.repeat(np.arange(len(victim)), sessions)
    session_offset = rng.uniform(0, 1, len(session_case)) * span[session_case]
    session_offset[np.r_[True, session_case[1:] != session_case[:-1]]] = 0
    size = 1 + rng.poisson(per_session_mean - 1, len(session_case))
    case = np.repeat(session_case, size)
    n = len(case)
    gap = rng.exponential(8 * 60, n)
    gap[np.cumsum(size) - size] = 0
    offset = np.repeat(session_offset, size) + _within_episode(gap, size)
    # A new place per episode (one in seven is the victim's own city).
    elsewhere = np.where(
        rng.random(len(victim)) < 0.85,
        rng.lognormal(np.log(400), 1.0, len(victim)),
        rng.exponential(20.0, len(victim)),
    )
    distance = elsewhere[case] * rng.lognormal(0, 0.2, n)
    typical = customers["typical_amount"].to_numpy()[victim][case]
    category = _categories(rng, n, _TAKEOVER_P)
    amount = typical * _amount_multiplier(category) * rng.lognormal(np.log(2.6), 0.6, n)
    return _Rows(
        who=victim[case], seconds=start[case] + offset, amount=amount, category=category,
        distance=distance, card_present=rng.random(n) < 0.1,
        scenario=np.zeros(n, dtype="int64"), case=case,
    )  # fmt: skip


def _skimmed_card(
    rng: np.random.Generator, customers: pd.DataFrame, days: int, rows: float,
    victim_p: np.ndarray,
) -> _Rows:  # fmt: skip
    mean_rows = 5.0
    victim, start = _episodes(rng, rows, mean_rows, days, victim_p)
    size = 3 + rng.poisson(mean_rows - 3, len(victim))
    case = np.repeat(np.arange(len(victim)), size)
    n = len(case)
    # A clone used at ordinary hours, each use within the hour after the previous.
    gap = rng.exponential(30 * 60, n)
    gap[np.r_[True, case[1:] != case[:-1]]] = 0
    offset = _within_episode(gap, size)
    near = rng.random(len(victim))[case] < 0.35  # the skimming ring works locally
    distance = np.where(
        near, rng.exponential(10.0, n), rng.lognormal(np.log(150), 1.0, len(victim))[case]
    )
    typical = customers["typical_amount"].to_numpy()[victim][case]
    category = _categories(rng, n, _SKIMMED_P)
    amount = typical * _amount_multiplier(category) * rng.lognormal(np.log(2.8), 0.6, n)
    return _Rows(
        who=victim[case], seconds=start[case] + offset, amount=amount, category=category,
        distance=distance, card_present=np.ones(n, dtype=bool),
        scenario=np.zeros(n, dtype="int64"), case=case,
    )  # fmt: skip


def _compromised_merchant(
    rng: np.random.Generator, customers: pd.DataFrame, days: int, rows: float,
    victim_p: np.ndarray,
) -> _Rows:  # fmt: skip
    """One merchant (a category here: there is no merchant id) charges many cards, one each,
    within a day or two, at their owners' ordinary places and hours."""
    mean_cards = 12.0
    n_episodes = max(1, round(rows / mean_cards))
    cards = 4 + rng.poisson(mean_cards - 4, n_episodes)
    episode = np.repeat(np.arange(n_episodes), cards)
    n = len(episode)
    merchant = _categories(rng, n_episodes, _MERCHANT_P)
    category = merchant[episode]
    window = rng.uniform(1, 3, n_episodes)
    first_day = _spread_days(rng, n_episodes, days)
    day = first_day[episode] + np.floor(rng.uniform(0, 1, n) * window[episode])
    seconds = day * _DAY + _hours(rng, n, _DAY_HOURS) * 3_600 + rng.integers(0, 3_600, n)
    who = rng.choice(len(customers), n)  # any card that shopped there, young or old
    online = category == _CATEGORY_INDEX["online_retail"]
    amount = customers["typical_amount"].to_numpy()[who] * _amount_multiplier(category)
    amount *= rng.lognormal(np.log(1.4), 0.5, n)
    return _Rows(
        who=who, seconds=seconds.astype("float64"), amount=amount, category=category,
        distance=rng.exponential(6.0, n), card_present=~online & (rng.random(n) < 0.95),
        scenario=np.zeros(n, dtype="int64"), case=np.arange(n),
    )  # fmt: skip


def _adapted(rng: np.random.Generator, fraud: _Rows, drift: DriftSpec) -> _Rows:
    """Fraud after the fraudsters adapted (`DriftSpec`'s fraud_* knobs). Draws the same numbers
    whatever the knobs, so that they change the fraud rows only."""
    n = len(fraud.who)
    present = rng.random(n)
    if drift.fraud_spacing_scale != 1:
        first = np.r_[True, fraud.case[1:] != fraud.case[:-1]]
        begin = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        fraud.seconds = (
            fraud.seconds[begin]
            + (fraud.seconds - fraud.seconds[begin]) * drift.fraud_spacing_scale
        )
    moved = rng.random(n) < drift.fraud_everyday_share
    everyday = _categories(rng, n, {c: _IN_STORE_P[c] for c in _EVERYDAY})
    fraud.category = np.where(moved, everyday, fraud.category)
    if drift.fraud_card_present_rate is not None:
        fraud.card_present = present < drift.fraud_card_present_rate
    fraud.amount = fraud.amount * drift.fraud_amount_scale
    fraud.distance = fraud.distance * drift.fraud_distance_scale
    return fraud


def _reported(rng: np.random.Generator, case: np.ndarray, unreported_share: float) -> np.ndarray:
    """Whether each row's fraud was reported: decided once per episode of one card (the holder
    disputes the episode or never notices it); legitimate rows (-1) are True."""
    cases = int(case.max(initial=-1)) + 1
    reported = rng.random(cases) >= unreported_share
    return np.where(case >= 0, reported[np.clip(case, 0, None)], True)


def _frame(
    rows: _Rows, customers: pd.DataFrame, start: datetime, order: np.ndarray
) -> pd.DataFrame:
    """The contract's columns (but the id and the label) of rows `order`, in that order."""
    seconds = rows.seconds[order].astype("int64")
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[rows.who[order]].astype("int64"),
            "event_timestamp": pd.DatetimeIndex(
                pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")
            ),
            "amount": np.clip(rows.amount[order], 0.5, 50_000).round(2),
            "merchant_category": np.array(MERCHANT_CATEGORIES)[rows.category[order]],
            "distance_from_home_km": rows.distance[order].round(2),
            "card_present": rows.card_present[order].astype(bool),
        }
    )


def _within_episode(gap: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Cumulative gaps, restarting at each episode (episodes of `size` rows, in order)."""
    total = np.cumsum(gap)
    first = np.cumsum(size) - size
    offset: np.ndarray = total - np.repeat(total[first], size)
    return offset


def _amount_multiplier(category: np.ndarray) -> np.ndarray:
    multiplier: np.ndarray = np.array([_CATEGORY_AMOUNT[c] for c in MERCHANT_CATEGORIES])[category]
    return multiplier


def _categories(rng: np.random.Generator, n: int, weights: dict[str, float]) -> np.ndarray:
    p = np.array([weights.get(c, 0.0) for c in MERCHANT_CATEGORIES])
    drawn: np.ndarray = rng.choice(len(MERCHANT_CATEGORIES), n, p=p / p.sum())
    return drawn


def _hours(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    hours: np.ndarray = rng.choice(24, n, p=weights / weights.sum())
    return hours


def _with_unknown_locations(rng: np.random.Generator, distance: np.ndarray) -> np.ndarray:
    """About 0.3% of transactions come without a location (null distance)."""
    return np.where(rng.random(len(distance)) < 0.003, np.nan, distance)
