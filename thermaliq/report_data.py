"""Data of the reports, read from the DuckDB relations of DESIGN §6.

:func:`load_facility_period` reads one facility's ``calculations`` and ``stream_energies`` (current
versions only), ``data_quality``, ``alerts``, a per-tag summary of ``readings`` and the ``runs`` that
produced the calculations, from any DuckDB connection that has relations with those names and the
§6 columns. The result, :class:`ReportData`, is plain DataFrames; the figure and page functions
take it and never touch the database.
"""
from __future__ import annotations


import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import duckdb
import pandas as pd

from thermaliq import benchmarks
from thermaliq.errors import DataError

CALC_COLUMNS = ("facility_id", "granularity", "period_start", "period_end", "basis",
                "energy_input_kwh", "useful_output_kwh", "losses_kwh", "unaccounted_kwh",
                "efficiency_percent", "indirect_efficiency_percent", "balance_error_percent",
                "exergy_efficiency_percent", "data_quality_score", "status", "version",
                "is_current", "calculated_at", "run_id", "reason")
SE_COLUMNS = ("facility_id", "granularity", "period_start", "period_end", "stream_id", "role",
              "carrier", "energy_kwh", "is_current")
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

    def period(self, start: pd.Timestamp, end: pd.Timestamp,
               trailing_days: int = 30) -> "ReportData":
        """The same data narrowed to another period inside the loaded one (no database access)."""
        start, end = _instant(start, "UTC"), _instant(end, "UTC")
        window_start = min(start, end - pd.Timedelta(days=trailing_days))

        def cut(df: pd.DataFrame, lo: pd.Timestamp) -> pd.DataFrame:
            return df[(df["period_start"] < end) & (df["period_end"] > lo)].reset_index(drop=True)

        return replace(self, start=start, end=end, window_start=window_start,
                       calculations=cut(self.calculations, window_start),
                       stream_energies=cut(self.stream_energies, start),
                       data_quality=cut(self.data_quality, window_start),
                       alerts=cut(self.alerts, start), notes=list(self.notes))


def _instant(value: date | datetime | pd.Timestamp, tz: str) -> pd.Timestamp:
    """A UTC instant; a date is the local midnight in ``tz``, a naive time is local in ``tz``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


def _utc(df: pd.DataFrame) -> pd.DataFrame:
    """Time columns as tz-aware UTC, whatever the DuckDB session time zone is."""
    for col in _TIME_COLUMNS:
        if col in df.columns:
            s = pd.to_datetime(df[col], utc=True)
            df[col] = s
    return df


def _query(con: duckdb.DuckDBPyConnection, relation: str, columns: tuple[str, ...], where: str,
           params: list, notes: list[str], order: str = "period_start") -> pd.DataFrame:
    """Run one SELECT of the §6 columns; a missing relation gives an empty frame and a note."""
    sql = (f"SELECT {', '.join(columns)} FROM {relation} WHERE {where}"
           + (f" ORDER BY {order}" if order else ""))
    try:
        df = con.execute(sql, params).df()
    except duckdb.CatalogException:
        notes.append(f"relation {relation!r} does not exist yet; its section is empty")
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    except duckdb.BinderException as exc:
        raise DataError(f"relation {relation!r} lacks a column of DESIGN §6 "
                        f"({', '.join(columns)}): {exc}", source="thermaliq.duckdb") from exc
    return _utc(df)


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
        that produced the current calculations.
    """
    start_ts, end_ts = _instant(start, tz), _instant(end, tz)
    if not start_ts < end_ts:
        raise ValueError(f"start {start_ts} must be before end {end_ts}")
    window_start = min(start_ts, end_ts - pd.Timedelta(days=trailing_days))
    notes: list[str] = []
    overlap = "facility_id = ? AND period_start < ? AND period_end > ?"
    win = [facility_id, end_ts.to_pydatetime(), window_start.to_pydatetime()]
    per = [facility_id, end_ts.to_pydatetime(), start_ts.to_pydatetime()]
    calcs = _query(con, "calculations", CALC_COLUMNS, overlap + " AND is_current", win, notes)
    energies = _query(con, "stream_energies", SE_COLUMNS, overlap + " AND is_current", per, notes)
    dq = _query(con, "data_quality", DQ_COLUMNS, overlap, win, notes)
    alerts = _query(con, "alerts", ALERT_COLUMNS, overlap, per, notes)
    readings = _query(con, "readings", ("tag", "min(ts) AS first_ts", "max(ts) AS last_ts",
                                        "count(*) AS points"),
                      "facility_id = ? AND ts < ? AND ts >= ? GROUP BY tag", win, notes, order="tag")
    readings.columns = list(READING_SUMMARY_COLUMNS)
    run_ids = [r for r in calcs["run_id"].dropna().unique().tolist()] if len(calcs) else []
    if run_ids:
        marks = ", ".join("?" for _ in run_ids)
        runs = _query(con, "runs", RUN_COLUMNS, f"run_id IN ({marks})", run_ids, notes,
                      order="started_at")
    else:
        runs = pd.DataFrame({c: pd.Series(dtype="object") for c in RUN_COLUMNS})
    return ReportData(facility_id, start_ts, end_ts, window_start, calcs, energies, dq, alerts,
                      readings, runs, notes)


# ----------------------------------------------------------------------------------------------
# Derived views used by the figures and pages.

def _rows(df: pd.DataFrame, granularity: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    sel = (df["granularity"] == granularity) & (df["period_start"] >= start) & (df["period_end"] <= end)
    return df[sel]


def period_stream_energies(data: ReportData) -> tuple[pd.DataFrame, str | None]:
    """Per-stream energy of the period [kWh] and a note on how it was put together.

    Uses the rows whose granularity covers the period exactly (one ``day`` or ``month`` row),
    else sums the ``day`` rows inside it, else the ``interval`` rows.
    """
    se = data.stream_energies
    cols = ["stream_id", "role", "carrier", "energy_kwh"]
    exact = se[(se["period_start"] == data.start) & (se["period_end"] == data.end)
               & se["granularity"].isin(["day", "month"])]
    if len(exact):
        return exact[cols], None
    for gran in ("day", "interval"):
        rows = _rows(se, gran, data.start, data.end)
        if len(rows):
            summed = rows.groupby(["stream_id", "role", "carrier"], dropna=False, sort=False)[
                "energy_kwh"].sum(min_count=1).reset_index()
            return summed[cols], f"summed from {rows['period_start'].nunique()} {gran} rows"
    return pd.DataFrame(columns=cols), None


def summary_value(summary: dict | None, key: str) -> float:
    """A number of a period summary, NaN when the summary or the value is missing."""
    value = None if summary is None else summary.get(key)
    return float(value) if value is not None and not pd.isna(value) else math.nan


def period_summary(data: ReportData) -> dict | None:
    """The period's result: the exact ``day``/``month`` calculation row, else one summed from days.

    Returns a dict with the numeric columns of ``calculations`` plus ``source`` (how it was made),
    or ``None`` when the period has no calculation at all.
    """
    c = data.calculations
    exact = c[(c["period_start"] == data.start) & (c["period_end"] == data.end)
              & c["granularity"].isin(["day", "month"])]
    if len(exact):
        row = exact.sort_values("version").iloc[-1].to_dict()
        row["source"] = f"{row['granularity']} calculation"
        return row
    days = _rows(c, "day", data.start, data.end)
    if days.empty:
        return None
    e_in, out = days["energy_input_kwh"].sum(), days["useful_output_kwh"].sum()
    losses = days["losses_kwh"].sum(min_count=len(days))
    bal = (e_in - out - losses) / e_in * 100 if e_in > 0 and math.isfinite(losses) else math.nan
    hours = (days["period_end"] - days["period_start"]).dt.total_seconds()
    return {"basis": days["basis"].iloc[0], "energy_input_kwh": e_in, "useful_output_kwh": out,
            "losses_kwh": losses, "unaccounted_kwh": days["unaccounted_kwh"].sum(min_count=1),
            "efficiency_percent": out / e_in * 100 if e_in > 0 else math.nan,
            "indirect_efficiency_percent": (100 - losses / e_in * 100) if e_in > 0 else math.nan,
            "balance_error_percent": bal, "exergy_efficiency_percent": math.nan,
            "data_quality_score": float((days["data_quality_score"] * hours).sum() / hours.sum()),
            "status": ", ".join(sorted(set(days["status"].dropna().astype(str)))),
            "source": f"summed from {len(days)} day calculations"}


def daily_results(data: ReportData) -> pd.DataFrame:
    """Day calculations of the trailing window with ``efficiency_mean_percent``.

    The mean is :func:`thermaliq.calculate.trailing_mean`, the very reference of the
    ``efficiency_anomaly`` alert (DESIGN §7): mean efficiency of the up to 7 preceding usable days
    (status ``ok``, at least 3), so the gap between a day's point and this line is what the alert
    compares with ``anomaly_points``.
    """
    from thermaliq.calculate import trailing_mean  # the alert's own definition, not a copy

    c = data.calculations
    days = c[c["granularity"] == "day"].sort_values("period_start").reset_index(drop=True)
    if days.empty:
        return days.assign(efficiency_mean_percent=pd.Series(dtype=float))
    mean = trailing_mean(days, pd.DataFrame())
    days["efficiency_mean_percent"] = mean.to_numpy(dtype="float64")
    return days


def repair_totals(dq: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sum of ``data_quality`` counts per ``by`` keys, with the distinct issues joined by ``; ``."""
    counts = ["expected_points", "valid_points", "interpolated_points", "rejected_points"]
    out = dq.groupby(by)[counts].sum()
    text = dq["issues"].fillna("").astype(str)
    # distinct issues per group, sorted, joined: one sort of the unique pairs instead of a Python
    # set-and-sort per group (that lambda was most of a year's report rendering)
    pairs = pd.DataFrame({**{k: dq[k] for k in by}, "issues": text})[text != ""].drop_duplicates()
    pairs = pairs.sort_values([*by, "issues"], kind="stable")
    listed = pairs.groupby(by)["issues"].agg("; ".join)
    out["issues"] = listed.reindex(out.index).fillna("")
    expected = out["expected_points"].where(out["expected_points"] > 0)
    out["completeness"] = (out["valid_points"] / expected).clip(0, 1)
    return out


def benchmark_band(facility_type: str, efficiency_percent: float, basis: str):
    """``(BenchmarkPlacement | None, note | None)``: the facility type's published range.

    Without an efficiency only the range is wanted: its ``position`` is then ``–``.
    """
    known = math.isfinite(efficiency_percent)
    try:  # without an efficiency 0 % just fills the argument
        p = benchmarks.compare(facility_type, efficiency_percent if known else 0.0, basis)
    except (KeyError, ValueError) as exc:
        return None, f"no benchmark for {facility_type} ({basis}): {exc}"
    return (p if known else replace(p, position="–")), None
