"""Data of the reports, read from the DuckDB relations of DESIGN §6.

:func:`load_facility_period` reads one facility's ``calculations`` and ``stream_energies`` (current
versions only), ``data_quality``, ``alerts``, a per-tag summary of ``readings`` and the ``runs`` that
produced the calculations, from any DuckDB connection that has relations with those names and the
§6 columns; :func:`load_windows` does the same for many facilities with one query per relation
(each query scans a relation's view once, so a fleet costs about what one facility costs). The
result, :class:`ReportData`, is plain DataFrames; the figure and page functions take it, narrow it
to each page's period with :meth:`ReportData.period` and never touch the database; what they
derive from it (a period's summary, stream energies, day results) is in
:mod:`thermaliq.report.periods`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from thermaliq.errors import DataError

CALC_COLUMNS = ("facility_id", "granularity", "period_start", "period_end", "basis",
                "energy_input_kwh", "useful_output_kwh", "losses_kwh", "unaccounted_kwh",
                "efficiency_percent", "indirect_efficiency_percent", "balance_error_percent",
                "exergy_efficiency_percent", "data_quality_score", "status", "version",
                "is_current", "calculated_at", "run_id", "reason", "firing_hours", "standby_hours")
#: Columns of ``calculations`` added by issue 17 (expanded uncertainties, k = 2, and CHP
#: indicators) and issue 18 (CO2e): read when the relation has them, NaN otherwise.
CALC_ADDED_COLUMNS = ("efficiency_uncertainty_points", "indirect_efficiency_uncertainty_points",
                      "balance_error_uncertainty_points", "electrical_efficiency_percent",
                      "thermal_efficiency_percent", "purpa_efficiency_percent",
                      "effective_electrical_efficiency_percent", "primary_energy_savings_percent",
                      "co2e_kg", "co2e_intensity_kg_per_mwh")
BUDGET_COLUMNS = ("facility_id", "period_start", "period_end", "quantity", "source", "stream_id",
                  "standard_uncertainty", "unit", "sensitivity", "contribution_points")
SE_COLUMNS = ("facility_id", "granularity", "period_start", "period_end", "stream_id", "role",
              "carrier", "energy_kwh", "is_current")
#: Columns of ``stream_energies`` added by issue 21: ``energy_kwh`` is the stream's own energy over
#: ``valid_intervals`` of ``intervals``; ``balance_energy_kwh`` its energy over the facility's
#: valid intervals. NaN in rows written before (their ``energy_kwh`` was the balance one).
SE_ADDED_COLUMNS = ("balance_energy_kwh", "valid_intervals", "intervals")
#: Earlier versions of a period's result (issue 21: reports mark recalculated days).
PREVIOUS_COLUMNS = ("facility_id", "granularity", "period_start", "period_end", "version",
                    "efficiency_percent", "energy_input_kwh", "calculated_at", "reason")
DQ_COLUMNS = ("facility_id", "tag", "period_start", "period_end", "expected_points", "valid_points",
              "interpolated_points", "rejected_points", "completeness", "issues")
ALERT_COLUMNS = ("facility_id", "period_start", "period_end", "kind", "severity", "value",
                 "threshold", "message", "run_id")
RUN_COLUMNS = ("run_id", "flow", "started_at", "finished_at", "status", "parameters", "reason")
READING_SUMMARY_COLUMNS = ("tag", "first_ts", "last_ts", "points")
_TIME_COLUMNS = ("period_start", "period_end", "calculated_at", "started_at", "finished_at",
                 "first_ts", "last_ts")


@dataclass
class ReportData:
    """Everything one facility report shows, as plain DataFrames (times tz-aware UTC).

    ``start``/``end`` bound the reported period (end exclusive); the trend, balance and quality
    figures look back to ``window_start``. ``notes`` records relations that were missing.
    """

    facility_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    window_start: pd.Timestamp
    calculations: pd.DataFrame
    stream_energies: pd.DataFrame
    data_quality: pd.DataFrame
    alerts: pd.DataFrame
    readings_summary: pd.DataFrame
    runs: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    uncertainty_budget: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BUDGET_COLUMNS))
    #: earlier (not current) versions of the period's day and month results
    previous: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PREVIOUS_COLUMNS))

    def period(self, start: pd.Timestamp, end: pd.Timestamp,
               trailing_days: int = 30) -> "ReportData":
        """The same data narrowed to another period inside the loaded one (no database access)."""
        start, end = utc_instant(start, "UTC"), utc_instant(end, "UTC")
        window_start = min(start, end - pd.Timedelta(days=trailing_days))

        def cut(df: pd.DataFrame, lo: pd.Timestamp) -> pd.DataFrame:
            if df.empty:
                return df.reset_index(drop=True)
            return df.take(np.flatnonzero(overlaps(df, lo, end))).reset_index(drop=True)

        return replace(self, start=start, end=end, window_start=window_start,
                       calculations=cut(self.calculations, window_start),
                       stream_energies=cut(self.stream_energies, start),
                       data_quality=cut(self.data_quality, window_start),
                       alerts=cut(self.alerts, start), notes=list(self.notes),
                       uncertainty_budget=cut(self.uncertainty_budget, start),
                       previous=cut(self.previous, start))


def utc_instant(value: date | datetime | pd.Timestamp, tz: str) -> pd.Timestamp:
    """A UTC instant; a date is the local midnight in ``tz``, a naive time is local in ``tz``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


#: NaT as int64 nanoseconds (the value of ``NaT`` in :func:`instants_ns`).
NAT_NS = np.iinfo("int64").min


def instants_ns(times: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds (NaT as :data:`NAT_NS`)."""
    return times.to_numpy(dtype="datetime64[ns]").view("int64") if len(times) else np.empty(0, "int64")


def overlaps(df: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Mask of the rows whose period overlaps ``[start, end)`` (a NaT bound never does)."""
    ps, pe = instants_ns(df["period_start"]), instants_ns(df["period_end"])
    return (ps < end.value) & (pe > start.value) & (ps != NAT_NS) & (pe != NAT_NS)


def within(df: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Mask of the rows whose period lies inside ``[start, end]`` (a NaT bound never does)."""
    ps, pe = instants_ns(df["period_start"]), instants_ns(df["period_end"])
    return (ps >= start.value) & (pe <= end.value) & (ps != NAT_NS) & (pe != NAT_NS)


def _utc(df: pd.DataFrame) -> pd.DataFrame:
    """Time columns as tz-aware UTC [ns], whatever the DuckDB session time zone is; text columns as
    Python objects (each page takes rows of them several times: cheaper than Arrow-backed text)."""
    for col in df.columns:
        if col in _TIME_COLUMNS:
            df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ns, UTC]")
        elif isinstance(df[col].dtype, pd.StringDtype):
            df[col] = df[col].astype(object)
    return df


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _fetch(con: duckdb.DuckDBPyConnection, relation: str, columns: tuple[str, ...], sql: str,
           params: list, notes: list[str]) -> pd.DataFrame:
    """Run one SELECT; a missing relation gives an empty frame and a note.

    Results go through Arrow (``to_arrow_table().to_pandas()``): on string columns that is
    several times faster than ``.df()``.
    """
    try:
        df = con.sql(sql, params=params).to_arrow_table().to_pandas()
    except duckdb.CatalogException:
        notes.append(f"relation {relation!r} does not exist yet; its section is empty")
        return _empty(columns)
    except duckdb.BinderException as exc:
        raise DataError(f"relation {relation!r} lacks a column of DESIGN §6 "
                        f"({', '.join(columns)}): {exc}", source="thermaliq.duckdb") from exc
    return _utc(df)


@dataclass(frozen=True)
class Window:
    """What to load of one facility: its period ``[start, end)`` and trailing ``window_start`` (UTC)."""

    facility_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    window_start: pd.Timestamp


def window(facility_id: str, start: date | datetime | pd.Timestamp, end: date | datetime | pd.Timestamp,
           *, tz: str = "UTC", trailing_days: int = 30) -> Window:
    """The :class:`Window` of a facility's period (arguments as for :func:`load_facility_period`)."""
    start_ts, end_ts = utc_instant(start, tz), utc_instant(end, tz)
    if not start_ts < end_ts:
        raise ValueError(f"start {start_ts} must be before end {end_ts}")
    return Window(facility_id, start_ts, end_ts, min(start_ts, end_ts - pd.Timedelta(days=trailing_days)))


# One row per facility: its bounds, joined to a relation (DuckDB zips the unnested lists).
_BOUNDS = ("(SELECT unnest(?::VARCHAR[]) AS b_fid, unnest(?::TIMESTAMPTZ[]) AS b_lo, "
           "unnest(?::TIMESTAMPTZ[]) AS b_hi) AS b")


def _present(con: duckdb.DuckDBPyConnection, relation: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``columns`` that ``relation`` has (none when it does not exist): relations written
    before a column was added, or made by other programs, still load."""
    try:
        have = {row[0] for row in con.sql(f"DESCRIBE {relation}").fetchall()}
    except duckdb.Error:
        return ()
    return tuple(c for c in columns if c in have)


def _overlapping(relation: str, columns: tuple[str, ...], where: str = "") -> str:
    """Rows of ``relation`` overlapping each facility's bounds, with only the §6 ``columns``."""
    cols = ", ".join(f"t.{c}" for c in columns)
    return (f"SELECT {cols} FROM {relation} AS t JOIN {_BOUNDS} ON t.facility_id = b.b_fid "
            f"AND t.period_start < b.b_hi AND t.period_end > b.b_lo" + (f" WHERE {where}" if where else ""))


def _uncovered(days: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The spans of ``[lo, hi)`` that no ``day`` row of ``days`` covers."""
    spans, at = [], lo
    rows = days[days["granularity"] == "day"] if len(days) else days
    for start, end in sorted(zip(rows["period_start"].tolist(), rows["period_end"].tolist())) if len(rows) else ():
        if start > at:
            spans.append((at, min(start, hi)))
        at = max(at, end)
        if at >= hi:
            break
    if at < hi:
        spans.append((at, hi))
    return [(a, b) for a, b in spans if a < b]


def _split(df: pd.DataFrame, ids: list[str], key: str = "facility_id") -> dict[str, pd.DataFrame]:
    """Rows per facility id (every id present, sorted by ``period_start`` when there is one)."""
    if "period_start" in df.columns and len(df):
        df = df.sort_values([key, "period_start"], kind="stable")
    groups = {k: g.reset_index(drop=True) for k, g in df.groupby(key, sort=False)} if len(df) else {}
    return {fid: groups[fid] if fid in groups else df.iloc[0:0].reset_index(drop=True) for fid in ids}


#: Above this many distinct windows the reading summary joins a table of bounds instead of
#: naming each window's bounds as constants in its filter.
_CONSTANT_WINDOWS = 8


def _readings_summary_sql(windows: list[Window]) -> tuple[str, list]:
    """SQL and parameters of the per-tag reading summary of each facility's trailing window.

    Facilities that share a window (a fleet in one time zone) are filtered together. With a few
    distinct windows their bounds are constants of the filter, which DuckDB applies while it scans
    (about half the time of a join with a table of bounds on a plant-year); with many, the join.
    """
    head = "SELECT t.facility_id, t.tag, min(t.ts) AS first_ts, max(t.ts) AS last_ts, count(*) AS points "
    tail = " GROUP BY t.facility_id, t.tag ORDER BY t.facility_id, t.tag"
    ids = [w.facility_id for w in windows]
    marks = ", ".join("?" for _ in ids)  # constants: DuckDB prunes the facility partitions
    groups: dict[tuple, list[str]] = {}
    for w in windows:
        groups.setdefault((w.window_start, w.end), []).append(w.facility_id)
    if len(groups) > _CONSTANT_WINDOWS:
        bounds = [ids, [w.window_start.to_pydatetime() for w in windows], [w.end.to_pydatetime() for w in windows]]
        return (head + f"FROM readings AS t JOIN {_BOUNDS} ON t.facility_id = b.b_fid AND t.ts < b.b_hi "
                f"AND t.ts >= b.b_lo WHERE t.facility_id IN ({marks})" + tail, bounds + ids)
    terms, params = [], list(ids)
    for (lo, hi), members in groups.items():
        terms.append(f"(t.facility_id IN ({', '.join('?' for _ in members)}) AND t.ts >= ? AND t.ts < ?)")
        params += members + [lo.to_pydatetime(), hi.to_pydatetime()]
    where = f"WHERE t.facility_id IN ({marks}) AND (" + " OR ".join(terms) + ")"
    return head + "FROM readings AS t " + where + tail, params


def load_windows(con: duckdb.DuckDBPyConnection, windows: list[Window],
                 relations: tuple[str, ...] = ("calculations", "stream_energies", "data_quality", "alerts",
                                               "readings", "runs", "uncertainty_budget")
                 ) -> dict[str, ReportData]:
    """Report data of many facilities with one query per relation (see :func:`load_facility_period`).

    ``relations`` may leave some out (their frames are then empty); a facility appears once.
    """
    ids = [w.facility_id for w in windows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a facility appears twice in the windows: {ids}")
    if not ids:
        return {}
    notes: list[str] = []
    win = [ids, [w.window_start.to_pydatetime() for w in windows], [w.end.to_pydatetime() for w in windows]]
    per = [ids, [w.start.to_pydatetime() for w in windows], [w.end.to_pydatetime() for w in windows]]

    def overlap(relation: str, columns: tuple[str, ...], params: list, where: str = "") -> dict[str, pd.DataFrame]:
        if relation not in relations:
            return {fid: _empty(columns) for fid in ids}
        return _split(_fetch(con, relation, columns, _overlapping(relation, columns, where), params, notes), ids)

    def with_intervals(relation: str, columns: tuple[str, ...], params: list) -> dict[str, pd.DataFrame]:
        """Current rows; ``interval`` rows only where no ``day`` row covers them.

        Reports read interval rows only for a period without day rows (stream energies) or for
        the run ids of the footer (calculations; intervals are written with their day row by the
        same run, ``results.store_window``). Not reading the others keeps a plant-year small
        (35 040 interval rows per stream) and lets DuckDB skip them below the view's window.
        """
        noted = len(notes)
        rows = overlap(relation, columns, params, "t.is_current AND t.granularity <> 'interval'")
        if relation not in relations or len(notes) > noted:  # left out, or missing (noted once)
            return rows
        gaps = [(fid, a, b) for fid, lo, hi in zip(*params)
                for a, b in _uncovered(rows[fid], pd.Timestamp(lo), pd.Timestamp(hi))]
        if not gaps:
            return rows
        bounds = [[g[0] for g in gaps], [g[1].to_pydatetime() for g in gaps], [g[2].to_pydatetime() for g in gaps]]
        # the spans again as constants: DuckDB then skips the files and row groups outside them
        spans = sorted({(g[1], g[2]) for g in gaps})
        if len(spans) > 16:
            spans = [(spans[0][0], max(b for _, b in spans))]
        where = ("t.is_current AND t.granularity = 'interval' AND ("
                 + " OR ".join("(t.period_start < ? AND t.period_end > ?)" for _ in spans) + ")")
        constants = [t.to_pydatetime() for a, b in spans for t in (b, a)]
        found = _split(_fetch(con, relation, columns, _overlapping(relation, columns, where),
                              bounds + constants, notes), ids)
        return {fid: _split(pd.concat([rows[fid], found[fid]], ignore_index=True), [fid])[fid]
                if len(found[fid]) else rows[fid] for fid in ids}

    calc_columns = CALC_COLUMNS + _present(con, "calculations", CALC_ADDED_COLUMNS)
    calcs = with_intervals("calculations", calc_columns, win)
    calcs = {fid: df.reindex(columns=list(CALC_COLUMNS + CALC_ADDED_COLUMNS)) for fid, df in calcs.items()}
    se_columns = SE_COLUMNS + _present(con, "stream_energies", SE_ADDED_COLUMNS)
    energies = with_intervals("stream_energies", se_columns, per)
    energies = {fid: df.reindex(columns=list(SE_COLUMNS + SE_ADDED_COLUMNS)) for fid, df in energies.items()}
    previous = ({fid: _empty(PREVIOUS_COLUMNS) for fid in ids} if "calculations" not in relations else
                overlap("calculations", PREVIOUS_COLUMNS, per,
                        "NOT t.is_current AND t.granularity <> 'interval'"))
    dq = overlap("data_quality", DQ_COLUMNS, win)
    alerts = overlap("alerts", ALERT_COLUMNS, per)
    budgets = (overlap("uncertainty_budget", BUDGET_COLUMNS, per)
               if _present(con, "uncertainty_budget", BUDGET_COLUMNS) == BUDGET_COLUMNS
               else {fid: _empty(BUDGET_COLUMNS) for fid in ids})
    if "readings" in relations and ids:
        sql, params = _readings_summary_sql(windows)
        found = _fetch(con, "readings", ("facility_id",) + READING_SUMMARY_COLUMNS, sql, params, notes)
        readings = {fid: df[list(READING_SUMMARY_COLUMNS)] for fid, df in _split(found, ids).items()}
    else:
        readings = {fid: _empty(READING_SUMMARY_COLUMNS) for fid in ids}
    run_ids = sorted({r for df in calcs.values() if len(df) for r in df["run_id"].dropna().unique().tolist()})
    runs = _empty(RUN_COLUMNS)
    if run_ids and "runs" in relations:
        marks = ", ".join("?" for _ in run_ids)
        runs = _fetch(con, "runs", RUN_COLUMNS, f"SELECT {', '.join(RUN_COLUMNS)} FROM runs "
                      f"WHERE run_id IN ({marks}) ORDER BY started_at", run_ids, notes)
    out = {}
    for w in windows:
        c = calcs[w.facility_id]
        mine = set(c["run_id"].dropna()) if len(c) else set()
        out[w.facility_id] = ReportData(
            w.facility_id, w.start, w.end, w.window_start, c, energies[w.facility_id], dq[w.facility_id],
            alerts[w.facility_id], readings[w.facility_id],
            runs[runs["run_id"].isin(mine)].reset_index(drop=True) if len(runs) else runs, list(notes),
            budgets[w.facility_id], previous[w.facility_id])
    return out


def load_facility_period(con: duckdb.DuckDBPyConnection, facility_id: str,
                         start: date | datetime | pd.Timestamp, end: date | datetime | pd.Timestamp,
                         *, tz: str = "UTC", trailing_days: int = 30) -> ReportData:
    """Read one facility's report data for the period ``[start, end)``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Any connection with the relations of DESIGN §6 (views, tables or registered frames).
    facility_id : str
        The facility.
    start, end : date, datetime or pandas.Timestamp
        Period bounds, end exclusive. Dates mean local midnight in ``tz``; naive datetimes are local.
    tz : str, default "UTC"
        The facility's IANA time zone.
    trailing_days : int, default 30
        How far before ``end`` the trend, balance and data-quality figures look [days].

    Returns
    -------
    ReportData
        Current (``is_current``) calculations and stream energies overlapping the trailing window
        (stream energies: the period only), data quality of the window, alerts of the period, a
        per-tag reading summary (first/last reading time and count within the window) and the runs
        that produced the current calculations. ``interval`` rows inside a ``day`` row are left
        out (see ``load_windows``).
    """
    w = window(facility_id, start, end, tz=tz, trailing_days=trailing_days)
    return load_windows(con, [w])[facility_id]
