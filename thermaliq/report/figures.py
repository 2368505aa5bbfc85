"""Plotly figures of a facility report, built from the columns of a page's data.

Figures are plain dicts in Plotly's JSON schema (``{"data": [...], "layout": {...}}``), handed to
:func:`thermaliq.report.html.figure_html`; building ``plotly.graph_objects`` would validate every
property on every page and cost ~10x the time of the report itself. The tests validate each figure
once with ``go.Figure(fig)``. Every text that comes from data (facility, stream, tag names, issues)
is HTML-escaped: Plotly renders a subset of HTML in labels, so an unescaped ``<a href=...>`` or
``<b>`` in a name would be interpreted. Every figure states the heating-value basis and its units.
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from datetime import date

import numpy as np
import orjson
import pandas as pd

from thermaliq.report.html import esc, figure_json, json_safe, plotly_writes_orjson
from thermaliq.report.quality import RepairCounts, completeness, local_label, local_text_ns
from thermaliq.report.sankey import SankeyData, fmt_kwh

#: A small template instead of Plotly's default one, which adds ~10 kB of JSON to every figure.
TEMPLATE = {"layout": {
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13,
             "color": "#1f2933"},
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "xaxis": {"gridcolor": "#e4e7eb", "linecolor": "#9aa5b1", "ticks": "outside", "automargin": True},
    "yaxis": {"gridcolor": "#e4e7eb", "linecolor": "#9aa5b1", "zeroline": False, "automargin": True},
    "margin": {"l": 60, "r": 30, "t": 60, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
    "hoverlabel": {"namelength": -1},
}}
ROLE_COLORS = {"input": "#e8833a", "plant": "#52606d", "output": "#2f9e44", "loss": "#d64545",
               "unaccounted": "#9aa5b1", "imbalance": "#8e2c48"}
OK_COLOR, BAD_COLOR, MEAN_COLOR, BAND_COLOR = "#2f9e44", "#d64545", "#3b5bdb", "rgba(47,158,68,0.13)"
PERIOD_COLOR = "rgba(59,91,219,0.08)"


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _local(ts: np.ndarray | pd.Timestamp, tz: str):
    """UTC instant(s) as local ``YYYY-MM-DD HH:MM`` text for a Plotly date axis; an array holds
    int64 UTC nanoseconds."""
    if isinstance(ts, pd.Timestamp):
        return local_label(ts, tz)
    return local_text_ns(ts, tz)


def _vals(s: np.ndarray) -> list:
    """Floats with NaN as ``None`` (JSON null: a gap in the trace)."""
    return [None if v is None or not math.isfinite(v) else float(v) for v in np.asarray(s, dtype=float).tolist()]


def _layout(title: str, height: int, **extra) -> dict:
    return {"template": TEMPLATE, "height": height, "title": {"text": title}, **extra}


def _hband(y0: float, y1: float, color: str) -> dict:
    return {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": y0, "y1": y1, "fillcolor": color,
            "line": {"width": 0}, "layer": "below"}


def _hline(y: float, color: str, dash: str) -> dict:
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
            "line": {"color": color, "dash": dash, "width": 1}}


def _period_marks(period: tuple[pd.Timestamp, pd.Timestamp], tz: str) -> tuple[dict, dict]:
    """A shaded rectangle over the reported period and its label."""
    x0, x1 = (_local(pd.Timestamp(t), tz) for t in period)
    rect = {"type": "rect", "yref": "paper", "y0": 0, "y1": 1, "x0": x0, "x1": x1,
            "fillcolor": PERIOD_COLOR, "line": {"width": 0}, "layer": "below"}
    note = {"text": "this report", "x": x0, "y": 1, "xref": "x", "yref": "paper", "xanchor": "left",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": MEAN_COLOR}}
    return rect, note


def sankey_figure(sd: SankeyData, basis: str, title: str) -> dict:
    """Sankey of the period's flows; node labels carry energy [kWh] and share of input [%]."""
    total_in = sd.totals.get("input_kwh", 0.0) or 1.0
    incoming = [0.0] * len(sd.nodes)
    outgoing = [0.0] * len(sd.nodes)
    for link in sd.links:
        outgoing[link.source] += link.value_kwh
        incoming[link.target] += link.value_kwh
    labels = []
    for i, name in enumerate(sd.nodes):
        value = max(incoming[i], outgoing[i])
        labels.append(f"{esc(name)}<br>{fmt_kwh(value)} ({value / total_in * 100:.1f} %)")
    colors = [ROLE_COLORS[r] for r in sd.node_roles]
    # two-line labels need ~60 px per node on the busier side of the plant
    side = (sum(r in ("input", "imbalance") for r in sd.node_roles),
            sum(r in ("output", "loss", "unaccounted") for r in sd.node_roles))
    link_colors = [_rgba(colors[lk.target if sd.node_roles[lk.source] == "plant" else lk.source], 0.35)
                   for lk in sd.links]
    trace = {
        "type": "sankey", "arrangement": "snap", "valueformat": ",.0f", "valuesuffix": " kWh",
        "node": {"label": labels, "color": colors, "pad": 30, "thickness": 18,
                 "line": {"color": "white", "width": 0.5},
                 "hovertemplate": "%{label}<extra></extra>"},
        "link": {"source": [lk.source for lk in sd.links], "target": [lk.target for lk in sd.links],
                 "value": [lk.value_kwh for lk in sd.links], "label": [esc(lk.label) for lk in sd.links],
                 "color": link_colors,
                 "hovertemplate": "%{label}<br>%{value:,.0f} kWh<extra></extra>"}}
    return {"data": [trace], "layout": _layout(
        f"{esc(title)} — energy flows [kWh], {esc(basis)} basis", 140 + 60 * max(3, *side))}


def trend_figure(days: Mapping[str, np.ndarray], *, tz: str, basis: str,
                 period: tuple[pd.Timestamp, pd.Timestamp], band: object | None = None) -> dict:
    """Daily efficiency [%] over the trailing window, the 7-day mean and the benchmark band.

    ``days`` holds the columns of ``report_periods.daily_results`` as arrays, ``period_start`` as
    int64 UTC nanoseconds. ``band`` has ``minimum``, ``typical``, ``best`` [%], ``basis`` and
    ``source`` (or is None).
    """
    x = _local(days["period_start"], tz)
    rect, note = _period_marks(period, tz)
    shapes, traces = [rect], []
    if band is not None:
        typical = band.typical == band.typical          # NaN: the source states no typical value
        shapes += [_hband(band.minimum, band.best, BAND_COLOR)] + \
            ([_hline(band.typical, OK_COLOR, "dot")] if typical else [])
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines",
                       "line": {"color": BAND_COLOR, "width": 10}, "name": esc(
                           f"benchmark range {band.minimum:g}–{band.best:g} %"
                           + (f", typical {band.typical:g} %" if typical else "") + f" ({band.basis})")})
    quality = np.asarray(days["data_quality_score"], dtype=float).tolist()
    error = _vals(days["efficiency_uncertainty_points"]) if "efficiency_uncertainty_points" in days else []
    error_bars = {"error_y": {"type": "data", "array": error, "visible": True, "color": "#7b8794",
                              "thickness": 1}} if any(e is not None for e in error) else {}
    traces.append({"type": "scatter", "x": x, "y": _vals(days["efficiency_percent"]), **error_bars,
                   "mode": "lines+markers", "name": f"daily efficiency ({esc(basis)})"
                   + (" ± U (k = 2)" if error_bars else ""),
                   "line": {"color": "#1f2933", "width": 1.5}, "marker": {"size": 7, "color": "#1f2933"},
                   "customdata": [f"data quality {q:.2f}" if math.isfinite(q) else "data quality –"
                                  for q in quality],
                   "hovertemplate": "%{x|%Y-%m-%d}: %{y:.1f} %<br>%{customdata}<extra></extra>"})
    traces.append({"type": "scatter", "x": x, "y": _vals(days["efficiency_mean_percent"]), "mode": "lines",
                   "name": "reference: mean of the 7 days before (anomaly alert)",
                   "line": {"color": MEAN_COLOR, "dash": "dash", "width": 2},
                   "hovertemplate": "%{x|%Y-%m-%d}: mean of the 7 days before %{y:.1f} %<extra></extra>"})
    return {"data": traces, "layout": _layout(
        f"Efficiency trend [%], {esc(basis)} basis (useful output / input)", 400, shapes=shapes,
        annotations=[note], yaxis={"title": {"text": f"efficiency [%, {esc(basis)}]"}},
        xaxis={"type": "date", "title": {"text": f"local day ({esc(tz)})"}})}


def balance_figure(days: Mapping[str, np.ndarray], *, tz: str, basis: str, tolerance_percent: float,
                   period: tuple[pd.Timestamp, pd.Timestamp]) -> dict:
    """Daily energy-balance error [% of input] with the ±tolerance band (``days`` as for
    :func:`trend_figure`)."""
    err = _vals(days["balance_error_percent"])
    colors = [OK_COLOR if e is None or abs(e) <= tolerance_percent else BAD_COLOR for e in err]
    rect, note = _period_marks(period, tz)
    shapes = [rect, _hband(-tolerance_percent, tolerance_percent, BAND_COLOR),
              _hline(-tolerance_percent, BAD_COLOR, "dash"), _hline(tolerance_percent, BAD_COLOR, "dash")]
    trace = {"type": "bar", "x": _local(days["period_start"], tz), "y": err, "marker": {"color": colors},
             "name": "balance error", "customdata": _vals(days["unaccounted_kwh"]),
             "hovertemplate": "%{x|%Y-%m-%d}: %{y:+.2f} % of input<br>unaccounted %{customdata:,.0f} kWh"
                              "<extra></extra>"}
    return {"data": [trace], "layout": _layout(
        f"Energy-balance error [% of input], {esc(basis)} basis — tolerance ±{tolerance_percent:g} %",
        340, showlegend=False, shapes=shapes, annotations=[note],
        yaxis={"title": {"text": "(input − useful − losses) / input [%]"}},
        xaxis={"type": "date", "title": {"text": f"local day ({esc(tz)})"}})}


def quality_heatmap(sums: dict[tuple, list], *, tz: str, minimum: float) -> dict:
    """Tag × local-day completeness [0..1] with repair counts in the hover text.

    ``sums``: the ``data_quality`` counts per (tag, local ``YYYY-MM-DD``) as
    :func:`thermaliq.report.quality.totals_by_key` gives them, sorted by tag, then day.
    """
    tags = sorted({tag for tag, _ in sums})
    columns = sorted({day for _, day in sums})
    zs, hover, text = _heatmap_cells(sums, tags, columns)
    return _heatmap_figure(tags, columns, zs, hover, text, tz=tz, minimum=minimum)


def _heatmap_cells(sums: dict[tuple, list], tags: list[str], columns: list[str]) -> tuple[list, list, list]:
    """The heatmap's ``z`` [0..1], hover and cell text, rows ``tags`` × columns ``columns`` (days);
    cells without counts in ``sums`` read "no record"."""
    col = {day: j for j, day in enumerate(columns)}
    rows = {tag: i for i, tag in enumerate(tags)}
    zs = [[None] * len(columns) for _ in tags]
    hover = [["no record"] * len(columns) for _ in tags]
    text = [[""] * len(columns) for _ in tags]
    for (tag, day), (e, v, i, r, issues) in sums.items():
        row, j = rows[tag], col[day]
        zs[row][j], hover[row][j], text[row][j] = _cell(e, v, i, r, "; ".join(sorted(issues)) if issues else "")
    return zs, hover, text


def _heatmap_figure(tags: list[str], columns: list[str], zs: list, hover: list, text: list, *, tz: str,
                    minimum: float) -> dict:
    """The heatmap figure of cells made by :func:`_heatmap_cells` (rows ``tags``, columns the local
    days ``columns`` as ``YYYY-MM-DD``)."""
    trace = {"type": "heatmap", "z": zs, "x": [_day_label(d) for d in columns],
             "y": [esc(t) for t in tags], "zmin": 0, "zmax": 1, "xgap": 1, "ygap": 1,
             "colorscale": _quality_scale(minimum), "text": text, "texttemplate": "%{text}",
             "textfont": {"size": 9}, "colorbar": {"title": {"text": "completeness"}, "tickformat": ".0%"},
             "customdata": hover,
             "hovertemplate": "%{y} %{x}<br>%{customdata}<extra></extra>"}
    return {"data": [trace], "layout": _layout(
        f"Data completeness per tag and local day [% of expected points] (minimum {minimum:.0%})",
        max(280, 130 + 24 * len(tags)),
        xaxis={"type": "category", "title": {"text": f"local day ({esc(tz)})"}},
        yaxis={"autorange": "reversed"})}


class QualityHeatmap:
    """:func:`quality_heatmap` of any rows of a facility's (tag, local day) repair counts, for
    many pages.

    A page's rows are mostly whole groups (its window's days of every tag): then its cells are
    those of the groups' totals over all rows, made once here, and a page takes slices of the
    rows of that grid instead of summing and formatting ~600 cells. Other rows (a window cutting a
    group) go through :func:`quality_heatmap` itself.
    """

    def __init__(self, counts: RepairCounts):
        self.counts = counts
        self._grid: tuple[list, list, list] | None = None
        self._json: list[list[list[str]]] | None = None
        self._rows: list[list[tuple[str, list[int]]]] | None = None

    def figure(self, rows: np.ndarray, *, tz: str, minimum: float) -> dict:
        """``quality_heatmap(counts.totals(rows), tz=tz, minimum=minimum)`` (``rows``: distinct
        row numbers)."""
        block = self.counts.block(rows)
        if block is None:
            return quality_heatmap(self.counts.totals(rows), tz=tz, minimum=minimum)
        first, second = block
        tags, days = self.counts.uniques
        zs, hover, text = self._cells()
        j0, j1 = int(second[0]), int(second[-1]) + 1
        if j1 - j0 == len(second):
            pick = [[cells[i][j0:j1] for i in first.tolist()] for cells in (zs, hover, text)]
        else:
            js = second.tolist()
            pick = [[[cells[i][j] for j in js] for i in first.tolist()] for cells in (zs, hover, text)]
        return _heatmap_figure([tags[i] for i in first.tolist()], [days[j] for j in second.tolist()], *pick,
                               tz=tz, minimum=minimum)

    def figure_json(self, rows: np.ndarray, *, tz: str, minimum: float) -> str:
        """``plotly.io.to_json(self.figure(rows, ...), validate=False)`` (as
        :func:`~thermaliq.report.html.figure_json` writes it): the heatmap as JSON.

        A page of whole groups and consecutive days (the common case) joins the JSON of its cells,
        written once per facility view, into the JSON of the rest of the figure: the cells are
        ~85 % of the text (~60 kB a day page), and Plotly's escaping of ``<``, ``>`` and ``/``
        in the hover texts costs more than the encoding itself. Cell by cell, that escaping and
        orjson (Plotly's engine) write what they write in the whole figure.
        """
        block = self.counts.block(rows) if plotly_writes_orjson() else None
        if block is None or int(block[1][-1]) - int(block[1][0]) + 1 != len(block[1]):
            return figure_json(self.figure(rows, tz=tz, minimum=minimum))
        first, second = block
        tags, days = self.counts.uniques
        j0, j1 = int(second[0]), int(second[-1]) + 1
        text = figure_json(_heatmap_figure([tags[i] for i in first.tolist()], days[j0:j1], *_CELL_MARKS,
                                           tz=tz, minimum=minimum))
        for mark, rows_json in zip(_CELL_MARKS, self._json_rows()):
            grid = "[[" + "],[".join([full[at[j0]:at[j1] - 1] for full, at in
                                      (rows_json[i] for i in first.tolist())]) + "]]"
            text = text.replace(json_safe(orjson.dumps(mark).decode()), grid, 1)
        return text

    def _json_rows(self) -> list[list[tuple[str, list[int]]]]:
        """Per grid (z, hover, text) and tag: its cells' JSON joined by commas, and where each
        cell starts in that text (one more: the text's length + 1), so that the cells of days
        ``j0 .. j1 - 1`` are ``text[at[j0]:at[j1] - 1]`` (made once)."""
        if self._rows is None:
            self._rows = [[(",".join(row), list(itertools.accumulate((len(c) + 1 for c in row), initial=0)))
                           for row in cells] for cells in self._json_cells()]
        return self._rows

    def _json_cells(self) -> list[list[list[str]]]:
        """The JSON of each cell of :meth:`_cells` (z, hover, text), as Plotly writes it (made once)."""
        if self._json is None:
            zs, hover, text = self._cells()
            known: dict[str, str] = {}   # hover and cell texts recur: each distinct one encoded once
            self._json = [[_numbers_json(row) for row in zs],
                          [[_text_json(v, known) for v in row] for row in hover],
                          [[_text_json(v, known) for v in row] for row in text]]
        return self._json

    def _cells(self) -> tuple[list, list, list]:
        """The cells of every tag × every day of the counts, over all rows (made once)."""
        if self._grid is None:
            self._grid = _heatmap_cells(self.counts.totals(), *self.counts.uniques)
        return self._grid


def _numbers_json(values: list) -> list[str]:
    """The JSON of each of ``values`` (floats or None, as orjson writes them); one orjson call
    for the list, split at its commas (no number or null holds one)."""
    if not all(v is None or type(v) is float for v in values):
        return [json_safe(orjson.dumps(v).decode()) for v in values]
    return orjson.dumps(values).decode()[1:-1].split(",") if values else []


def _text_json(value, known: dict[str, str]) -> str:
    """The JSON of a cell's text as Plotly writes it (:func:`json_safe` of orjson's), looked up in
    ``known`` (text -> JSON) and added to it."""
    if type(value) is not str:
        return json_safe(orjson.dumps(value).decode())
    if value not in known:
        known[value] = json_safe(orjson.dumps(value).decode())
    return known[value]


#: Stand-ins for the heatmap's z, hover and text grids in the JSON of the rest of its figure:
#: strings no cell, tag (escaped) or label can be, each written once before the replaced grid.
_CELL_MARKS = ("<z>", "<customdata>", "<text>")


@functools.lru_cache(maxsize=1 << 12)
def _day_label(day: str) -> str:
    """``YYYY-MM-DD`` as ``Mon DD`` (a heatmap column)."""
    return f"{date.fromisoformat(day):%b %d}"


@functools.lru_cache(maxsize=1 << 16)
def _cell(expected: float, valid: float, interpolated: float, rejected: float, issues: str) -> tuple:
    """``(z, hover, text)`` of one heatmap cell; the same cell recurs on a month of pages."""
    c = completeness(expected, valid)
    z = None if math.isnan(c) else c
    hover = (f"valid {int(valid)}/{int(expected)}, interpolated {int(interpolated)}, rejected {int(rejected)}"
             + (f"<br>{esc(issues)}" if issues else ""))
    return z, hover, "" if z is None else f"{z * 100:.0f}"


def _quality_scale(minimum: float) -> list:
    """Red below the minimum, yellow at it, green at 100 % (positions strictly increasing)."""
    m = min(max(minimum, 0.02), 0.99)
    return [[0, BAD_COLOR], [max(m - 0.1, m / 2), "#f59f00"], [m, "#ffe066"], [1, OK_COLOR]]
