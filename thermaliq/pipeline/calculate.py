"""Calculate one facility over one window of local days, from the readings in the lake.

The stages are plain functions (align → stream energies → period results → statuses and alerts);
:func:`calculate_window` chains them and :mod:`thermaliq.pipeline.results` stores the outcome as a new
version when (and only when) it differs from the current one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from thermaliq.quality import alerts, align
from thermaliq.physics import balance, bounds, energy, operating
from thermaliq.pipeline import engineering
from thermaliq.store import lake, versions
from thermaliq import periods
from thermaliq.config import Facility
from thermaliq.physics.balance import (STATUS_INVALID, STATUS_LOW_QUALITY, STATUS_NO_DATA, STATUS_OK,
                                       STATUS_STANDBY)
from thermaliq.quality.alerts import trailing_mean
from thermaliq.home import Home



@dataclass
class WindowResult:
    """Everything computed for one facility and window (before it is stored)."""

    facility_id: str
    first: date
    last: date
    intervals: pd.DataFrame          # calculations rows, granularity interval
    days: pd.DataFrame               # calculations rows, granularity day
    stream_energies: pd.DataFrame    # long rows per interval and stream
    data_quality: pd.DataFrame       # per tag and day
    alerts: pd.DataFrame
    events: pd.DataFrame
    issues: list[str] = field(default_factory=list)
    uncertainty_budget: pd.DataFrame | None = None   # day rows of the `uncertainty_budget` relation


def history_margin(facility: Facility) -> pd.Timedelta:
    """How much history before a window the alignment needs (gaps, counters, offline, estimates)."""
    th = facility.thresholds
    margin = max(pd.Timedelta(th.max_interpolation_gap), pd.Timedelta(th.offline_after),
                 pd.Timedelta(th.frozen_after)) + 2 * facility.interval_td
    return max(margin, pd.Timedelta("7D")) if th.estimate_long_gaps else margin


#: The columns of the stored readings that alignment and validation use.
WINDOW_COLUMNS = ("tag", "ts", "value")


def load_window_readings(home: Home, facility: Facility, first: date, last: date) -> pd.DataFrame:
    """Stored readings of the window plus the margins before and after it that alignment needs.

    Only ``tag``, ``ts`` (``datetime64[ns, UTC]``) and ``value`` [configured unit] are read:
    alignment and validation need nothing else, and the text columns (source, unit) cost most
    of a partition's read. The window's own readings (what is validated) are those with
    ``ts`` in :func:`thermaliq.periods.day_window`.
    """
    start, end = periods.day_window(first, last, facility.timezone)
    lo = start - history_margin(facility)
    hi = end + pd.Timedelta(facility.thresholds.max_interpolation_gap) + facility.interval_td
    return read_readings_between(home, facility, lo, hi)


def read_readings_between(home: Home, facility: Facility, lo: pd.Timestamp,
                          hi: pd.Timestamp) -> pd.DataFrame:
    """Stored ``tag, ts, value`` readings with ``lo <= ts < hi`` (UTC instants).

    Each day's file is read in this thread (a window is one job of a worker process), ``tag``
    as dictionary codes (a day file holds a few distinct tags) that become text once at the end.
    """
    days = periods.days_in(periods.local_dates(pd.Series([lo]), facility.timezone).iloc[0],
                           periods.local_dates(pd.Series([hi]), facility.timezone).iloc[0])
    ts_type = pa.timestamp("ns", tz="UTC")
    tables = []
    for day in days:
        path = lake.readings_partition(home.lake, facility.facility_id, day)
        if path.exists():
            table = pq.ParquetFile(path, read_dictionary=["tag"]).read(
                columns=list(WINDOW_COLUMNS), use_threads=False)
            tables.append(table.set_column(table.schema.get_field_index("ts"), "ts",
                                           table["ts"].cast(ts_type)))
    if not tables:
        return lake.utc_ns_columns(lake.empty_stored_readings()[list(WINDOW_COLUMNS)])
    table = pa.concat_tables(tables, promote_options="permissive")
    inside = pc.and_(pc.greater_equal(table["ts"], pa.scalar(lo.value, ts_type)),
                     pc.less(table["ts"], pa.scalar(hi.value, ts_type)))
    table = table.filter(inside)
    tag = table.schema.get_field_index("tag")
    return table.set_column(tag, "tag", table["tag"].cast(pa.string())).to_pandas(use_threads=False)


def rejected_counts(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Rejected rows per tag in ``[start, end)`` from the quarantine."""
    qdir = home.lake / "quarantine" / f"facility_id={facility.facility_id}"
    if not qdir.exists() or next(qdir.glob("*.parquet"), None) is None:
        return pd.Series(dtype="int64")
    pattern = str(qdir / "*.parquet").replace("'", "''")
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            f"SELECT tag, count(*) AS n FROM read_parquet('{pattern}', union_by_name = true) "
            "WHERE tag IS NOT NULL AND ts >= ? AND ts < ? GROUP BY tag",
            [start.to_pydatetime(), end.to_pydatetime()]).fetchall()
    finally:
        con.close()
    return pd.Series({tag: n for tag, n in rows}, dtype="int64")


def calculate_window(home: Home, facility: Facility, first: date, last: date, *,
                     readings: pd.DataFrame | None = None,
                     trailing_days: pd.DataFrame | None = None) -> WindowResult:
    """Compute interval and day results, stream energies, quality and alerts for local days
    ``first`` .. ``last`` (inclusive): :func:`compute_window`, then :func:`add_alerts`."""
    result = compute_window(home, facility, first, last, readings=readings)
    return add_alerts(home, facility, result, trailing_days=trailing_days)


def compute_window(home: Home, facility: Facility, first: date, last: date, *,
                   readings: pd.DataFrame | None = None) -> WindowResult:
    """Everything of a window that depends on its own readings only: interval and day results
    with statuses, stream energies, data quality and events. ``alerts`` is left empty: the
    anomaly alert needs the stored days before the window (:func:`add_alerts`), so windows of one
    facility can be computed in any order and only :func:`add_alerts` and storing go in order."""
    start, end = periods.day_window(first, last, facility.timezone)
    if readings is None:
        readings = load_window_readings(home, facility, first, last)
    aligned = align.align_window(readings, facility, start, end,
                                 rejected_counts=rejected_counts(home, facility, start, end))
    energies = energy.stream_energies(facility, aligned.values, facility.interval_td)
    tag_ok = aligned.status.isin(["measured", "interpolated"])
    states = operating.operating_states(facility, energies.energy_kwh, tag_ok)
    energies, valid = operating.with_standby(energies, aligned.valid, states)
    own = balance.stream_validity(facility, tag_ok, energies.energy_kwh, states == operating.STANDBY)
    intervals = balance.period_results(facility, energies, valid, "interval", states)
    days = balance.period_results(facility, energies, valid, "day", states)
    day_energies = summed_over_periods(energies, valid, days)
    intervals["max_efficiency_percent"] = bounds.max_efficiency_percent(facility, energies.energy_kwh)
    days["max_efficiency_percent"] = bounds.max_efficiency_percent(facility, day_energies.energy_kwh)
    intervals["status"] = interval_status(intervals)
    days["status"] = period_status(days, facility)
    intervals, days, budget_rows = engineering.add_columns(
        facility, aligned.values, energies, valid, intervals, days, day_energies.energy_kwh)
    stream_rows = pd.concat([
        long_stream_energies(facility, _within(energies, valid), "interval", intervals,
                             balance.interval_totals(energies.energy_kwh, own)),
        long_stream_energies(facility, day_energies, "day", days,
                             balance.stream_totals(energies.energy_kwh, own, days["period_start"],
                                                   days["intervals"])),
    ], ignore_index=True)
    return WindowResult(facility.facility_id, first, last, intervals, days, stream_rows,
                        aligned.tag_quality, pd.DataFrame(columns=alerts.ALERT_COLUMNS), aligned.events,
                        list(energies.issues), budget_rows)


def add_alerts(home: Home, facility: Facility, result: WindowResult, *,
               trailing_days: pd.DataFrame | None = None) -> WindowResult:
    """Set ``result.alerts`` from its days, its events and the 7 stored days before it (the
    anomaly alert's trailing mean; read from the lake unless ``trailing_days`` is given)."""
    if trailing_days is None:
        trailing_days = load_trailing_days(home, facility, result.first)
    trailing = trailing_mean(result.days, trailing_days)
    iv = result.intervals
    standby = pd.DatetimeIndex(iv.loc[iv["status"] == STATUS_STANDBY, "period_start"]) \
        if "status" in iv else None
    result.alerts = alerts.day_alerts(facility, result.days, trailing, result.events, standby)
    return result


def summed_over_periods(energies, valid: pd.Series, periods_frame: pd.DataFrame):
    """Stream energies summed over the valid intervals of each period of ``periods_frame``.

    Returns an object with ``energy_kwh``/``exergy_kwh`` frames indexed by period start.
    """
    starts = pd.DatetimeIndex(periods_frame["period_start"])
    which = starts.searchsorted(energies.energy_kwh.index, side="right") - 1
    keep = valid.reindex(energies.energy_kwh.index).fillna(False).to_numpy(dtype=bool)

    def total(frame: pd.DataFrame) -> pd.DataFrame:
        masked = frame.astype("float64").copy()
        masked.loc[~keep] = np.nan
        summed = masked.groupby(which).sum(min_count=1)
        summed.index = starts[summed.index]
        return summed.reindex(starts)

    return _Energies(total(energies.energy_kwh), total(energies.exergy_kwh.reindex_like(energies.energy_kwh)))


@dataclass
class _Energies:
    energy_kwh: pd.DataFrame
    exergy_kwh: pd.DataFrame


def _within(energies, valid: pd.Series) -> _Energies:
    """Interval energies where the facility's interval is valid, else NaN [kWh] (exergies as
    computed)."""
    ok = valid.reindex(energies.energy_kwh.index).fillna(False).to_numpy(dtype=bool)
    e = energies.energy_kwh
    return _Energies(e.where(np.broadcast_to(ok[:, None], e.shape)), energies.exergy_kwh)


def _out_of_bounds(rows: pd.DataFrame) -> pd.Series:
    """Efficiency below 0 or above the period's ``max_efficiency_percent`` (100 % when the rows
    do not carry it)."""
    eff = rows["efficiency_percent"]
    bound = rows["max_efficiency_percent"] if "max_efficiency_percent" in rows else 100.0
    return (eff < 0) | (eff > bound)


def _no_firing(rows: pd.DataFrame) -> pd.Series:
    """Valid data without a firing interval (rows without ``firing_hours`` never are)."""
    if "firing_hours" not in rows:
        return pd.Series(False, index=rows.index)
    return (rows["valid_intervals"] > 0) & (rows["firing_hours"] == 0)


def interval_status(intervals: pd.DataFrame) -> pd.Series:
    status = np.where(intervals["data_quality_score"] >= 1.0, STATUS_OK, STATUS_NO_DATA)
    status = np.where((status == STATUS_OK) & _no_firing(intervals), STATUS_STANDBY, status)
    status = np.where((status == STATUS_OK) & _out_of_bounds(intervals), STATUS_INVALID, status)
    return pd.Series(status, index=intervals.index)


def period_status(rows: pd.DataFrame, facility: Facility) -> pd.Series:
    """``no_data`` without valid intervals, ``standby`` with valid intervals but none firing,
    ``invalid_efficiency`` below 0 % or above ``max_efficiency_percent`` (100 % on HHV, 100 x
    HHV/LHV of the input mix on LHV), ``low_quality`` below ``data_quality_min``, else ``ok``."""
    status = np.select(
        [rows["valid_intervals"] == 0, _no_firing(rows), _out_of_bounds(rows),
         rows["data_quality_score"] < facility.thresholds.data_quality_min],
        [STATUS_NO_DATA, STATUS_STANDBY, STATUS_INVALID, STATUS_LOW_QUALITY], default=STATUS_OK)
    return pd.Series(status, index=rows.index)


def long_stream_energies(facility: Facility, energies, granularity: str,
                         periods_frame: pd.DataFrame, totals: balance.StreamTotals) -> pd.DataFrame:
    """Per-stream energies as rows (period, stream) with role and carrier, period by period
    and within a period in the order of the columns [kWh].

    ``energy_kwh`` is the stream's own energy over the intervals where its own data is valid
    (``totals``, :func:`thermaliq.physics.balance.stream_totals`) with ``valid_intervals`` of
    ``intervals`` and their share ``coverage``; ``balance_energy_kwh`` is its energy over the
    facility's valid intervals (``energies``), the one efficiency and balance are made of.

    ``period_start`` and ``period_end`` are UTC instants (``datetime64[ns, UTC]``) whatever the
    zone of ``periods_frame``, so rows of several granularities concatenate without turning
    into columns of Timestamp objects."""
    meta = {s.id: (s.role, s.carrier or ("estimate" if s.estimate else None)) for s in facility.streams}
    e = energies.energy_kwh
    x = energies.exergy_kwh.reindex_like(e)
    own_e = totals.energy_kwh.reindex(index=e.index, columns=e.columns)
    own_n = totals.valid_intervals.reindex(index=e.index, columns=e.columns).fillna(0)
    n_of = totals.intervals.reindex(e.index).to_numpy(dtype="float64")
    n_periods, n_streams = e.shape
    # the period_end of each period start of ``e`` (NaT where ``periods_frame`` has none)
    at = pd.DatetimeIndex(periods_frame["period_start"]).get_indexer(e.index)
    frame_ends_ns = pd.to_datetime(periods_frame["period_end"], utc=True).dt.as_unit("ns").array.asi8
    ends_ns = np.full(len(at), np.iinfo("int64").min)      # NaT
    ends_ns[at >= 0] = frame_ends_ns[at[at >= 0]]
    streams = list(e.columns)
    each_row = np.zeros(n_periods * n_streams, dtype="int64")
    each_stream = np.tile(np.arange(n_streams), n_periods)

    def text(values: list, which: np.ndarray):
        return pd.array(values, dtype="str").take(which)

    return pd.DataFrame({
        "facility_id": text([facility.facility_id], each_row),
        "granularity": text([granularity], each_row),
        "period_start": pd.to_datetime(e.index, utc=True).as_unit("ns").repeat(n_streams),
        "period_end": pd.DatetimeIndex(ends_ns, tz="UTC").repeat(n_streams),
        "stream_id": text(streams, each_stream),
        "role": text([meta[c][0] for c in streams], each_stream),
        "carrier": text([meta[c][1] for c in streams], each_stream),
        "energy_kwh": own_e.to_numpy(dtype="float64").ravel(),
        "exergy_kwh": x.to_numpy(dtype="float64").ravel(),
        "balance_energy_kwh": e.to_numpy(dtype="float64").ravel(),
        "valid_intervals": own_n.to_numpy(dtype="int64").ravel(),
        "intervals": n_of.repeat(n_streams).astype("int64"),
        "coverage": (own_n.to_numpy(dtype="float64") / n_of[:, None]).ravel(),
    })


def load_trailing_days(home: Home, facility: Facility, first: date) -> pd.DataFrame:
    """Current day rows of the 7 days before ``first`` (for the anomaly alert): ``period_start``
    (UTC), ``efficiency_percent``, ``status`` and the keys."""
    lo = first - timedelta(days=7)
    months = periods.months_touching(lo, first)
    columns = ["granularity", "period_start", "version", "efficiency_percent", "status"]
    stored = versions.concat([versions.read_month(home, "calculations", facility.facility_id,
                                                        m, columns) for m in months])
    if stored.empty:
        return stored
    stored = stored[stored["granularity"] == "day"]
    stored = versions.current_rows(stored, ["granularity", "period_start"])
    start, _ = periods.day_window(lo, first, facility.timezone)
    first_start, _ = periods.day_window(first, first, facility.timezone)
    return stored[(stored["period_start"] >= start) & (stored["period_start"] < first_start)]
