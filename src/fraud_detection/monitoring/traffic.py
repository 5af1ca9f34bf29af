"""Live-like traffic for the closed-loop demo: fresh transactions (optionally drifted) sent to
a running server, with their labels written later as delayed ground truth."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd

from fraud_detection.config import Settings
from fraud_detection.data.generate import DriftSpec, generate
from fraud_detection.rollout.traffic import Client, payloads


def fresh_transactions(settings: Settings, drift: DriftSpec, rows: int, seed: int) -> pd.DataFrame:
    """About `rows` transactions of the day after the history by the same customers (same seed,
    so the same habits): every transaction of a random sample of cards, across the whole day.

    Whole cards, not rows: a card's velocity counts its earlier transactions, so dropping some
    of a card's day would lower its counts against the reference's, a shift the monitor sees.
    The day follows the history's end, not the clock, so pinned settings give the same traffic
    on any day."""
    day = settings.data.end_timestamp().date() + timedelta(days=1)
    data = settings.data.model_copy(update={"end": day, "days": 1})
    generated = generate(data, drift).transactions
    cards = generated["customer_id"].drop_duplicates().sample(frac=1.0, random_state=seed)
    per_card = generated.groupby("customer_id").size().reindex(cards)
    kept = per_card.index[(per_card.cumsum() - per_card) < rows]
    frame = generated[generated["customer_id"].isin(kept)]
    frame = frame.sort_values("event_timestamp", ignore_index=True)
    frame["transaction_id"] = [f"live-{seed}-{i}" for i in range(len(frame))]
    return frame


def send(url: str, frame: pd.DataFrame, batch: int = 100) -> int:
    """Score `frame` through the server; returns how many rows were answered with 200."""
    client, rows, ok = Client(url), payloads(frame), 0
    try:
        for start in range(0, len(rows), batch):
            status, _, _ = client.score(rows[start : start + batch])
            ok += (status == 200) * len(rows[start : start + batch])
    finally:
        client.close()
    return ok


def write_labels(labels_dir: Path, frame: pd.DataFrame, name: str) -> Path:
    """Delayed ground truth for the sent transactions, joined to the log by transaction_id."""
    labels_dir.mkdir(parents=True, exist_ok=True)
    path = labels_dir / f"{name}.jsonl"
    path.write_text("".join(
        json.dumps({"transaction_id": t, "is_fraud": int(y)}) + "\n"
        for t, y in zip(frame["transaction_id"], frame["is_fraud"], strict=True)
    ))  # fmt: skip
    return path
