"""Deterministic synthetic card transactions with fraud labels, and a drift knob.

Legitimate spending follows each customer's habits (amount, hours, nearby merchants, card
present). Fraud arrives in bursts on compromised cards: several transactions within minutes,
at odd hours, far from home, card not present, at resellable merchants, with amounts either
tiny (card testing) or large (cash-out). Those are the signals the features and model learn.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fraud_detection.config import DataSettings
from fraud_detection.data.contract import MERCHANT_CATEGORIES
from fraud_detection.errors import FraudDetectionError

_LEGIT_CATEGORY_P = dict(
    grocery=0.22, restaurant=0.18, fuel=0.12, retail=0.16, online_retail=0.14,
    electronics=0.04, travel=0.04, entertainment=0.08, gift_cards=0.02,
)  # fmt: skip
_FRAUD_CATEGORY_P = dict(
    grocery=0.02, restaurant=0.01, fuel=0.02, retail=0.10, online_retail=0.30,
    electronics=0.30, travel=0.05, entertainment=0.02, gift_cards=0.18,
)  # fmt: skip
_CATEGORY_AMOUNT = dict(
    grocery=0.8, restaurant=0.6, fuel=0.9, retail=1.2, online_retail=1.1,
    electronics=2.5, travel=3.0, entertainment=0.8, gift_cards=1.2,
)  # fmt: skip
_NOT_PRESENT_CATEGORIES = ("online_retail", "gift_cards")
# Relative weight of each hour of day for legitimate spending (night is quiet).
_LEGIT_HOURS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 4, 5, 5.5, 6, 7, 6, 5.5, 5.5, 6, 7, 7.5, 7, 6, 4.5, 3, 1.8]
)
_FRAUD_HOURS = np.array(
    [4, 4.5, 5, 5, 4.5, 3.5, 2.5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2.5, 3, 3.5, 4]
)
_NIGHT = slice(0, 6)


@dataclass(frozen=True)
class DriftSpec:
    """Named distribution shifts applied to generated traffic (all neutral by default).

    Attributes:
        amount_scale: Multiplies every legitimate amount.
        distance_scale: Multiplies every legitimate distance from home.
        card_present_rate: Replaces the card-present probability of legitimate in-store spending.
        night_share: Share of legitimate transactions between 00:00 and 06:00.
        online_share: Extra share of legitimate spending moved to online_retail.
        fraud_rate_scale: Multiplies the fraud rate.
    """

    amount_scale: float = 1.0
    distance_scale: float = 1.0
    card_present_rate: float | None = None
    night_share: float | None = None
    online_share: float = 0.0
    fraud_rate_scale: float = 1.0

    @classmethod
    def parse(cls, text: str) -> DriftSpec:
        """Parse `name=value[,name=value...]`, e.g. `amount_scale=2.5,night_share=0.3`."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = item.partition("=")
            if not sep or name not in known:
                raise FraudDetectionError(
                    f"bad drift setting {item!r}: use name=value with name one of "
                    f"{', '.join(sorted(known))}"
                )
            try:
                values[name] = float(raw)
            except ValueError:
                raise FraudDetectionError(f"bad drift setting {item!r}: {raw!r} is not a number")
        spec = replace(cls(), **values)
        spec.check()
        return spec

    def check(self) -> None:
        problems = [
            f"{name} must be > 0"
            for name in ("amount_scale", "distance_scale", "fraud_rate_scale")
            if getattr(self, name) <= 0
        ]
        for name in ("card_present_rate", "night_share", "online_share"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                problems.append(f"{name} must be within [0, 1]")
        if problems:
            raise FraudDetectionError("bad drift settings: " + "; ".join(problems))


@dataclass(frozen=True)
class GeneratedData:
    transactions: pd.DataFrame
    customers: pd.DataFrame


def generate(settings: DataSettings, drift: DriftSpec | None = None) -> GeneratedData:
    """Generate customers and their transactions over `settings.days` days before `end`.

    The same settings and drift always give the same rows.
    """
    drift = drift or DriftSpec()
    drift.check()
    rng = np.random.default_rng(settings.seed)
    end = settings.end_timestamp()
    start = end - timedelta(days=settings.days)
    customers = _customers(rng, settings.n_customers, start)
    legit = _legitimate(rng, customers, settings, start, drift)
    fraud = _fraud(rng, customers, settings, start, len(legit), drift)
    frame = pd.concat([legit, fraud], ignore_index=True)
    frame = frame[frame["event_timestamp"] < pd.Timestamp(end)]
    frame = frame.sort_values(["event_timestamp", "customer_id"], kind="stable", ignore_index=True)
    frame.insert(0, "transaction_id", [f"tx-{settings.seed}-{i:09d}" for i in range(len(frame))])
    profile = customers[["customer_id", "account_age_days", "credit_limit"]].copy()
    profile.insert(1, "event_timestamp", pd.Timestamp(start - timedelta(days=1)))
    return GeneratedData(transactions=frame, customers=profile)


def _customers(rng: np.random.Generator, n: int, start: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.arange(1_000, 1_000 + n, dtype="int64"),
            "account_age_days": rng.integers(30, 3_650, n),
            "credit_limit": rng.choice([1_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0], n,
                                       p=[0.15, 0.3, 0.3, 0.17, 0.08]),
            "typical_amount": rng.lognormal(np.log(35), 0.5, n),
            "activity": rng.gamma(2.0, 0.5, n),
        }
    )  # fmt: skip


def _legitimate(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    settings: DataSettings,
    start: datetime,
    drift: DriftSpec,
) -> pd.DataFrame:
    rate = customers["activity"].to_numpy() * settings.transactions_per_customer_per_day
    counts = rng.poisson(rate * settings.days)
    who = np.repeat(np.arange(len(customers)), counts)
    n = len(who)
    category = _categories(rng, n, _LEGIT_CATEGORY_P, drift.online_share)
    multiplier = np.vectorize(_CATEGORY_AMOUNT.__getitem__)(category) if n else np.zeros(0)
    amount = customers["typical_amount"].to_numpy()[who] * multiplier
    amount = amount * rng.lognormal(0.0, 0.7, n) * drift.amount_scale
    away = rng.random(n) < 0.12
    distance = np.where(away, rng.lognormal(np.log(150), 1.0, n), rng.exponential(6.0, n))
    present_p = np.where(np.isin(category, _NOT_PRESENT_CATEGORIES), 0.05, 0.92)
    if drift.card_present_rate is not None:
        present_p = np.where(present_p > 0.5, drift.card_present_rate, present_p)
    return _frame(
        customers["customer_id"].to_numpy()[who],
        _timestamps(rng, n, start, settings.days, _hour_weights(_LEGIT_HOURS, drift.night_share)),
        amount,
        category,
        _with_unknown_locations(rng, distance * drift.distance_scale),
        rng.random(n) < present_p,
        is_fraud=0,
    )


def _fraud(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    settings: DataSettings,
    start: datetime,
    n_legit: int,
    drift: DriftSpec,
) -> pd.DataFrame:
    mean_burst = 3.5
    n_episodes = max(1, round(settings.fraud_rate * drift.fraud_rate_scale * n_legit / mean_burst))
    # Young accounts are compromised more often: a weak signal for the profile features.
    weight = 1 / np.sqrt(customers["account_age_days"].to_numpy())
    victim = rng.choice(len(customers), n_episodes, p=weight / weight.sum())
    burst = 1 + rng.poisson(mean_burst - 1, n_episodes)
    who = np.repeat(victim, burst)
    n = len(who)
    episode_start = np.repeat(
        _timestamps(rng, n_episodes, start, settings.days, _FRAUD_HOURS), burst
    )
    gaps = rng.exponential(12 * 60, n)  # seconds between transactions in a burst
    first_of_episode = np.repeat(np.cumsum(burst) - burst, burst)
    offsets = np.cumsum(gaps) - np.cumsum(gaps)[first_of_episode]
    category = _categories(rng, n, _FRAUD_CATEGORY_P, 0.0)
    testing = rng.random(n) < 0.25
    typical = customers["typical_amount"].to_numpy()[who]
    amount = np.where(testing, rng.uniform(1, 10, n), typical * rng.lognormal(1.3, 0.8, n))
    far = rng.random(n) < 0.8
    distance = np.where(far, rng.lognormal(np.log(400), 1.2, n), rng.exponential(10.0, n))
    return _frame(
        customers["customer_id"].to_numpy()[who],
        episode_start + pd.to_timedelta(offsets.round(), unit="s"),
        amount,
        category,
        _with_unknown_locations(rng, distance),
        rng.random(n) < 0.15,
        is_fraud=1,
    )


def _frame(
    customer_id: np.ndarray,
    timestamps: pd.DatetimeIndex,
    amount: np.ndarray,
    category: np.ndarray,
    distance: np.ndarray,
    card_present: np.ndarray,
    is_fraud: int,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customer_id.astype("int64"),
            "event_timestamp": timestamps,
            "amount": np.clip(amount, 0.5, 50_000).round(2),
            "merchant_category": category.astype(str),
            "distance_from_home_km": np.clip(distance, 0, 20_000).round(2),
            "card_present": card_present.astype(bool),
            "is_fraud": np.full(len(customer_id), is_fraud, dtype="int64"),
        }
    )


def _categories(
    rng: np.random.Generator, n: int, base: dict[str, float], online_share: float
) -> np.ndarray:
    p = np.array([base[c] for c in MERCHANT_CATEGORIES]) * (1 - online_share)
    p[MERCHANT_CATEGORIES.index("online_retail")] += online_share
    return rng.choice(np.array(MERCHANT_CATEGORIES), n, p=p / p.sum())


def _hour_weights(weights: np.ndarray, night_share: float | None) -> np.ndarray:
    p: np.ndarray = weights / weights.sum()
    if night_share is not None:
        night = p[_NIGHT].sum()
        p = p.copy()
        p[_NIGHT] *= night_share / night
        p[_NIGHT.stop :] *= (1 - night_share) / (1 - night)
    return p


def _timestamps(
    rng: np.random.Generator, n: int, start: datetime, days: int, hour_weights: np.ndarray
) -> pd.DatetimeIndex:
    day = rng.integers(0, days, n)
    hour = rng.choice(24, n, p=hour_weights / hour_weights.sum())
    second = rng.integers(0, 3_600, n)
    offset = day * 86_400 + hour * 3_600 + second
    return pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(offset, unit="s"))


def _with_unknown_locations(rng: np.random.Generator, distance: np.ndarray) -> np.ndarray:
    """About 0.3% of transactions come without a location (null distance)."""
    return np.where(rng.random(len(distance)) < 0.003, np.nan, distance)
