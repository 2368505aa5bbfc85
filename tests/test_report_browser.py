"""Reports in a real browser: headless Chromium renders every Plotly figure with no console error.

With ``THERMALIQ_UPDATE_SCREENSHOT=1`` it also refreshes ``docs/report.png`` (the README screenshot)
from the same realistic fixture month.
Skipped when Chromium is not installed, unless ``THERMALIQ_REQUIRE_CHROMIUM=1`` (CI) makes that a
failure.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from tests.helpers import chromium
from thermaliq.report.render import render_reports

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("_report_fixture", Path(__file__).with_name("test_report.py"))
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)


def _run(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local file; no network, a private profile, console logged to stderr."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=8000", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    con = fixture.connect(fixture.make_relations())
    hostile = fixture.make_facility("FAC-X", """<img src=x onerror="document.body.dataset.pwned='1'">""")
    rel = fixture.make_relations("FAC-X", seed=3)
    for name, df in rel.items():
        con.register(f"_x_{name}", df)
        con.execute(f"INSERT INTO {name} SELECT * FROM _x_{name}")
    render_reports(con, out, {"FAC-R1": fixture.make_facility(), "FAC-X": hostile},
                   date(2026, 11, 18), date(2026, 11, 18))
    return out


@pytest.fixture(scope="module")
def day_page(reports, tmp_path_factory):
    """One Chromium run on the fixture plant's day report: DOM, console and a screenshot."""
    work = tmp_path_factory.mktemp("chromium")
    shot = work / "report.png"
    result = _run(work, reports / "FAC-R1" / "2026-11-18.html", "--dump-dom", f"--screenshot={shot}",
                  "--window-size=1400,2600")
    assert result.returncode == 0, result.stderr[-2000:]
    return result, shot


def test_figures_render_without_console_errors(day_page):
    """Sankey, trend, balance and heatmap are drawn by plotly.js (SVG in the DOM), offline."""
    result, _ = day_page
    dom = result.stdout
    assert dom.count('class="main-svg"') >= 8  # two SVG layers per drawn figure, 4 figures
    assert 'class="sankey"' in dom and 'class="sankey-node' in dom
    assert 'class="hm"' in dom  # the heatmap layer
    assert 'class="trace bars"' in dom  # balance bars
    assert 'class="scatterlayer' in dom and 'class="trace scatter' in dom  # efficiency trend
    errors = [line for line in _console(result.stderr)
              if re.search(r"Uncaught|Error|Failed to load|not defined", line)]
    assert errors == []


def test_hostile_name_does_not_execute(tmp_path, reports):
    """An HTML payload as facility name stays text: its onerror handler never runs."""
    dom = _run(tmp_path, reports / "FAC-X" / "2026-11-18.html", "--dump-dom").stdout
    assert 'class="main-svg"' in dom  # the page did render (so the check below means something)
    assert 'data-pwned="1"' not in dom
    assert '<img src="x"' not in dom


def test_screenshot_for_readme(day_page):
    """docs/report.png: the day report of the fixture plant (an anomaly day with two alerts)."""
    _, shot = day_page
    assert shot.stat().st_size > 50_000  # a blank 1400x2600 PNG is a few kB
    if os.environ.get("THERMALIQ_UPDATE_SCREENSHOT") == "1":  # refresh the README picture on demand
        shutil.copyfile(shot, ROOT / "docs" / "report.png")
