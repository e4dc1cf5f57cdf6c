"""The report as a browser shows it: headless Chromium loads the file, and the charts are there.

Chromium is required (CI installs Debian's ``chromium`` package). The test skips only when the
browser is missing *and* ORCHESTRATOR_SKIP_BROWSER=1 says that is on purpose.

``ORCHESTRATOR_UPDATE_REPORT_PNG=1`` also copies the screenshot to docs/report.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from orchestrator.report.charts import CHARTS
from tests.helpers import (
    EXAMPLE_KEYS,
    HIDDEN_ADDRESS,
    MASKED_ADDRESS,
    NOW,
    REPO,
    applied_example,
    fixed_clock,
    run,
)

BROWSER_TIMEOUT_S = 90
WINDOW = (1280, 1600)

#: After every scheduled send of the example: the sandbox (on the CLI clock seam) has statistics.
AFTER = fixed_clock("2027-06-01T00:00:00Z")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("ORCHESTRATOR_SKIP_BROWSER") == "1":
        pytest.skip("chromium is not installed and ORCHESTRATOR_SKIP_BROWSER=1")
    pytest.fail("chromium is not installed: `apt-get install -y chromium` (or set ORCHESTRATOR_SKIP_BROWSER=1)")


def headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with everything that could reach the network switched off."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project applied against the sandbox, then `orchestrator report --all`."""
    project = applied_example(tmp_path_factory.mktemp("browser") / "example")
    out = project / "report.html"
    code, stdout, stderr = run(project, "report", "--all", "--out", str(out), "--now", NOW, clock=AFTER)
    assert code == 0, stdout + stderr
    return out


def test_chromium_dom_holds_every_chart_and_every_send(report_file: Path, tmp_path: Path) -> None:
    dom = headless(tmp_path, "--dump-dom", report_file.as_uri()).stdout
    assert dom.count("<svg") == len(CHARTS)
    for chart in CHARTS:
        assert f'id="chart-{chart.id}"' in dom
        assert f">{chart.title}</text>" in dom  # drawn as SVG text, readable by the browser
    for key in EXAMPLE_KEYS:
        assert key.replace(HIDDEN_ADDRESS, MASKED_ADDRESS) in dom
    assert HIDDEN_ADDRESS not in dom


def _pixels_near(image: np.ndarray, hex_color: str, tolerance: float = 0.08) -> int:
    target = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[:, :, :3] - target).max(axis=2) < tolerance).sum())


def test_chromium_screenshot_shows_the_charts_in_colour(report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    headless(tmp_path, f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", report_file.as_uri())
    image = imread(png)
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    # Every line's colour is on screen (its legend handle alone covers some 30 pixels; black is
    # left out, the text is black too), and all lines together cover a real area.
    colours = {s.color for chart in CHARTS for s in chart.series} - {"#000000"}
    seen = {colour: _pixels_near(image, colour) for colour in colours}
    assert min(seen.values()) > 25, seen
    assert sum(seen.values()) > 5000, seen
    if os.environ.get("ORCHESTRATOR_UPDATE_REPORT_PNG") == "1":
        shutil.copy(png, REPO / "docs" / "report.png")
