"""The drift report renders in a real browser: headless Chromium, offline, with real content."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from installed import installed
from PIL import Image

from fraud_detection.config import DataSettings
from fraud_detection.data.generate import DriftSpec, generate
from fraud_detection.features.aggregates import customer_transaction_stats
from fraud_detection.features.derived import model_frame
from fraud_detection.monitoring.reports import drift_report

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
# Without the networking flags Chromium keeps trying to reach the internet.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000"]  # fmt: skip


def chromium() -> str:
    return installed("chromium")


def inputs(drift: DriftSpec | None) -> pd.DataFrame:
    frame = generate(DataSettings(n_customers=200, days=10, end=date(2026, 1, 1)), drift)
    transactions = frame.transactions
    joined = transactions.merge(customer_transaction_stats(transactions), how="left",
                                on=["customer_id", "event_timestamp"])  # fmt: skip
    out = model_frame(joined, ("txn_count_24h", "amount_mean_30d"))
    return out.assign(prediction=np.random.default_rng(0).random(len(out)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    reference, current = inputs(None), inputs(DriftSpec(amount_scale=3, distance_scale=4))
    columns = [c for c in reference.columns if c != "prediction"]
    drift_report(reference, current, columns, 0.3, out)
    return out / "drift.html"


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def test_screenshot_of_the_report_is_not_blank(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "drift.png"
    run_chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", report.as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, charts: not a blank page
    white = max(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.95 * 1280 * 1600


def test_rendered_page_holds_the_drift_table(report: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "Drifted Columns" in dom
    assert "amount" in dom and "distance_from_home_km" in dom
    assert "Detected" in dom
