"""Data Docs open offline (issue #16): a validation result page in headless Chromium with every
network request failing (host names resolve nowhere, the proxy is a closed port on 127.0.0.1)
has its tables filled in by bootstrap-table from the site's own copy of the assets.

The control is the same page as Great Expectations writes it (CDN URLs): offline, bootstrap-table
never loads and no table gets its rows (``<tr data-index=...>``), as operators saw on a plant
network. Skipped when Chromium is missing, unless ``THERMALIQ_REQUIRE_CHROMIUM=1``; the npm
assets must be installed (``scripts/setup``).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tasks.gx import offline
from tasks.gx.docs import build_data_docs, localize
from tasks.gx.validate import run_name, validate_readings
from tests.helpers import chromium
from tests.test_gx_validate import _facility, _faulty_day

ROW = re.compile(r"<tr[^>]*\bdata-index=")


def _offline_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, with no network at all."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory) -> Path:
    if offline.missing_assets():
        pytest.fail("Data Docs assets not installed: run scripts/setup (npm ci --prefix vendor/datadocs)")
    gx = tmp_path_factory.mktemp("home") / "gx"
    validate_readings(_faulty_day(), _facility(), gx, run_name("GX1", "2024-06-04", "2024-06-04", "bbbbbbbb2"))
    assert build_data_docs(gx)
    return gx


def _validation_page(gx: Path) -> Path:
    (page,) = (gx / "uncommitted" / "data_docs" / "local_site" / "validations").rglob("*.html")
    return page


def test_validation_page_renders_its_tables_offline(gx_dir, tmp_path):
    page = _validation_page(gx_dir)
    as_gx_wrote_it = _offline_dom(page, tmp_path / "p1")
    assert "https://unpkg.com/bootstrap-table" in page.read_text()
    assert not ROW.search(as_gx_wrote_it), "the control should render no table rows offline"

    assert localize(gx_dir) == 3          # index, suite and validation pages
    html = page.read_text()
    assert not [url for url in offline.ASSETS if url in html]
    assert 'integrity="' not in html
    dom = _offline_dom(page, tmp_path / "p2")
    rows = ROW.findall(dom)
    assert len(rows) >= 10, f"{len(rows)} table rows rendered"


def test_localize_is_idempotent_and_keeps_links_relative(gx_dir):
    localize(gx_dir)
    assert localize(gx_dir) == 0          # nothing left to rewrite
    index = gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert 'href="static/vendor/bootstrap/dist/css/bootstrap.min.css"' in index.read_text()
    assert (index.parent / "static/vendor/@fortawesome/fontawesome-free/webfonts").is_dir()


def test_missing_assets_say_how_to_install_them(tmp_path):
    with pytest.raises(offline.AssetsMissing, match="scripts/setup"):
        offline.copy_assets(tmp_path / "site", vendor=tmp_path / "no-node-modules")


def test_report_server_serves_the_data_docs_next_to_the_reports(gx_dir, tmp_path):
    """``thermaliq serve-reports``' server: ``/datadocs/`` is the Data Docs site, the rest the
    reports; paths leading out of either are 404."""
    import threading
    import urllib.error
    import urllib.request

    from thermaliq.report.server import base_url, serve

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "index.html").write_text("<h1>reports</h1>")
    server = serve(reports, port=0, data_docs_dir=gx_dir / "uncommitted" / "data_docs" / "local_site")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = base_url(server)
        with urllib.request.urlopen(f"{url}/index.html", timeout=10) as r:
            assert b"reports" in r.read()
        with urllib.request.urlopen(f"{url}/datadocs/index.html", timeout=10) as r:
            assert b"Data Docs" in r.read() or r.status == 200
        with urllib.request.urlopen(f"{url}/datadocs/static/vendor/jquery/dist/jquery.min.js", timeout=10) as r:
            assert r.status == 200
        for bad in ("/datadocs/../../../etc/passwd", "/datadocs/%2e%2e/%2e%2e/great_expectations.yml"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"{url}{bad}", timeout=10)
            assert info.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
