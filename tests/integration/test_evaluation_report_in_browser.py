"""The evaluation report renders in a real browser: headless Chromium, offline, every section
drawn (the same Chromium helpers as the drift report's check)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report_in_browser import run_chromium

from fraud_detection.training.report import SECTIONS, ReportInputs, write_report
from fraud_detection.training.report_figures import Scored

pytestmark = pytest.mark.integration

SIZE = (1280, 6000)  # tall enough for every section


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    n = 5_000
    y = (rng.random(n) < 0.03).astype(int)

    def scores(signal: float) -> np.ndarray:
        return np.clip(rng.beta(1, 12, n) + signal * y * rng.random(n), 0, 1)

    inputs = ReportInputs(
        y_true=y, amounts=rng.gamma(2.0, 40.0, n),
        candidate=Scored("candidate", scores(0.8), 0.3),
        champion=Scored("production abc123", scores(0.4), 0.25),
        target_fpr=0.01, false_alarm_cost=5.0,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("evaluation") / "evaluation_report.html"
    return write_report(inputs, out, "fraud-detector: evaluation of the candidate")


def test_screenshot_of_the_report_is_not_blank(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "evaluation.png"
    width, height = SIZE
    run_chromium(tmp_path, f"--window-size={width},{height}", f"--screenshot={shot}",
                 report.as_uri())  # fmt: skip
    image = Image.open(shot).convert("RGB")
    assert image.size == SIZE
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, charts: not a blank page
    white = max(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.95 * width * height


def test_every_section_is_in_the_rendered_page_with_its_chart(report: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    # The DOM after the scripts ran, cut into its sections.
    parts = dict(re.findall(r'<section id="([\w-]+)">(.*?)</section>', dom, flags=re.S))
    assert list(parts) == list(SECTIONS)
    assert "<table>" in parts["summary"] and "production abc123" in parts["summary"]
    for section in set(SECTIONS) - {"summary"}:
        # Drawn: plotly has put its SVG into the section's dashboard.
        assert 'class="main-svg"' in parts[section], f"{section} has no chart"
    assert "Precision-Recall Curve" in parts["pr-curve"]
    assert "ROC Curve" in parts["roc-curve"]
    assert parts["confusion-matrix"].count("main-svg") >= 2  # candidate and production
    assert "production abc123" in parts["reliability"] and "deployed" in parts["cost"]
