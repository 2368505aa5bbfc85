"""The pieces of the report pages written in Python (``thermaliq.report.html``): the same text as
the general way they stand for, for hostile text, ``Markup``, ``None``, numbers and empty lists
(the pages must not change by a byte)."""
from __future__ import annotations

import html

import pandas as pd
from markupsafe import Markup

from thermaliq.report.html import PARTS, esc

HOSTILE = ["plain", "", None, 0, 81.5, "a<b & \"c\" 'd' </script>", Markup("<b>kept</b>"), "–  ±  ö"]


def test_esc_is_html_escape():
    """:func:`esc` writes what ``html.escape(str(value), quote=True)`` writes (it skips the call
    for text without special characters), ``None`` as nothing; a table cell's int as its text."""
    for value in HOSTILE + ["&amp;", "'", '"', "<", ">", "a&b", 12, -3, 1.5, float("nan"), True]:
        expected = "" if value is None else html.escape(str(value), quote=True)
        assert esc(value) == expected, value
    assert PARTS.table([{"n": 7, "f": 7.0, "b": True}], [("n", "n"), ("f", "f"), ("b", "b")]).startswith(
        "<table><thead><tr><th>n</th><th>f</th><th>b</th></tr></thead><tbody><tr><td>7</td><td>7.0</td>"
        "<td>True</td></tr></tbody></table>")


def test_table_rows_without_escaping_are_the_rows_escaped_cell_by_cell():
    """A row of plain text and ints skips the per-cell escaping only when it changes nothing."""
    from thermaliq.report.html import row_html, row_html_by_cell
    tds = ["<td>", '<td class="num">', "<td>"]
    for a in HOSTILE + [7, -1, True]:
        for b in ("x", "a&b", 3, None, Markup("<i>m</i>"), 2.5):
            for c in ("", "'", "plain text; more"):
                cells = [a, b, c]
                assert row_html(cells, tds) == row_html_by_cell(cells, tds), cells
    assert row_html(["a", 1, "b"], tds) == '<tr><td>a</td><td class="num">1</td><td>b</td></tr>'


def test_figure_json_is_plotlys(monkeypatch):
    """``figure_json`` writes what ``plotly.io.to_json(fig, validate=False)`` writes: figures of
    every kind of the report, hostile text, NaN and numpy values, a value orjson cannot encode
    (Plotly cleans it), and with Plotly's json engine."""
    import decimal

    import numpy as np
    import plotly.io as pio

    from thermaliq.report import figures
    from thermaliq.report.html import figure_json
    from thermaliq.report.sankey import sankey_data

    sd = sankey_data({"stream_id": ["gas</script>", "steam", "flue\u2028"], "role": ["input", "output", "loss"],
                      "carrier": ["natural_gas", "steam", "flue_gas"], "energy_kwh": [1000.0, 850.0, 100.0]})
    days = {"period_start": np.array([1_700_000_000_000_000_000 + i * 86_400_000_000_000 for i in range(5)]),
            "efficiency_percent": np.array([80.0, np.nan, 82.5, 1 / 3, 90.0]),
            "efficiency_mean_percent": np.array([np.nan, np.nan, np.nan, 81.25, 60.0]),
            "data_quality_score": np.array([1.0, 0.5, 0.9, 1.0, 0.0]),
            "balance_error_percent": np.array([1.0, -7.0, np.nan, 0.1, 2.0]),
            "unaccounted_kwh": np.array([10.0, -70.0, np.nan, 1.0, 2e9]),
            "efficiency_uncertainty_points": np.array([1.0, 2.0, np.nan, 0.5, 0.25])}
    period = (pd.Timestamp("2023-11-15", tz="UTC"), pd.Timestamp("2023-11-16", tz="UTC"))
    made = [lambda: figures.sankey_figure(sd, "HHV", "<b>Plant</b> 'day'"),
            lambda: figures.trend_figure(days, tz="Europe/Zurich", basis="LHV", period=period, band=None),
            lambda: figures.balance_figure(days, tz="Europe/Zurich", basis="HHV", tolerance_percent=5.0, period=period),
            lambda: figures.quality_heatmap({("T</a>", "2023-11-15"): [96.0, 90.0, 1.0, 2.0, {"x/y", "<br>"}]},
                                            tz="UTC", minimum=0.9),
            lambda: {"data": [{"type": "bar", "x": [decimal.Decimal("1.5")], "uid": "u"}], "layout": {}},
            lambda: {"data": [{"type": "bar", "y": np.arange(3), "uid": "u"}], "layout": {"title": "a/b"}}]
    for make in made:
        assert figure_json(make()) == pio.to_json(make(), validate=False)
    monkeypatch.setattr(pio.json.config, "default_engine", "json")
    for make in made[:3]:
        assert figure_json(make()) == pio.to_json(make(), validate=False)
