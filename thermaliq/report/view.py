"""A facility's report data as numpy columns, read once, and the rows of each page.

A plant-year renders ~380 pages from one facility's :class:`~thermaliq.report.data.ReportData`.
Narrowing its DataFrames per page (``ReportData.period``) and deriving each section with pandas
cost ~35 ms per page, nearly all of it pandas' per-call overhead on a few hundred rows.
:class:`FacilityView` converts the frames once into numpy columns (times as int64 UTC
nanoseconds), factorizes the data-quality keys and formats the runs once; :meth:`FacilityView.period`
then selects a page's rows with numpy masks (microseconds), and :class:`PageView` derives what the
page shows from those rows.

The common cases take the fast path here; a rare one (a period without its exact ``day`` or
``month`` row, duplicated day rows) goes through :meth:`PageView.data`, the page's
``ReportData`` exactly as ``ReportData.period`` makes it, and the pandas functions of
:mod:`thermaliq.report.periods`, so the two paths cannot disagree on what a page shows.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from thermaliq.quality.alerts import trailing_mean_of
from thermaliq.report.data import NAT_NS, ReportData, instants_ns, utc_instant
from thermaliq.report.figures import QualityHeatmap
from thermaliq.report.periods import daily_results, period_stream_energies, period_summary
from thermaliq.report.quality import RepairCounts, local_text

#: Stream-energy columns of a period, in the order of ``report_periods.period_stream_energies``:
#: ``energy_kwh`` the stream's own over ``valid_intervals`` of ``intervals``, ``balance_energy_kwh``
#: over the facility's valid intervals (a Sankey needs the first four, with the balance energy).
STREAM_COLUMNS = ("stream_id", "role", "carrier", "energy_kwh", "balance_energy_kwh",
                  "valid_intervals", "intervals")
#: Day-result columns of the trend and balance figures (times as int64 UTC nanoseconds).
DAY_COLUMNS = ("period_start", "efficiency_percent", "efficiency_mean_percent", "data_quality_score",
               "balance_error_percent", "unaccounted_kwh", "efficiency_uncertainty_points")


def columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of ``frame`` as numpy arrays; datetime columns as int64 UTC nanoseconds (NaT as
    :data:`~thermaliq.report.data.NAT_NS`)."""
    return {name: instants_ns(col) if _is_time(col) else col.to_numpy() for name, col in frame.items()}


def _is_time(col: pd.Series) -> bool:
    return _is_time_dtype(col.dtype)


def _is_time_dtype(dtype) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M"


class Table:
    """One relation's rows as numpy columns, beside the frame they came from."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.columns = columns_of(frame)
        self.times = [c for c, dtype in frame.dtypes.items() if _is_time_dtype(dtype)]
        self._gran = self.columns.get("granularity")
        self._no_rows: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def col(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Column ``name`` at ``rows``."""
        return self.columns[name][rows]

    def overlapping(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Rows whose period overlaps ``[start, end)``, in table order (``report_periods.overlaps``)."""
        if not len(self):
            return np.empty(0, "int64")
        ps, pe = self.columns["period_start"], self.columns["period_end"]
        return np.flatnonzero((ps < end.value) & (pe > start.value) & (ps != NAT_NS) & (pe != NAT_NS))

    def within(self, rows: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """The ``rows`` whose period lies inside ``[start, end]`` (``report_periods.within``)."""
        ps, pe = self.columns["period_start"][rows], self.columns["period_end"][rows]
        return rows[(ps >= start.value) & (pe <= end.value) & (ps != NAT_NS) & (pe != NAT_NS)]

    def exact(self, rows: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """The ``day``/``month`` ``rows`` covering exactly ``[start, end)``."""
        gran = self._gran[rows]
        return rows[(self.columns["period_start"][rows] == start.value)
                    & (self.columns["period_end"][rows] == end.value) & ((gran == "day") | (gran == "month"))]

    def granularity(self, rows: np.ndarray, value: str) -> np.ndarray:
        """The ``rows`` of one granularity."""
        return rows[self._gran[rows] == value]

    def series(self, name: str, rows: np.ndarray) -> pd.Series:
        """Column ``name`` at ``rows`` as a pandas Series (the frame's dtype, its index labels)."""
        return self.frame[name].iloc[rows]

    def frame_rows(self, rows: np.ndarray) -> pd.DataFrame:
        """``rows`` as a DataFrame, exactly as ``ReportData.period`` cuts it. Without rows, one
        empty frame made once (most pages have no rows of some relations; not to be changed)."""
        if len(rows):
            return self.frame.take(rows).reset_index(drop=True)
        if self._no_rows is None:
            self._no_rows = self.frame.take(rows).reset_index(drop=True)
        return self._no_rows


class FacilityView:
    """A facility's :class:`ReportData` prepared once for many pages (see the module docstring)."""

    def __init__(self, data: ReportData, tz: str):
        self.data, self.tz = data, tz
        self.calculations = Table(data.calculations)
        self.stream_energies = Table(data.stream_energies)
        self.data_quality = Table(data.data_quality)
        self.alerts = Table(data.alerts)
        self.uncertainty_budget = Table(data.uncertainty_budget)
        self._previous: dict[str, np.ndarray] | None = None
        dq = data.data_quality
        tags = dq["tag"].tolist()
        #: per tag and local day (the heatmap) and per tag (the period's table)
        self.quality_by_day = RepairCounts([tags, local_text(dq["period_start"], tz, "%Y-%m-%d")], dq)
        self.quality_by_tag = RepairCounts([tags], dq)
        #: the heatmap of any page's ``data_quality`` rows (its cells made once)
        self.quality_heatmap = QualityHeatmap(self.quality_by_day)
        rs = data.readings_summary
        self.last_reading = dict(zip(rs["tag"].tolist(), rs["last_ts"].tolist())) if len(rs) else {}
        runs = data.runs
        self.run_ids = runs["run_id"].tolist() if len(runs) else []
        self.run_texts = [_run_text(r) for r in runs.itertuples()] if len(runs) else []

    def period(self, start: pd.Timestamp, end: pd.Timestamp, trailing_days: int = 30) -> PageView:
        """The rows of ``[start, end)`` and its trailing window (as ``ReportData.period``)."""
        start, end = utc_instant(start, "UTC"), utc_instant(end, "UTC")
        window_start = min(start, end - pd.Timedelta(days=trailing_days))
        return PageView(self, start, end, window_start, trailing_days,
                        self.calculations.overlapping(window_start, end),
                        self.stream_energies.overlapping(start, end),
                        self.data_quality.overlapping(window_start, end),
                        self.alerts.overlapping(start, end), self.uncertainty_budget.overlapping(start, end))

    def whole(self) -> PageView:
        """Every row, for a :class:`ReportData` that is already one page's data."""
        d = self.data
        every = [np.arange(len(t), dtype="int64") for t in
                 (self.calculations, self.stream_energies, self.data_quality, self.alerts, self.uncertainty_budget)]
        return PageView(self, d.start, d.end, d.window_start, None, *every, page_data=d)

    def previous(self) -> dict[str, np.ndarray]:
        """The columns of ``data.previous`` that mark recalculations, as arrays (made once):
        ``ps`` (``period_start`` as int64 UTC nanoseconds), ``granularity``, ``version``,
        ``efficiency_percent`` and ``energy_input_kwh``."""
        if self._previous is None:
            p = self.data.previous
            self._previous = {"ps": instants_ns(p["period_start"]),
                              **{c: p[c].to_numpy() for c in ("granularity", "version", "efficiency_percent",
                                                               "energy_input_kwh")}}
        return self._previous


def _run_text(r) -> str:
    """A run as the footer names it."""
    if r.status == "running":   # the page is rendered by that run: say so, not "running" for ever
        return f"{r.run_id} ({r.flow}, in progress when this page was rendered)"
    return f"{r.run_id} ({r.flow}, {r.status}" + (f", finished {r.finished_at:%Y-%m-%d %H:%M} UTC)"
                                                 if pd.notna(r.finished_at) else ")")


class PageView:
    """Row indices of one page's period (``start``/``end``, UTC) into its :class:`FacilityView`.

    ``calculations`` and ``data_quality`` rows overlap the trailing window from ``window_start``;
    ``stream_energies``, ``alerts`` and ``uncertainty_budget`` rows overlap the period. ``notes``
    starts as a copy of the loaded data's notes (``page_data``: is that data's list).
    """

    def __init__(self, facility: FacilityView, start: pd.Timestamp, end: pd.Timestamp,
                 window_start: pd.Timestamp, trailing_days: int | None, calculations: np.ndarray,
                 stream_energies: np.ndarray, data_quality: np.ndarray, alerts: np.ndarray,
                 uncertainty_budget: np.ndarray, page_data: ReportData | None = None):
        self.facility, self.start, self.end, self.window_start = facility, start, end, window_start
        self.trailing_days = trailing_days
        self.calculations, self.stream_energies = calculations, stream_energies
        self.data_quality, self.alerts, self.uncertainty_budget = data_quality, alerts, uncertainty_budget
        # a page's own data keeps its notes list (facility_page adds to it); a period copies them
        self.notes = page_data.notes if page_data is not None else list(facility.data.notes)
        self._data = page_data
        #: what :meth:`summary` and :meth:`stream_energies_of_period` (per order) return, made
        #: once: a page's sections ask for them several times (they are read, not changed)
        self._summary: tuple[dict | None] | None = None
        self._streams: dict[tuple, tuple[Mapping[str, list], str | None]] = {}

    def data(self) -> ReportData:
        """This page's data as the pandas functions take it (``ReportData.period``), made once."""
        if self._data is None:
            self._data = self.facility.data.period(self.start, self.end, self.trailing_days)
        return self._data

    def summary(self) -> dict | None:
        """``report_periods.period_summary`` of the page; the exact row's columns when there is one
        (made once a page: not to be changed)."""
        if self._summary is None:
            self._summary = (self._make_summary(),)
        return self._summary[0]

    def _make_summary(self) -> dict | None:
        t = self.facility.calculations
        if not len(self.calculations):
            return None
        exact = t.exact(self.calculations, self.start, self.end)
        if len(exact) != 1:  # none (summed from days) or several versions: the pandas function
            return period_summary(self.data())
        row = {name: col[exact[0]] for name, col in t.columns.items()}
        for name in t.times:
            row[name] = pd.Timestamp(int(row[name]), tz="UTC") if row[name] != NAT_NS else pd.NaT
        row["source"] = f"{row['granularity']} calculation"
        return row

    def stream_energies_of_period(self, order: list[str]) -> tuple[Mapping[str, list], str | None]:
        """Per-stream energy of the period [kWh] in ``order`` and how it was made
        (``report_periods.period_stream_energies``), as lists per column of :data:`STREAM_COLUMNS`
        (made once a page and order: not to be changed)."""
        key = tuple(order)
        if key not in self._streams:
            self._streams[key] = self._make_stream_energies(order)
        return self._streams[key]

    def _make_stream_energies(self, order: list[str]) -> tuple[Mapping[str, list], str | None]:
        t = self.facility.stream_energies
        if not len(self.stream_energies):
            return {c: [] for c in STREAM_COLUMNS}, None
        exact = t.exact(self.stream_energies, self.start, self.end)
        if not len(exact):
            frame, how = period_stream_energies(self.data(), order)
            return {c: frame[c].tolist() for c in STREAM_COLUMNS}, how
        rank = {sid: i for i, sid in enumerate(order)}
        ids = t.col("stream_id", exact).tolist()
        rows = exact[sorted(range(len(ids)), key=lambda i: rank.get(ids[i], len(rank)))] if order else exact
        return {c: t.col(c, rows).tolist() if c in t.columns else [np.nan] * len(rows)
                for c in STREAM_COLUMNS}, None

    def balance_energies_of_period(self, order: list[str]) -> Mapping[str, list]:
        """:meth:`stream_energies_of_period` with ``energy_kwh`` over the facility's valid
        intervals, the energies efficiency, balance and losses are made of (rows written before
        issue 21 hold it in ``energy_kwh`` itself) [kWh]."""
        streams, _ = self.stream_energies_of_period(order)
        return dict(streams, energy_kwh=balance_energies(streams))

    def recalculations(self) -> list[dict]:
        """The page's day and month results that replace earlier versions, in time order: each
        with ``granularity``, ``period_start`` (UTC), ``version``, ``calculated_at``, ``reason``
        and the previous version's ``previous_version``, ``previous_efficiency_percent`` and
        ``previous_energy_input_kwh``."""
        t = self.facility.calculations
        if self.facility.data.previous.empty or not len(self.calculations):
            return []
        rows = t.within(self.calculations, self.start, self.end)
        gran = t.col("granularity", rows)
        rows = rows[(gran == "day") | (gran == "month")]
        before = self.facility.previous()
        out = []
        for r in rows[np.argsort(t.col("period_start", rows), kind="stable")]:
            ps, g, version = t.columns["period_start"][r], t.columns["granularity"][r], t.columns["version"][r]
            older = np.flatnonzero((before["ps"] == ps) & (before["granularity"] == g) & (before["version"] < version))
            if not len(older):
                continue
            last = older[np.argmax(before["version"][older])]   # the first of the highest, as idxmax
            out.append({"granularity": g, "period_start": pd.Timestamp(int(ps), tz="UTC"),
                        "version": int(version), "calculated_at": _instant(t.columns["calculated_at"][r]),
                        "reason": t.columns["reason"][r], "previous_version": int(before["version"][last]),
                        "previous_efficiency_percent": float(before["efficiency_percent"][last]),
                        "previous_energy_input_kwh": float(before["energy_input_kwh"][last])})
        return out

    def budget(self) -> pd.DataFrame:
        """The ``uncertainty_budget`` rows of the page's days: those starting inside ``[start, end)``
        (of the rows overlapping it), in stored order."""
        t = self.facility.uncertainty_budget
        rows = self.uncertainty_budget
        if len(rows):
            ps = t.col("period_start", rows)
            rows = rows[(ps >= self.start.value) & (ps < self.end.value) & (ps != NAT_NS)]
        return t.frame_rows(rows)

    def day_calculations(self) -> np.ndarray:
        """Rows of the ``day`` calculations inside the period (``[start, end]``), in table order."""
        t = self.facility.calculations
        return t.granularity(t.within(self.calculations, self.start, self.end), "day")

    def days(self) -> dict[str, np.ndarray] | None:
        """Day results of the trailing window with the 7-day reference mean
        (``report_periods.daily_results``): :data:`DAY_COLUMNS` as arrays, None without days."""
        t = self.facility.calculations
        rows = t.granularity(self.calculations, "day")
        if not len(rows):
            return None
        ps = t.col("period_start", rows)
        order = np.argsort(ps, kind="stable")
        rows, ps = rows[order], ps[order]
        if ps[0] == NAT_NS or (len(ps) > 1 and not (np.diff(ps) > 0).all()):
            # a missing or repeated day start: trailing_mean's own de-duplication decides
            return columns_of(daily_results(self.data())[list(DAY_COLUMNS)])
        out = {c: t.col(c, rows) for c in DAY_COLUMNS if c != "efficiency_mean_percent"}
        out["efficiency_mean_percent"] = trailing_mean_of(out["efficiency_percent"], t.col("status", rows))
        return out

    def repair_totals_by_tag(self) -> dict[tuple, list]:
        """Data-quality sums per tag of the rows overlapping the period (the table)."""
        t = self.facility.data_quality
        rows = self.data_quality
        if len(rows):
            ps, pe = t.col("period_start", rows), t.col("period_end", rows)
            rows = rows[(ps < self.end.value) & (pe > self.start.value) & (ps != NAT_NS) & (pe != NAT_NS)]
        return self.facility.quality_by_tag.totals(rows)

    def alerts_frame(self) -> pd.DataFrame:
        """The period's alerts as a DataFrame (``ReportData.alerts``)."""
        return self.facility.alerts.frame_rows(self.alerts)

    def runs(self) -> tuple[list[str], int]:
        """Footer text of the last 5 runs that calculated rows inside the period, and how many
        such runs there are."""
        t = self.facility.calculations
        ids = t.col("run_id", t.within(self.calculations, self.start, self.end)) if len(t) else []
        mine = {r for r in ids.tolist() if not pd.isna(r)} if len(ids) else set()
        texts = [text for rid, text in zip(self.facility.run_ids, self.facility.run_texts) if rid in mine]
        return texts[-5:], len(mine)


def _instant(value) -> pd.Timestamp:
    """A time column's value (int64 UTC nanoseconds, or a Timestamp) as a UTC Timestamp or NaT."""
    if isinstance(value, (int, np.integer)):
        return pd.NaT if value == NAT_NS else pd.Timestamp(int(value), tz="UTC")
    return pd.Timestamp(value)


def balance_energies(streams: Mapping[str, list]) -> list[float]:
    """Per stream of :data:`STREAM_COLUMNS` lists: the energy over the facility's valid intervals
    [kWh] (``balance_energy_kwh``, or ``energy_kwh`` in rows written before it existed)."""
    return [float(e) if b is None or pd.isna(b) else float(b)
            for e, b in zip(streams["energy_kwh"], streams["balance_energy_kwh"])]
