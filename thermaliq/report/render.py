"""Efficiency and data-quality reports: per facility (day, month, latest) and a fleet index.

:func:`render_reports` reads the facilities' data once from the DuckDB relations (DESIGN §6), one
query per relation for many facilities together (:func:`~thermaliq.report.data.load_windows`), and
writes ``<reports>/index.html`` (fleet), ``<reports>/<facility_id>/<YYYY-MM-DD>.html`` (day),
``<reports>/<facility_id>/<YYYY-MM>.html`` (month) and ``<reports>/<facility_id>/index.html``
(the latest day, with a list of every report of the facility). Plotly's JavaScript is written
once as ``<reports>/plotly.min.js``; pages refer to it relatively and open offline from disk.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from thermaliq.report import figures as figs
from thermaliq.config import Facility
from thermaliq.errors import DataError
from thermaliq.periods import days_in, local_midnight, month_bounds, month_key, months_touching
from thermaliq.report.data import ReportData, Window, benchmark_band, load_windows, summary_value, window
from thermaliq.report.fleet import failed_row, fleet_page, fleet_row, merge_fleet_rows
from thermaliq.report.html import (ensure_plotly_js, esc, figure_html, fmt_pct, link, notes_html, page,
                                   section, table_html, write_atomic)
from thermaliq.report.quality import completeness, local_label
from thermaliq.report.view import FacilityView, PageView
from thermaliq.report.sankey import fmt_kwh, sankey_data

#: Facility-days read together (one query per relation for many facilities; each query scans its
#: relation's view once, whatever the number of facilities): bounds memory on big fleets and ranges.
LOAD_FACILITY_DAYS = 20_000

HELP = (
    "<details><summary>How to read this report</summary><ul class=\"help\">"
    "<li><b>Energy flows</b>: width is energy [kWh] on the stated basis. Inputs (orange) enter the "
    "plant; useful outputs (green) and known losses (red) leave it. <i>Unaccounted</i> is input − "
    "outputs − known losses; a dark-red input node means outputs and losses exceed the inputs "
    "(a metering or balance error). Small flows are grouped as <i>Other</i>.</li>"
    "<li><b>Efficiency trend</b>: each point is one local day's useful output / input [%]; the "
    "dashed line is the mean of up to 7 preceding usable days, the reference of the "
    "efficiency_anomaly alert; the green band is the benchmark range of the facility type "
    "(dotted: typical). The shaded column marks the reported period.</li>"
    "<li><b>Energy balance</b>: (input − useful − losses) / input per day; bars outside the red "
    "dashed ±tolerance lines raise an energy_balance alert.</li>"
    "<li><b>Data quality</b>: share of expected readings present per tag and day (numbers in %); "
    "hover shows interpolated and rejected counts and issues. The table sums the report period.</li>"
    "</ul></details>")


def _kpis(summary: dict | None, facility: Facility, alerts: int, placement) -> str:
    th = facility.thresholds
    basis = summary.get("basis", facility.basis) if summary else facility.basis
    bal, dq = summary_value(summary, "balance_error_percent"), summary_value(summary, "data_quality_score")
    items = [
        ("Efficiency", f"{fmt_pct(summary_value(summary, 'efficiency_percent'))} {basis}", ""),
        ("Energy input", fmt_kwh(summary_value(summary, "energy_input_kwh")), ""),
        ("Useful output", fmt_kwh(summary_value(summary, "useful_output_kwh")), ""),
        ("Known losses", fmt_kwh(summary_value(summary, "losses_kwh")), ""),
        ("Unaccounted", fmt_kwh(summary_value(summary, "unaccounted_kwh")), ""),
        (f"Balance error (±{th.balance_tolerance_percent:g} %)", fmt_pct(bal, 2),
         "" if math.isnan(bal) else ("bad" if abs(bal) > th.balance_tolerance_percent else "ok")),
        (f"Data quality (min {th.data_quality_min:.2f})", "–" if math.isnan(dq) else f"{dq:.2f}",
         "" if math.isnan(dq) else ("bad" if dq < th.data_quality_min else "ok")),
        ("Alerts", str(alerts), "bad" if alerts else "ok"),
    ]
    if placement is not None:
        items.append((f"Benchmark {placement.minimum:g}–{placement.best:g} %", str(placement.position), ""))
    cells = "".join(f'<div class="kpi {cls}"><div class="l">{esc(label)}</div>'
                    f'<div class="v">{esc(value)}</div></div>' for label, value, cls in items)
    extra = ""
    if summary:
        indirect = fmt_pct(summary_value(summary, "indirect_efficiency_percent"))
        extra = (f"<p class=\"notes\">Indirect efficiency {indirect}, "
                 f"exergy efficiency {fmt_pct(summary_value(summary, 'exergy_efficiency_percent'))}; "
                 f"status {esc(summary.get('status', ''))}; source: {esc(summary.get('source', ''))}.</p>")
    return f'<div class="kpis">{cells}</div>{extra}'


def _sankey_section(view: PageView, facility: Facility, basis: str, title: str, stats: dict) -> str:
    # streams in configuration order: the stored row order of a month's streams is arbitrary
    energies, how = view.stream_energies_of_period([s.id for s in facility.streams])
    began = time.perf_counter()
    try:
        sd = sankey_data(energies)
    except ValueError as exc:
        stats["sankey_errors"] = stats.get("sankey_errors", 0) + 1
        return section("Energy flows", f'<p class="empty">Energy flows could not be drawn: {esc(exc)}</p>')
    stats["sankey_seconds"] = stats.get("sankey_seconds", 0.0) + time.perf_counter() - began
    notes = sd.notes + ([f"Stream energies {how}."] if how else [])
    if sd.empty_reason:
        body = f'<p class="empty">{esc(sd.empty_reason)}</p>'
    else:
        body = figure_html(figs.sankey_figure(sd, basis, title), "fig-sankey")
    return section(f"Energy flows [kWh], {basis} basis", body + notes_html(notes), section_id="flows")


def _trend_sections(view: PageView, facility: Facility, basis: str, placement) -> str:
    days = view.days()
    tz, period = facility.timezone, (view.start, view.end)
    if days is None:
        empty = '<p class="empty">No day calculations in the trailing window.</p>'
        return section("Efficiency trend", empty) + section("Energy balance", empty)
    trend = figure_html(figs.trend_figure(days, tz=tz, basis=basis, period=period, band=placement),
                        "fig-trend")
    if pd.notna(days["balance_error_percent"]).any():
        balance = figure_html(figs.balance_figure(
            days, tz=tz, basis=basis, tolerance_percent=facility.thresholds.balance_tolerance_percent,
            period=period), "fig-balance")
    else:
        balance = ('<p class="empty">No balance error: it needs declared losses (DESIGN §7), '
                   "and this facility declares none or they were not valid.</p>")
    if placement is not None:
        trend += notes_html([f"Benchmark ({placement.basis}): {placement.source}"])
    return (section(f"Efficiency trend [%], {basis} basis", trend, section_id="trend")
            + section(f"Energy balance [% of input], {basis} basis", balance, section_id="balance"))


def _quality_section(view: PageView, facility: Facility) -> str:
    if not len(view.data_quality):
        return section("Data quality", '<p class="empty">No data-quality records in the window.</p>')
    heat = figure_html(figs.quality_heatmap(view.repair_totals_by_day(), tz=facility.timezone,
                                            minimum=facility.thresholds.data_quality_min), "fig-quality")
    last = view.facility.last_reading
    rows = [{"tag": tag, "expected": int(e), "valid": int(v), "interpolated": int(i), "rejected": int(r),
             "completeness": fmt_pct(completeness(e, v) * 100),
             "last": _last_reading(last.get(tag), view.end, facility.timezone),
             "issues": "; ".join(sorted(issues))}
            for (tag,), (e, v, i, r, issues) in view.repair_totals_by_tag().items()]
    table = table_html(rows, [("tag", "tag"), ("expected", "expected points"), ("valid", "valid"),
                              ("interpolated", "interpolated"), ("rejected", "rejected"),
                              ("completeness", "completeness"), ("last", "last reading (local)"),
                              ("issues", "issues")],
                       numeric=("expected", "valid", "interpolated", "rejected", "completeness"))
    return section("Data quality: completeness per tag and day, repairs in this period",
                   heat + "<h3>This period</h3>" + table, section_id="quality")


def _last_reading(ts, end: pd.Timestamp, tz: str) -> str:
    """The last reading time when it is inside the period (a meter that went quiet), else a hint."""
    if ts is not None and not pd.isna(ts) and ts >= end:
        return "after this period"
    return _local_text(ts, tz)


def _local_text(ts, tz: str) -> str:
    if ts is None or pd.isna(ts):
        return "–"
    return local_label(ts, tz)


def _alerts_section(view: PageView, tz: str) -> str:
    if not len(view.alerts):
        return section("Alerts (0)", '<p class="empty">No alerts in this period.</p>', section_id="alerts")
    a = view.alerts_frame().sort_values(["period_start", "severity"])
    rows = [{"when": _local_text(r.period_start, tz),
             "severity": f'<span class="sev-{esc(r.severity)}">{esc(r.severity)}</span>',
             "kind": r.kind, "value": f"{r.value:.2f}" if pd.notna(r.value) else "–",
             "threshold": f"{r.threshold:.2f}" if pd.notna(r.threshold) else "–",
             "message": r.message} for r in a.itertuples()]
    table = table_html(rows, [("when", "period start (local)"), ("severity", "severity"),
                              ("kind", "kind"), ("value", "value"), ("threshold", "threshold"),
                              ("message", "message")], numeric=("value", "threshold"), raw=("severity",))
    return section(f"Alerts ({len(a)})", table, section_id="alerts")


def _footer(view: PageView, generated: datetime) -> str:
    runs, mine = view.runs()
    text = f"Generated {generated:%Y-%m-%d %H:%M} UTC by thermaliq."
    if runs:
        text += " Calculated by run(s): " + "; ".join(runs) + (
            f" and {mine - len(runs)} more." if mine > len(runs) else ".")
    return esc(text) + notes_html(view.notes)


def facility_page(data: ReportData | PageView, facility: Facility, label: str, *, nav: str,
                  stats: dict | None = None, extra: str = "", memo: dict | None = None) -> str:
    """The HTML of one facility report for ``data``'s period (``label`` names it, e.g. a date).

    ``data`` is one page's :class:`ReportData`, or a :class:`~thermaliq.report.view.PageView` of a
    facility's data (many pages). ``memo``: a dict shared by pages of the same data and period (the
    last day's page and the latest page): the sections that do not name the page are built once.
    The Sankey is built for each page (its title names the page, and its statistics count per page).
    """
    view = data if isinstance(data, PageView) else FacilityView(data, facility.timezone).whole()
    stats = {} if stats is None else stats
    memo = {} if memo is None else memo
    if "basis" not in memo:
        summary = view.summary()
        basis = str(summary["basis"]) if summary and summary.get("basis") else facility.basis
        placement, bench_note = benchmark_band(facility.type, summary_value(summary, "efficiency_percent"), basis)
        if bench_note:
            view.notes.append(bench_note)
        memo.update(basis=basis, kpis=_kpis(summary, facility, len(view.alerts), placement),
                    rest=(_trend_sections(view, facility, basis, placement) + _quality_section(view, facility)
                          + _alerts_section(view, facility.timezone)),
                    footer=_footer(view, datetime.now(timezone.utc)))
    basis = memo["basis"]
    body = (memo["kpis"] + _sankey_section(view, facility, basis, f"{facility.name} {label}", stats)
            + memo["rest"] + extra + section("Help", HELP))
    title = f"{facility.name} ({facility.facility_id}) — {label}"
    subtitle = (f"{facility.type}, {facility.timezone}; every efficiency is on the {basis} basis; "
                "energies in kWh")
    return page(title, subtitle, body, plotly_src="../plotly.min.js", nav=nav, footer=memo["footer"])


def _nav(day: date | None, month: str, reports: set[str]) -> str:
    parts = [link("../index.html", "Fleet index"), link("index.html", "Latest / all reports")]
    if day is not None:
        for other, text in ((day - timedelta(days=1), "◀ previous day"),
                            (day + timedelta(days=1), "next day ▶")):
            if f"{other:%Y-%m-%d}.html" in reports:
                parts.append(link(f"{other:%Y-%m-%d}.html", f"{text} {other:%Y-%m-%d}"))
    if day is not None and f"{month}.html" in reports:
        parts.append(link(f"{month}.html", f"Month {month}"))
    return "".join(parts)


def _facility_window(facility: Facility, start: date, end: date, trailing_days: int) -> Window:
    """What a facility's pages of ``start`` .. ``end`` need: the months touching them, trailing window."""
    tz = facility.timezone
    months = months_touching(start, end)
    first = min(start, month_bounds(months[0])[0])
    last = month_bounds(months[-1])[1]
    return window(facility.facility_id, local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz),
                  tz=tz, trailing_days=trailing_days + (last - start).days + 1)


def _render_facility(loaded: ReportData, reports_dir: Path, facility: Facility, start: date, end: date,
                     trailing_days: int, stats: dict, run=None) -> tuple[list[Path], dict]:
    """Write a facility's day, month and index pages; return (paths, fleet-index row).

    With ``run`` (``run(job, *args)`` runs a job in a worker process) and a long range, the first
    half of the day pages is rendered by :func:`render_day_pages` in a worker while this process
    renders the rest (the data crosses as one small pickle, ~1 MB for a year)."""
    tz, fid = facility.timezone, facility.facility_id
    months = months_touching(start, end)
    out_dir = reports_dir / fid
    existing = {p.name for p in out_dir.glob("*.html")} if out_dir.exists() else set()
    names = existing | {f"{d:%Y-%m-%d}.html" for d in days_in(start, end)} | {f"{m}.html" for m in months}
    days = days_in(start, end)
    offload = days[:len(days) // 2] if run is not None and len(days) >= OFFLOAD_MIN_DAYS else []
    with ThreadPoolExecutor(1, thread_name_prefix="report-pages") as helper:
        elsewhere = helper.submit(run, render_day_pages, loaded, facility, offload, names, str(reports_dir),
                                  trailing_days) if offload else None
        view = FacilityView(loaded, tz)
        paths, latest = _day_pages(view, facility, days[len(offload):], names, out_dir, trailing_days, stats, end)
        if elsewhere is not None:
            their_paths, their_stats = elsewhere.result()
            paths = [Path(p) for p in their_paths] + paths
            stats["sankey_seconds"] = stats.get("sankey_seconds", 0.0) + their_stats.get("sankey_seconds", 0.0)
            stats["sankey_errors"] = stats.get("sankey_errors", 0) + their_stats.get("sankey_errors", 0)
    last_day = view.period(local_midnight(end, tz), local_midnight(end + timedelta(days=1), tz), trailing_days)
    for m in months:
        m_first, m_last = month_bounds(m)
        data = view.period(local_midnight(m_first, tz), local_midnight(m_last + timedelta(days=1), tz),
                           max(trailing_days, m_last.day))
        html = facility_page(data, facility, f"month {m}", nav=_nav(None, m, names), stats=stats)
        paths.append(write_atomic(out_dir / f"{m}.html", html))
    listing = "".join(f"<li>{link(n, n.removesuffix('.html'))}</li>" for n in sorted(names, reverse=True)
                      if n != "index.html")
    html = facility_page(last_day, facility, f"latest day {end:%Y-%m-%d}", nav=_nav(end, month_key(end), names),
                         extra=section("All reports of this facility", f"<ul>{listing}</ul>"), memo=latest)
    paths.append(write_atomic(out_dir / "index.html", html))
    whole = loaded.period(local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz), trailing_days)
    return paths, whole


#: Day pages of one facility from which half are rendered in a worker process (when the task
#: gives one): below, shipping the data costs more than it saves.
OFFLOAD_MIN_DAYS = 28


def render_day_pages(loaded: ReportData, facility: Facility, days: list[date], names: set[str],
                     reports_dir: str, trailing_days: int) -> tuple[list[str], dict]:
    """Job: write the day pages of ``days`` of one facility from its loaded data; return the
    paths written and the Sankey statistics (``sankey_seconds``, ``sankey_errors``)."""
    stats = {"sankey_seconds": 0.0, "sankey_errors": 0}
    view = FacilityView(loaded, facility.timezone)
    paths, _ = _day_pages(view, facility, days, names, Path(reports_dir) / facility.facility_id,
                          trailing_days, stats, None)
    return [str(p) for p in paths], stats


def _day_pages(view: FacilityView, facility: Facility, days: list[date], names: set[str], out_dir: Path,
               trailing_days: int, stats: dict, end: date | None) -> tuple[list[Path], dict]:
    """Write the day pages of ``days``; return them and the memo of the page of ``end`` (shared
    with the latest page)."""
    tz = facility.timezone
    paths, latest = [], {}
    for d in days:
        data = view.period(local_midnight(d, tz), local_midnight(d + timedelta(days=1), tz), trailing_days)
        html = facility_page(data, facility, f"day {d:%Y-%m-%d}", nav=_nav(d, month_key(d), names), stats=stats,
                             memo=latest if d == end else None)
        paths.append(write_atomic(out_dir / f"{d:%Y-%m-%d}.html", html))
    return paths, latest


#: Facilities read together of which half are rendered in a worker process (when the task gives
#: one): a fleet's night is mostly many small pages.
OFFLOAD_MIN_FACILITIES = 8


def _render_chunk(loaded: dict[str, ReportData], facilities: dict[str, Facility], chunk: list[str],
                  reports_dir: Path, start: date, end: date, trailing_days: int, run) -> dict[str, tuple]:
    """Render the facilities of ``chunk`` (their data loaded), half of them in a worker process
    when there are many and ``run`` is given; per id what :func:`render_facilities` returns."""
    theirs = chunk[:len(chunk) // 2] if run is not None and len(chunk) >= OFFLOAD_MIN_FACILITIES else []
    with ThreadPoolExecutor(1, thread_name_prefix="report-facilities") as helper:
        elsewhere = helper.submit(run, render_facilities, {fid: loaded.pop(fid) for fid in theirs},
                                  {fid: facilities[fid] for fid in theirs}, theirs, str(reports_dir), start, end,
                                  trailing_days) if theirs else None
        out = render_facilities(loaded, facilities, chunk[len(theirs):], str(reports_dir), start, end,
                                trailing_days, run)
        if elsewhere is not None:
            out.update(elsewhere.result())
    return out


def render_facilities(loaded: dict[str, ReportData], facilities: dict[str, Facility], ids: list[str],
                      reports_dir: str, start: date, end: date, trailing_days: int,
                      run=None) -> dict[str, tuple]:
    """Job (and this process's share): write the pages of each facility of ``ids`` from its loaded
    data. Per id: ``(paths, whole, stats, problem)``: the pages written, the facility's
    :class:`ReportData` of ``start`` .. ``end``, its Sankey statistics, and the text of the
    :class:`DataError` that stopped it (``None`` when it was written)."""
    out = {}
    for fid in ids:
        fstats = {"sankey_seconds": 0.0, "sankey_errors": 0}
        try:
            written, whole = _render_facility(loaded.pop(fid), Path(reports_dir), facilities[fid], start, end,
                                              trailing_days, fstats, run)
        except DataError as exc:
            out[fid] = ([], None, fstats, str(exc))
            continue
        out[fid] = (written, whole, fstats, None)
    return out


def render_reports(con: duckdb.DuckDBPyConnection, home_reports_dir: Path, facilities: dict[str, Facility],
                   start: date, end: date, *, trailing_days: int = 30,
                   stats: dict[str, dict] | None = None,
                   periods: dict[str, ReportData] | None = None, run=None) -> list[Path]:
    """Write the fleet index and every facility's day, month and latest reports.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection with the relations of DESIGN §6.
    home_reports_dir : pathlib.Path
        ``<home>/reports``.
    facilities : dict of str to Facility
        Facilities to report, by id.
    start, end : datetime.date
        First and last local day to report (inclusive); months touching them are reported whole.
    trailing_days : int, default 30
        Look-back of the trend, balance and quality figures [days].
    stats : dict, optional
        Filled per facility id with ``sankey_seconds`` [s] and ``sankey_errors`` (for metrics).
    periods : dict, optional
        Filled per facility id with its :class:`ReportData` of ``start`` .. ``end`` (the fleet row's
        data), for :func:`tasks.publish.publish_flow_run` to use instead of reading it again.
    run : callable, optional
        ``run(job, *args)`` runs a job in a worker process (``tasks.workers.run``): half of a
        long range's day pages are then rendered there (:func:`render_day_pages`).

    Returns
    -------
    list of pathlib.Path
        Every page written, the fleet index last.

    Raises
    ------
    DataError
        After writing everything else, when some facility's data could not be read (the fleet
        index shows which and why).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    reports_dir = Path(home_reports_dir)
    ensure_plotly_js(reports_dir)
    paths, rows, failures = [], {}, []
    ids = sorted(facilities)
    span = (month_bounds(month_key(end))[1] - min(start, month_bounds(month_key(start))[0])).days + 1 + trailing_days
    size = max(1, LOAD_FACILITY_DAYS // span)
    for chunk in (ids[i:i + size] for i in range(0, len(ids), size)):
        try:
            loaded, error = load_windows(con, [_facility_window(facilities[fid], start, end, trailing_days)
                                               for fid in chunk]), None
        except DataError as exc:
            loaded, error = {}, exc
        if error is not None:
            outcomes = {fid: ([], None, {"sankey_seconds": 0.0, "sankey_errors": 0}, str(error)) for fid in chunk}
        else:
            outcomes = _render_chunk(loaded, facilities, chunk, reports_dir, start, end, trailing_days, run)
        for fid in chunk:
            written, whole, fstats, problem = outcomes[fid]
            if stats is not None:
                stats[fid] = fstats
            if problem is not None:
                failures.append(f"{fid}: {problem}")
                rows[fid] = failed_row(facilities[fid], start, end, problem)
                continue
            rows[fid] = fleet_row(whole, facilities[fid], start, end)
            if periods is not None:
                periods[fid] = whole
            paths.extend(written)
    merged, note = merge_fleet_rows(reports_dir, rows)
    paths.append(write_atomic(reports_dir / "index.html", fleet_page(merged, note)))
    if failures:
        raise DataError("reports failed for " + "; ".join(failures), source=str(reports_dir))
    return paths
