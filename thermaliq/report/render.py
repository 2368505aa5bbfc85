"""Efficiency and data-quality reports: per facility (day, month, latest) and a fleet index.

:func:`render_reports` reads the facilities' data once from the DuckDB relations (DESIGN §6), one
query per relation for many facilities together (:func:`~thermaliq.report.data.load_windows`), and
writes ``<reports>/index.html`` (fleet), ``<reports>/<facility_id>/<YYYY-MM-DD>.html`` (day),
``<reports>/<facility_id>/<YYYY-MM>.html`` (month) and ``<reports>/<facility_id>/index.html``
(the latest day, with a list of every report of the facility). Plotly's JavaScript is written
once as ``<reports>/plotly.min.js``; pages refer to it relatively and open offline from disk.
"""
from __future__ import annotations

import functools
import math
import time
from concurrent.futures import Executor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from markupsafe import Markup

from thermaliq.config import Facility
from thermaliq.errors import DataError
from thermaliq.periods import days_in, local_midnight, month_bounds, month_key, months_touching
from thermaliq.report import figures as figs
from thermaliq.report.engineering import engineering_sections, with_uncertainty, within_text
from thermaliq.report.data import ReportData, Window, load_windows, window
from thermaliq.report.fleet import failed_row, fleet_page, fleet_row, merge_fleet_rows
from thermaliq.report.html import (PARTS, ensure_plotly_js, figure_html, figure_json_html, fmt_pct, render_page,
                                  write_atomic)
from thermaliq.physics import efficiency_ranges
from thermaliq.report.periods import (benchmark_band, benchmarked, energy_tiles, recalculation_texts,
                                     summary_value, valid_intervals_text)
from thermaliq.report.quality import completeness, local_label
from thermaliq.report.sankey import sankey_data
from thermaliq.report.view import FacilityView, PageView, balance_energies
from thermaliq.report import baseline_page, savings

#: Facility-days read together (one query per relation for many facilities; each query scans its
#: relation's view once, whatever the number of facilities): bounds memory on big fleets and ranges.
LOAD_FACILITY_DAYS = 20_000

#: Pages per job given to an executor (a job of day pages gets only its days' rows). A job's own
#: cost (its facility's view and quality grid, pickling) is ~10 ms against ~3 ms a day page: 48
#: pages keep it near a tenth and still make 8 jobs of a year's day pages (16 cost ~0.3 s more
#: CPU on a plant-year, benchmarks.bench_report --workers 2).
JOB_PAGES = 48


def operating_label(efficiency_percent: float, basis: str) -> str:
    """`` (condensing)`` for a valid efficiency above 100 % on LHV: a condensing boiler recovers
    part of the latent heat the lower heating value leaves out (bound 100 x HHV/LHV)."""
    return " (condensing)" if basis == "LHV" and efficiency_percent > 100.0 else ""


def _kpis(summary: dict | None, facility: Facility, alerts: int, placement, streams) -> Markup:
    th = facility.thresholds
    basis = summary.get("basis", facility.basis) if summary else facility.basis
    bal, dq = summary_value(summary, "balance_error_percent"), summary_value(summary, "data_quality_score")
    eff, u_eff = (summary_value(summary, k) for k in ("efficiency_percent", "efficiency_uncertainty_points"))
    firing_h, standby_h = summary_value(summary, "firing_hours"), summary_value(summary, "standby_hours")
    items = [
        ("Efficiency" + (" (U, k = 2)" if math.isfinite(u_eff) else "")
         + f", {valid_intervals_text(summary, streams)}",
         f"{with_uncertainty(eff, u_eff)} {basis}" + operating_label(eff, basis), ""),
        ("Firing / standby hours", "–" if math.isnan(firing_h) else f"{firing_h:g} h / {standby_h:g} h", ""),
        *energy_tiles(summary, streams),
        (f"Balance error (±{th.balance_tolerance_percent:g} %), {valid_intervals_text(summary, streams)}",
         fmt_pct(bal, 2),
         "" if math.isnan(bal) else ("bad" if abs(bal) > th.balance_tolerance_percent else "ok")),
        (f"Data quality (min {th.data_quality_min:.2f})", "–" if math.isnan(dq) else f"{dq:.2f}",
         "" if math.isnan(dq) else ("bad" if dq < th.data_quality_min else "ok")),
        ("Alerts", str(alerts), "bad" if alerts else "ok"),
    ]
    if placement is not None:
        placed = "indirect" if efficiency_ranges.benchmark_measure(facility.type) == "combustion" else "direct"
        compared, u_compared = ((summary_value(summary, "indirect_efficiency_percent"),
                                 summary_value(summary, "indirect_efficiency_uncertainty_points"))
                                if placed == "indirect" else (eff, u_eff))
        near = min((placement.minimum, placement.best), key=lambda b: abs(compared - b))
        within = within_text(compared - near, u_compared) if abs(compared - near) <= u_compared else ""
        items.append((f"Benchmark ({placed}) {placement.minimum:.1f}–{placement.best:.1f} %",
                      str(placement.position) + (f" ({near:g} % {within})" if within else ""), ""))
    notes = None if not summary else {
        "indirect": fmt_pct(summary_value(summary, "indirect_efficiency_percent")),
        "exergy": fmt_pct(summary_value(summary, "exergy_efficiency_percent")),
        "status": summary.get("status", ""), "source": summary.get("source", "")}
    return PARTS.kpis(items, notes)


def _sankey_section(view: PageView, facility: Facility, basis: str, title: str, stats: dict) -> Markup:
    # streams in configuration order: the stored row order of a month's streams is arbitrary
    streams, how = view.stream_energies_of_period([s.id for s in facility.streams])
    energies = dict(streams, energy_kwh=balance_energies(streams))   # the balance's intervals
    began = time.perf_counter()
    try:
        sd = sankey_data(energies)
    except ValueError as exc:
        stats["sankey_errors"] = stats.get("sankey_errors", 0) + 1
        return PARTS.section("Energy flows", PARTS.empty(f"Energy flows could not be drawn: {exc}"))
    stats["sankey_seconds"] = stats.get("sankey_seconds", 0.0) + time.perf_counter() - began
    notes = sd.notes + ([f"Stream energies {how}."] if how else [])
    if sd.empty_reason:
        body = PARTS.empty(sd.empty_reason)
    else:
        body = figure_html(figs.sankey_figure(sd, basis, title), "fig-sankey")
    return PARTS.section(f"Energy flows [kWh], {basis} basis", body + PARTS.notes(notes), id="flows")


def _trend_sections(view: PageView, facility: Facility, basis: str, placement) -> Markup:
    days = view.days()
    tz, period = facility.timezone, (view.start, view.end)
    if days is None:
        empty = PARTS.empty("No day calculations in the trailing window.")
        return PARTS.section("Efficiency trend", empty) + PARTS.section("Energy balance", empty)
    trend = figure_html(figs.trend_figure(days, tz=tz, basis=basis, period=period, band=placement),
                        "fig-trend")
    if pd.notna(days["balance_error_percent"]).any():
        balance = figure_html(figs.balance_figure(
            days, tz=tz, basis=basis, tolerance_percent=facility.thresholds.balance_tolerance_percent,
            period=period), "fig-balance")
    else:
        balance = PARTS.empty("No balance error: it needs loss streams (role: loss, e.g. flue gas or "
                              "a shell estimate) in the facility's configuration, and this facility "
                              "declares none or they were not valid.")
    if placement is not None:
        trend += PARTS.notes([f"Benchmark ({placement.basis}): {placement.source}"])
    return (PARTS.section(f"Efficiency trend [%], {basis} basis", trend, id="trend")
            + PARTS.section(f"Energy balance [% of input], {basis} basis", balance, id="balance"))


def _quality_section(view: PageView, facility: Facility) -> Markup:
    if not len(view.data_quality):
        return PARTS.section("Data quality", PARTS.empty("No data-quality records in the window."))
    heat = figure_json_html(view.facility.quality_heatmap.figure_json(
        view.data_quality, tz=facility.timezone, minimum=facility.thresholds.data_quality_min), "fig-quality")
    last = view.facility.last_reading
    rows = [{"tag": tag, "expected": int(e), "valid": int(v), "interpolated": int(i), "rejected": int(r),
             "completeness": fmt_pct(completeness(e, v) * 100),
             "last": _last_reading(last.get(tag), view.end, facility.timezone),
             "issues": "; ".join(sorted(issues))}
            for (tag,), (e, v, i, r, issues) in view.repair_totals_by_tag().items()]
    table = PARTS.table(rows, [("tag", "tag"), ("expected", "expected points"), ("valid", "valid"),
                              ("interpolated", "interpolated"), ("rejected", "rejected"),
                              ("completeness", "completeness"), ("last", "last reading (local)"),
                              ("issues", "issues")],
                        numeric=("expected", "valid", "interpolated", "rejected", "completeness"))
    return PARTS.section("Data quality: completeness per tag and day, repairs in this period",
                         heat + PARTS.heading("This period") + table, id="quality")


def _last_reading(ts, end: pd.Timestamp, tz: str) -> str:
    """The last reading time when it is inside the period (a meter that went quiet), else a hint."""
    if ts is not None and not pd.isna(ts) and ts >= end:
        return "after this period"
    return _local_text(ts, tz)


def _local_text(ts, tz: str) -> str:
    if ts is None or pd.isna(ts):
        return "–"
    return local_label(ts, tz)


def _alerts_section(view: PageView, tz: str) -> Markup:
    if not len(view.alerts):
        return PARTS.section("Alerts (0)", PARTS.empty("No alerts in this period."), id="alerts")
    a = view.alerts_frame().sort_values(["period_start", "severity"])
    rows = [{"when": _local_text(r.period_start, tz),
             "severity": PARTS.severity(r.severity),
             "kind": r.kind, "value": f"{r.value:.2f}" if pd.notna(r.value) else "–",
             "threshold": f"{r.threshold:.2f}" if pd.notna(r.threshold) else "–",
             "message": r.message} for r in a.itertuples()]
    table = PARTS.table(rows, [("when", "period start (local)"), ("severity", "severity"),
                               ("kind", "kind"), ("value", "value"), ("threshold", "threshold"),
                               ("message", "message")], numeric=("value", "threshold"))
    return PARTS.section(f"Alerts ({len(a)})", table, id="alerts")


def _footer(view: PageView, generated: datetime) -> tuple[str, list[str]]:
    """The footer's text and notes (those of the data, and what the page's sections added)."""
    runs, mine = view.runs()
    text = f"Generated {generated:%Y-%m-%d %H:%M} UTC by thermaliq."
    if runs:
        text += " Calculated by run(s): " + "; ".join(runs) + (
            f" and {mine - len(runs)} more." if mine > len(runs) else ".")
    return text, list(view.notes)


def facility_page(data: ReportData | PageView, facility: Facility, label: str, *, nav: str,
                  stats: dict | None = None, extra: Markup = Markup(), memo: dict | None = None) -> str:
    """The HTML of one facility report for ``data``'s period (``label`` names it, e.g. a date).

    ``data`` is one page's :class:`ReportData`, or a :class:`~thermaliq.report.view.PageView` of a
    facility's data (many pages). ``memo``: a dict shared by pages of the same data and period (the
    last day's page and the latest page): the sections that do not name the page are built once.
    ``nav`` and ``extra`` are HTML (``Markup``, else escaped as text).
    The Sankey is built for each page (its title names the page, and its statistics count per page).
    """
    view = data if isinstance(data, PageView) else FacilityView(data, facility.timezone).whole()
    stats = {} if stats is None else stats
    memo = {} if memo is None else memo
    if "basis" not in memo:
        summary = view.summary()
        basis = str(summary["basis"]) if summary and summary.get("basis") else facility.basis
        placement, bench_note = benchmark_band(facility.type, benchmarked(facility.type, summary), basis)
        if bench_note:
            view.notes.append(bench_note)
        order = [s.id for s in facility.streams]
        marks = recalculation_texts(view.recalculations(), facility.timezone)
        memo.update(basis=basis, kpis=_kpis(summary, facility, len(view.alerts), placement,
                                            view.stream_energies_of_period(order)[0])
                    + (PARTS.recalculated(marks) if marks else Markup()),
                    rest=(engineering_sections(summary, view.balance_energies_of_period(order),
                                               view.budget())
                          + _trend_sections(view, facility, basis, placement)
                          + savings.period_section(view, facility, placement) + _quality_section(view, facility)
                          + _alerts_section(view, facility.timezone)),
                    footer=_footer(view, datetime.now(timezone.utc)))
    basis = memo["basis"]
    footer_text, footer_notes = memo["footer"]
    return render_page(
        "facility.html", title=f"{facility.name} ({facility.facility_id}) — {label}",
        subtitle=f"{facility.type}, {facility.timezone}; every efficiency is on the {basis} basis; energies in kWh",
        plotly_src="../plotly.min.js", nav=nav, kpis=memo["kpis"],
        flows=_sankey_section(view, facility, basis, f"{facility.name} {label}", stats),
        trend_quality_alerts=memo["rest"], extra=extra, help=help_section(), footer_text=footer_text,
        footer_notes=PARTS.notes(footer_notes))


@functools.cache
def help_section() -> Markup:
    """The "Help" section closing every facility page (the ``help`` part of ``parts.html``)."""
    return PARTS.section("Help", PARTS.help())


def _nav(day: date | None, month: str, reports: set[str]) -> Markup:
    parts = [("../index.html", "Fleet index"), ("index.html", "Latest / all reports")]
    if day is not None:
        for other, text in ((day - timedelta(days=1), "◀ previous day"),
                            (day + timedelta(days=1), "next day ▶")):
            if f"{other:%Y-%m-%d}.html" in reports:
                parts.append((f"{other:%Y-%m-%d}.html", f"{text} {other:%Y-%m-%d}"))
    if day is not None and f"{month}.html" in reports:
        parts.append((f"{month}.html", f"Month {month}"))
    return PARTS.links(parts)


def _facility_window(facility: Facility, start: date, end: date, trailing_days: int) -> Window:
    """What a facility's pages of ``start`` .. ``end`` need: the months touching them, trailing window."""
    tz = facility.timezone
    months = months_touching(start, end)
    first = min(start, month_bounds(months[0])[0])
    last = month_bounds(months[-1])[1]
    return window(facility.facility_id, local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz),
                  tz=tz, trailing_days=trailing_days + (last - start).days + 1)


def calculated_span(loaded: ReportData, tz: str, start: date, end: date) -> tuple[date, date] | None:
    """The first and last local day of ``start`` .. ``end`` with a stored day calculation (days
    outside a facility's data are not calculated), None when there is none."""
    calc = loaded.calculations
    if calc.empty:
        return None
    starts = pd.to_datetime(calc.loc[calc["granularity"] == "day", "period_start"], utc=True)
    days = sorted(d for d in starts.dt.tz_convert(tz).dt.date.unique() if start <= d <= end)
    return (days[0], days[-1]) if days else None


def _render_facility(loaded: ReportData, reports_dir: Path, facility: Facility, start: date, end: date,
                     trailing_days: int, stats: dict, executor: Executor | None = None) -> tuple[list[Path], dict]:
    """Write a facility's day, month and index pages; return (paths, fleet-index row).

    With an ``executor``, the day pages but the last (whose sections the latest page shares) are
    rendered by :func:`render_day_pages` jobs of :data:`JOB_PAGES` days each, while this process
    renders the rest; a job gets only the rows its days show (:func:`_days_data`)."""
    tz, fid = facility.timezone, facility.facility_id
    span = calculated_span(loaded, tz, start, end)
    if span is None:   # no data is not bad data: no page for days never calculated, and the
        # latest page stays the newest day with data
        return [], loaded.period(local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz),
                                 trailing_days)
    start, end = span
    months = months_touching(start, end)
    out_dir = reports_dir / fid
    existing = {p.name for p in out_dir.glob("*.html")} if out_dir.exists() else set()
    days = days_in(start, end)
    names = existing | {f"{d:%Y-%m-%d}.html" for d in days} | {f"{m}.html" for m in months}
    jobs = []
    if executor is not None:
        jobs = [executor.submit(render_day_pages, _days_data(loaded, tz, chunk, trailing_days), facility, chunk,
                                names, str(reports_dir), trailing_days)
                for chunk in _chunks(days[:-1], JOB_PAGES)]
        days = days[-1:]
    view = FacilityView(loaded, tz)
    paths, latest = _day_pages(view, facility, days, names, out_dir, trailing_days, stats, end)
    last_day = view.period(local_midnight(end, tz), local_midnight(end + timedelta(days=1), tz), trailing_days)
    for m in months:
        m_first, m_last = month_bounds(m)
        data = view.period(local_midnight(m_first, tz), local_midnight(m_last + timedelta(days=1), tz),
                           max(trailing_days, m_last.day))
        html = facility_page(data, facility, f"month {m}", nav=_nav(None, m, names), stats=stats)
        paths.append(write_atomic(out_dir / f"{m}.html", html))
    listing = PARTS.listing([n for n in sorted(names, reverse=True) if n != "index.html"])
    html = facility_page(last_day, facility, f"latest day {end:%Y-%m-%d}", nav=_nav(end, month_key(end), names),
                         extra=PARTS.section("All reports of this facility", listing), memo=latest)
    paths.append(write_atomic(out_dir / "index.html", html))
    theirs = []
    for job in jobs:
        their_paths, their_stats = job.result()
        theirs += [Path(p) for p in their_paths]
        for key in ("sankey_seconds", "sankey_errors"):
            stats[key] = stats.get(key, 0) + their_stats[key]
    whole = loaded.period(local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz), trailing_days)
    return theirs + paths, whole


def _days_data(loaded: ReportData, tz: str, days: list[date], trailing_days: int) -> ReportData:
    """The rows of ``loaded`` that the day pages of ``days`` (consecutive) show: those days and the
    trailing window of the first, a day more for a daylight-saving change. A job gets these, not
    the facility's whole range (a plant-year's data pickled ~3 MB per job, 76 MB for its pages)."""
    first, last = days[0], days[-1]
    return loaded.period(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz),
                         trailing_days + (last - first).days + 1)


def _chunks(items: list, size: int) -> list[list]:
    """``items`` in consecutive lists of ``size`` (the last may be shorter)."""
    return [items[i:i + size] for i in range(0, len(items), size)]


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
    after, midnight = None, None   # the day after the previous one and its start
    for d in days:
        start = midnight if d == after else local_midnight(d, tz)
        after = d + timedelta(days=1)
        midnight = local_midnight(after, tz)
        data = view.period(start, midnight, trailing_days)
        html = facility_page(data, facility, f"day {d:%Y-%m-%d}", nav=_nav(d, month_key(d), names), stats=stats,
                             memo=latest if d == end else None)
        paths.append(write_atomic(out_dir / f"{d:%Y-%m-%d}.html", html))
    return paths, latest


def _render_chunk(loaded: dict[str, ReportData], facilities: dict[str, Facility], chunk: list[str],
                  reports_dir: Path, start: date, end: date, trailing_days: int,
                  executor: Executor | None) -> dict[str, tuple]:
    """Render the facilities of ``chunk`` (their data loaded); per id what :func:`render_facilities`
    returns. With an ``executor``, facilities of a short range go to :func:`render_facilities`
    jobs of about :data:`JOB_PAGES` pages; those of a long range submit jobs of their day pages."""
    pages = len(days_in(start, end)) + len(months_touching(start, end)) + 1
    if executor is None or pages > JOB_PAGES:
        return render_facilities(loaded, facilities, chunk, str(reports_dir), start, end, trailing_days, executor)
    jobs = [executor.submit(render_facilities, {fid: loaded.pop(fid) for fid in group},
                            {fid: facilities[fid] for fid in group}, group, str(reports_dir), start, end, trailing_days)
            for group in _chunks(chunk, JOB_PAGES // pages)]
    return {fid: outcome for job in jobs for fid, outcome in job.result().items()}


def render_facilities(loaded: dict[str, ReportData], facilities: dict[str, Facility], ids: list[str],
                      reports_dir: str, start: date, end: date, trailing_days: int,
                      executor: Executor | None = None) -> dict[str, tuple]:
    """Job (or this process's part): write the pages of each facility of ``ids`` from its loaded
    data. Per id: ``(paths, whole, stats, problem)``: the pages written, the facility's
    :class:`ReportData` of ``start`` .. ``end``, its Sankey statistics, and the text of the
    :class:`DataError` that stopped it (``None`` when it was written). ``executor``: see
    :func:`_render_facility`."""
    out = {}
    for fid in ids:
        fstats = {"sankey_seconds": 0.0, "sankey_errors": 0}
        try:
            written, whole = _render_facility(loaded.pop(fid), Path(reports_dir), facilities[fid], start, end,
                                              trailing_days, fstats, executor)
        except DataError as exc:
            out[fid] = ([], None, fstats, str(exc))
            continue
        out[fid] = (written, whole, fstats, None)
    return out


def render_reports(con: duckdb.DuckDBPyConnection, home_reports_dir: Path, facilities: dict[str, Facility],
                   start: date, end: date, *, trailing_days: int = 30,
                   stats: dict[str, dict] | None = None,
                   periods: dict[str, ReportData] | None = None,
                   executor: Executor | None = None) -> list[Path]:
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
    executor : concurrent.futures.Executor, optional
        Runs the page-rendering jobs, each of about :data:`JOB_PAGES` pages: day pages of a
        facility (:func:`render_day_pages`) or whole facilities of a short range
        (:func:`render_facilities`). Their arguments pickle, so a process pool will do. None
        (default): every page is rendered in this process.

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
    baseline_paths = baseline_page.write_baseline_pages(con, reports_dir, facilities)
    paths, rows, failures = [], {}, []
    ids = sorted(facilities)
    span = (month_bounds(month_key(end))[1] - min(start, month_bounds(month_key(start))[0])).days + 1 + trailing_days
    size = max(1, LOAD_FACILITY_DAYS // span)
    for chunk in _chunks(ids, size):
        try:
            loaded, error = load_windows(con, [_facility_window(facilities[fid], start, end, trailing_days)
                                               for fid in chunk]), None
        except DataError as exc:
            loaded, error = {}, exc
        if error is not None:
            outcomes = {fid: ([], None, {"sankey_seconds": 0.0, "sankey_errors": 0}, str(error)) for fid in chunk}
        else:
            outcomes = _render_chunk(loaded, facilities, chunk, reports_dir, start, end, trailing_days, executor)
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
    paths.extend(baseline_paths)
    merged, note = merge_fleet_rows(reports_dir, rows)
    paths.append(write_atomic(reports_dir / "index.html", fleet_page(merged, note)))
    if failures:
        raise DataError("reports failed for " + "; ".join(failures), source=str(reports_dir))
    return paths
