"""Report rough edges of issue #16: a CSV link next to every table with the same rows, the
benchmark band to one decimal, help text without "DESIGN §", an honest footer for a run in
progress."""
from __future__ import annotations

import csv
import importlib.util
import io
import re
from datetime import date
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
from markupsafe import Markup

from thermaliq.report.csvlink import table_csv
from thermaliq.report.render import render_reports

_spec = importlib.util.spec_from_file_location("_report_fixture_csv", Path(__file__).with_name("test_report.py"))
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

TABLE = re.compile(r"<table>(.*?)</table><p class=\"csv\"><a download=\"[^\"]+\.csv\" href=\"([^\"]+)\">CSV</a></p>",
                   re.S)


def _cells(row_html: str, tag: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", row_html, re.S)]


def _page(tmp_path, status: str = "completed") -> str:
    rel = fixture.make_relations()
    if status == "running":
        rel["runs"] = rel["runs"].assign(status="running", finished_at=pd.NaT)
    con = fixture.connect(rel)
    render_reports(con, tmp_path, {"FAC-R1": fixture.make_facility()}, date(2026, 11, 18), date(2026, 11, 18))
    return (tmp_path / "FAC-R1" / "2026-11-18.html").read_text()


def test_every_table_has_a_csv_link_with_its_rows(tmp_path):
    html = _page(tmp_path)
    assert html.count("<table>") == len(TABLE.findall(html)) >= 2
    for body, href in TABLE.findall(html):
        assert href.startswith("data:text/csv;charset=utf-8,")
        rows = list(csv.reader(io.StringIO(unquote(href.split(",", 1)[1]))))
        table_rows = [_cells(tr, "th") or _cells(tr, "td") for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
        assert rows == table_rows


def test_table_csv_quotes_and_strips_html_by_hand():
    """A comma, a quote and a badge: ``a,b`` and ``say "hi"`` quoted per RFC 4180, the badge as text."""
    text = table_csv([{"k": "a,b", "m": 'say "hi"', "s": Markup('<span class="sev-warning">warning</span>')}],
                     [("k", "key"), ("m", "message"), ("s", "severity")])
    assert text == 'key,message,severity\r\n"a,b","say ""hi""",warning\r\n'


def test_benchmark_band_help_and_footer(tmp_path):
    html = _page(tmp_path, status="running")
    band = re.search(r"Benchmark (?:\((?:in)?direct\) )?(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) %", html)
    assert band, "the benchmark tile"
    assert all(re.fullmatch(r"\d+\.\d", x) for x in band.groups()), band.group(0)
    assert "DESIGN §" not in html
    assert "in progress when this page was rendered" in html
    assert ", running" not in html


def test_percent_encoding_is_urllib_quote():
    """``percent_encoded`` is ``urllib.parse.quote(text, safe="")`` on every byte value and UTF-8."""
    from urllib.parse import quote

    from thermaliq.report.csvlink import percent_encoded
    text = "".join(chr(c) for c in range(256)) + "–±ö€😀 \r\n,\";%"
    assert percent_encoded(text) == quote(text, safe="")
    assert percent_encoded("") == ""
