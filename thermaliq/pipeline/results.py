"""Store calculated windows as versioned results and keep month results in step.

Month rows cover the days calculated so far (month to date). A day's rows are written only
when they differ from the current version (so an identical rerun changes nothing and keeps the
current version's reason, whatever the window boundaries) or when a recalculation with a reason asks
for a new version. Each write adds new
files and never rewrites old ones; ``version`` counts the calculations of a period and the catalog
marks the newest write current. Month rows are recomputed from the current interval rows of the
whole month after every change inside it.

Crash safety: the files of one write are bracketed by a pending marker
(:func:`thermaliq.store.lake.pending_results`); the next write of the facility first removes the files
of a write that died half-way (:func:`thermaliq.store.lake.rollback_pending`), and an unchanged window
still brings its months up to date, so a rerun after ``kill -9`` ends with the results of an
uninterrupted run (tests/test_crash_safety.py).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from thermaliq.physics import balance, bounds, chp, energy, operating
from thermaliq.store import lake, sequence, versions
from thermaliq import periods
from thermaliq.pipeline import carbon, engineering
from thermaliq.pipeline.calculate import (WindowResult, long_stream_energies, period_status,
                                  summed_over_periods)
from thermaliq.config import Facility
from thermaliq.home import Home

CALC_VALUE_COLUMNS = ["period_end", "basis", "energy_input_kwh", "useful_output_kwh", "losses_kwh",
                      "unaccounted_kwh", "efficiency_percent", "indirect_efficiency_percent",
                      "balance_error_percent", "exergy_efficiency_percent", "data_quality_score",
                      "status"]


@dataclass
class StoreSummary:
    facility_id: str
    changed: bool
    versions_written: int = 0
    months_recomputed: list[str] = field(default_factory=list)


def _content_hash(*frames: pd.DataFrame | tuple[pd.DataFrame, dict[str, np.ndarray]]) -> str:
    """Hash of the rows of ``frames``; a frame may come with hashes of some of its columns
    (``(frame, {column: hashes})``) that stand for those of :func:`_column_hashes`."""
    digest = hashlib.sha256()
    for frame in frames:
        frame, given = frame if isinstance(frame, tuple) else (frame, {})
        digest.update(_row_hashes(frame, given).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:32]


def _row_hashes(frame: pd.DataFrame, given: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``pandas.util.hash_pandas_object(frame, index=False)`` as uint64 values, column by column.

    The stored ``content_hash`` of earlier runs was made with pandas' function, so the result
    must stay bit for bit the same; only columns of Timestamp objects take a faster path, and
    ``given`` column hashes are used as they are.
    """
    given = given or {}
    if frame.shape[1] == 0:
        return pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    # CPython's tuple hash over the column hashes, as pandas.core.util.hashing.combine_hash_arrays
    n_cols = frame.shape[1]
    mult = np.uint64(1000003)
    out = np.full(len(frame), 0x345678, dtype=np.uint64)
    for i, (name, column) in enumerate(frame.items()):
        out ^= given[name] if name in given else _column_hashes(column)
        out *= mult
        mult += np.uint64(82520 + 2 * (n_cols - i))
    out += np.uint64(97531)
    return out


def _column_hashes(column: pd.Series) -> np.ndarray:
    """``pandas.util.hash_array`` of one column.

    pandas hashes an object column through its distinct values, told apart by ``==`` (so
    Timestamps of one instant in two time zones count as one, represented by the first);
    for Timestamps that is done here on their instants instead of on the objects.
    """
    values = column.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    if not (column.dtype == object and len(values) and all(type(v) is pd.Timestamp for v in values)):
        return pd.util.hash_array(values)
    instants_ns = np.fromiter((v.value for v in values), dtype="int64", count=len(values))
    codes, _ = pd.factorize(instants_ns)
    _, first = np.unique(codes, return_index=True)
    return pd.util.hash_array(values[first])[codes]


def _stream_time_hashes(se: pd.DataFrame, facility: Facility) -> dict[str, np.ndarray]:
    """Hashes of the ``period_start``/``period_end`` columns of a window's stream energies as
    the ``content_hash`` has always taken them.

    The rows used to hold interval times in UTC and day times in the facility's zone, which
    pandas concatenated to Timestamp objects (unless the zone is UTC itself) and hashed as the
    text of the first Timestamp of each instant. The rows now hold UTC instants; the first row of
    an instant tells its former zone (interval rows UTC, day rows local), so the same texts, and
    hashes, are rebuilt for the distinct instants only.
    """
    if not _mixed_zones(facility.timezone):
        return {}          # a UTC facility: the columns were instants then too
    local = (se["granularity"] != "interval").to_numpy(dtype=bool)
    out = {}
    for col in ("period_start", "period_end"):
        instants_ns = periods.utc_instants_ns(se[col])
        codes, _ = pd.factorize(instants_ns)
        _, first = np.unique(codes, return_index=True)
        texts = np.empty(len(first), dtype=object)
        is_local = local[first]
        texts[is_local] = _timestamp_texts(instants_ns[first][is_local], facility.tz)
        texts[~is_local] = _timestamp_texts(instants_ns[first][~is_local], "UTC")
        # distinct texts: hashed one by one (``categorize`` would only find them distinct)
        out[col] = pd.util.hash_array(texts, categorize=False)[codes]
    return out


@functools.lru_cache(maxsize=None)
def _mixed_zones(timezone: str) -> bool:
    """Whether pandas concatenates UTC times and times of ``timezone`` to Timestamp objects."""
    utc = pd.Series(pd.DatetimeIndex([0], tz="UTC"))
    return pd.concat([utc, utc.dt.tz_convert(ZoneInfo(timezone))]).dtype == object


def _timestamp_texts(instants_ns: np.ndarray, tz) -> np.ndarray:
    """``str(pandas.Timestamp)`` of each instant [ns UTC] in zone ``tz`` (object array).

    Whole seconds at whole-minute UTC offsets (every period boundary) are formatted in bulk;
    anything else falls back to the Timestamps themselves (hashing takes their text too).
    """
    if len(instants_ns) == 0:
        return np.empty(0, dtype=object)
    wall_ns = pd.DatetimeIndex(instants_ns, tz="UTC").tz_convert(tz).tz_localize(None).asi8
    offset_s = (wall_ns - instants_ns) // 10**9
    if (instants_ns % 10**9).any() or (offset_s % 60).any():
        return np.asarray(pd.DatetimeIndex(instants_ns, tz="UTC").tz_convert(tz).astype(object))
    walls = np.datetime_as_string(wall_ns.view("datetime64[ns]"), unit="s")
    offsets, which = np.unique(offset_s, return_inverse=True)
    suffix = [f"{'-' if o < 0 else '+'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}"
              for o in offsets.tolist()]
    return np.array([w.replace("T", " ") + suffix[k] for w, k in zip(walls.tolist(), which.tolist())],
                    dtype=object)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.astype(str)``, with date-time columns formatted once per distinct value (pandas
    formats a date-time column value by value; the distinct values decide its format)."""
    out = {}
    for col, values in frame.items():
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            codes, uniques = pd.factorize(values, use_na_sentinel=False)
            out[col] = pd.Series(uniques, dtype=values.dtype).astype(str).take(codes) \
                .set_axis(frame.index)
        else:
            out[col] = values.astype(str)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def _day_hashes(result: WindowResult, facility: Facility) -> tuple[np.ndarray, np.ndarray]:
    """The content hash of each day of a window: (day starts [ns UTC], hashes).

    A day's hash covers its interval and day rows, its stream energies, data quality rows and
    alerts, and the facility's configuration as written (``exclude_defaults``: a new optional field
    with a default does not re-version stored days). Per day, not per window, so that a run over
    other window boundaries (a nightly day inside a recalculated month) finds equal days equal.
    """
    calc_cols = ["period_start"] + CALC_VALUE_COLUMNS
    se = result.stream_energies.drop(columns=["facility_id"])
    dq = result.data_quality.drop(columns=["outlier_points"], errors="ignore")
    starts = periods.utc_instants_ns(result.days["period_start"])
    order = np.argsort(starts, kind="stable")
    frames = [(result.intervals[calc_cols], None), (result.days[calc_cols], None),
              (se, _stream_time_hashes(se, facility)), (_as_text(dq), dq["period_start"]),
              (result.alerts.astype(str), result.alerts.get("period_start"))]
    config = facility.model_dump_json(exclude_defaults=True).encode()
    digests = [hashlib.sha256(config) for _ in starts]
    for frame, given in frames:
        times = frame["period_start"] if given is None or isinstance(given, dict) else given
        hashes = _row_hashes(frame, given if isinstance(given, dict) else None)
        day = _day_index(times, starts[order])
        for i, d in enumerate(order):
            digests[d].update(hashes[day == i].tobytes())
            digests[d].update(b"|")
    return starts, np.array([h.hexdigest()[:32] for h in digests], dtype=object)


def _day_index(times: pd.Series | None, sorted_starts: np.ndarray) -> np.ndarray:
    """For each time, the position of its day in ``sorted_starts`` (-1 before the first)."""
    if times is None or len(times) == 0:
        return np.empty(0, dtype="int64")
    return np.searchsorted(sorted_starts, periods.utc_instants_ns(times), side="right") - 1


def store_window(home: Home, facility: Facility, result: WindowResult, *, run_id: str,
                 reason: str | None = None, new_version: bool = False,
                 now: pd.Timestamp | None = None) -> StoreSummary:
    """Write a window's results unless they equal the current ones (see module docstring).

    The stored rows of the window's months are read once: they give the current rows, the
    versions and, with the rows written here added, the month rows.
    """
    now = now or pd.Timestamp.now(tz="UTC")
    months = periods.months_touching(result.first, result.last)
    day_starts, day_hashes = _day_hashes(result, facility)
    with lake.facility_lock(home.lake, facility.facility_id):
        lake.rollback_pending(home.lake, facility.facility_id)   # files of a crashed earlier write
        stored = {m: versions.StoredMonth.read(home, facility.facility_id, m) for m in months}
        stored_calc = versions.concat([stored[m].calc for m in months])
        current = versions.current_rows(stored_calc, ["granularity", "period_start"])
        changed = np.ones(len(day_starts), dtype=bool) if new_version else \
            _changed_days(current, day_starts, day_hashes)
        if not changed.any():
            # a run that died after the window's write may not have updated its months yet
            recomputed = [m for m in months if recompute_month(home, facility, m, stored[m],
                                                               run_id=run_id, reason=reason, now=now)]
            return StoreSummary(facility.facility_id, changed=bool(recomputed),
                                months_recomputed=recomputed)
        result = _only_days(result, day_starts[changed])   # equal days keep their version
        content = dict(zip(day_starts[changed], day_hashes[changed]))
        seq = sequence.next_write_seq(home.lake, facility.facility_id)   # under the facility lock
        calc = pd.concat([result.intervals.assign(granularity="interval"),
                          _utc_times(result.days).assign(granularity="day")], ignore_index=True)
        sorted_starts = np.sort(day_starts[changed])
        calc_day = sorted_starts[_day_index(calc["period_start"], sorted_starts)]
        calc = _finish_calc(calc, facility, stored_calc, run_id, reason, now, seq,
                            [content[d] for d in calc_day])
        energies = _versioned_energies(result.stream_energies,
                                       versions.concat([stored[m].energies for m in months]), seq)
        emitted = carbon.emission_rows(facility, energies).assign(write_seq=seq)
        calc = carbon.with_co2e(calc, emitted)
        with lake.pending_results(home.lake, facility.facility_id, f"{seq:020d}"):
            for month, part in _write_by_month(home, facility, "calculations", calc, seq):
                stored[month].add_calc(part)
            for month, part in _write_by_month(home, facility, "stream_energies", energies, seq):
                stored[month].add_energies(part)
            _write_by_month(home, facility, "emissions", emitted, seq)
            dq = result.data_quality.assign(facility_id=facility.facility_id, write_seq=seq)
            dq["day_start"] = dq["period_start"]
            _write_by_month(home, facility, "data_quality", dq, seq)
            al = result.alerts.assign(run_id=run_id, write_seq=seq)
            al["day_start"] = al["period_start"]      # alerts belong to one local day
            if not al.empty:
                _write_by_month(home, facility, "alerts", al, seq)
            ub = result.uncertainty_budget
            if ub is not None and not ub.empty:
                ub = ub.assign(write_seq=seq)
                ub["day_start"] = ub["period_start"]   # budget rows belong to one local day
                for month, part in _write_by_month(home, facility, "uncertainty_budget", ub, seq):
                    stored[month].add_budgets(part)
        recomputed = [m for m in months if recompute_month(home, facility, m, stored[m],
                                                           run_id=run_id, reason=reason, now=now)]
    return StoreSummary(facility.facility_id, changed=True, versions_written=len(calc),
                        months_recomputed=recomputed)


def _utc_times(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``period_start``/``period_end`` as UTC instants (they are stored so; local
    and UTC times concatenated would become a column of Timestamp objects)."""
    return rows.assign(**{c: pd.to_datetime(rows[c], utc=True).dt.as_unit("ns")
                          for c in ("period_start", "period_end")})


def _changed_days(current: pd.DataFrame, day_starts: np.ndarray, day_hashes: np.ndarray) -> np.ndarray:
    """Which days' hashes differ from their current stored day row (or have none)."""
    if current.empty or "content_hash" not in current:
        return np.ones(len(day_starts), dtype=bool)
    days = current[current["granularity"] == "day"]
    stored = dict(zip(periods.utc_instants_ns(days["period_start"]), days["content_hash"]))
    return np.array([stored.get(d) != h for d, h in zip(day_starts, day_hashes)], dtype=bool)


def within_days(result: WindowResult, first: date, last: date, timezone: str) -> WindowResult:
    """``result`` without the days before local day ``first`` or after ``last`` (a facility's
    data range: days without any reading are not calculated, alerted or stored)."""
    starts = periods.utc_instants_ns(result.days["period_start"])
    lo = periods.local_midnight(first, timezone).value
    hi = periods.local_midnight(last + timedelta(days=1), timezone).value
    return _only_days(result, starts[(starts >= lo) & (starts < hi)])


def _only_days(result: WindowResult, keep: np.ndarray) -> WindowResult:
    """``result`` with the rows of the days starting at ``keep`` [ns UTC] only."""
    if len(keep) == len(result.days):
        return result
    starts = np.sort(periods.utc_instants_ns(result.days["period_start"]))
    wanted = np.isin(starts, keep)

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        day = _day_index(frame["period_start"], starts)
        return frame[(day >= 0) & wanted[np.maximum(day, 0)]].reset_index(drop=True)

    return dataclasses.replace(result, intervals=rows(result.intervals), days=rows(result.days),
                               stream_energies=rows(result.stream_energies),
                               data_quality=rows(result.data_quality), alerts=rows(result.alerts))


def _finish_calc(calc: pd.DataFrame, facility: Facility, stored: pd.DataFrame, run_id: str,
                 reason: str | None, now: pd.Timestamp, seq: int, content) -> pd.DataFrame:
    version = (np.ones(len(calc), dtype="int64") if stored.empty else
               versions.previous_versions(stored, calc, ["granularity", "period_start"]) + 1)
    return _with_columns(calc, {"facility_id": facility.facility_id, "version": version,
                                "calculated_at": now, "run_id": run_id, "reason": reason,
                                "write_seq": seq, "content_hash": content})


def _with_columns(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` (scalars or a value per row) set as ``frame[name] =
    value`` would set them, in one step when they are all new (each column set on a wide frame
    costs ~0.3 ms)."""
    if any(name in frame.columns for name in columns) or not frame.index.is_unique:
        frame = frame.copy()
        for name, value in columns.items():
            frame[name] = value
        return frame
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def _versioned_energies(se: pd.DataFrame, stored: pd.DataFrame, seq: int) -> pd.DataFrame:
    """Stream energy rows with their version (one more than the highest stored one)."""
    out = se.copy()
    keys = ["granularity", "period_start", "stream_id"]
    out["version"] = versions.previous_versions(stored, out, keys) + 1
    out["write_seq"] = seq
    return out


def _versioned_emissions(emitted: pd.DataFrame, energies: pd.DataFrame, seq: int) -> pd.DataFrame:
    """``carbon.emission_rows(facility, energies).assign(write_seq=seq)`` from the emission rows
    of the same ``energies`` without their versions: emission rows are the energies' rows of the
    emitting streams in their order, so only the ``version`` column is taken over."""
    if emitted.empty:
        return emitted.assign(write_seq=seq)
    emitting = energies["stream_id"].isin(emitted["stream_id"].unique()).to_numpy()
    return emitted.assign(version=energies["version"].to_numpy()[emitting], write_seq=seq)


def _write_by_month(home: Home, facility: Facility, dataset: str, df: pd.DataFrame,
                    seq: int) -> list[tuple[str, pa.Table]]:
    """Write ``df`` as one file per local month of ``period_start``; return (month, table written)."""
    if df.empty:
        return []
    instants_ns = periods.utc_instants_ns(df["period_start"])
    first, last = pd.to_datetime([instants_ns.min(), instants_ns.max()], utc=True).tz_convert(facility.tz)
    keys = periods.months_touching(first.date(), last.date())
    bounds = np.array([periods.local_midnight(periods.month_bounds(k)[0], facility.tz).value
                       for k in keys], dtype="int64")
    which = np.searchsorted(bounds, instants_ns, side="right") - 1
    written = []
    for i, key in enumerate(keys):
        rows = np.flatnonzero(which == i)
        if len(rows) == 0:
            continue
        rows_df = df if len(rows) == len(df) else df.iloc[rows]   # one month: no copy to take
        part = _stable_table(rows_df)
        lake.write_result(home.lake, dataset, facility.facility_id, key, part, f"{seq:020d}")
        written.append((key, part))
    return written


TIME_COLUMNS = ("period_start", "period_end", "calculated_at", "day_start", "start", "end", "ts")
TEXT_COLUMNS = ("facility_id", "granularity", "basis", "status", "run_id", "reason", "content_hash",
                "stream_id", "role", "carrier", "tag", "issues", "kind", "severity", "message",
                "detail", "quantity", "source", "unit", "scope", "factor_source")
_UTC_US = pa.timestamp("us", tz="UTC")


def _stable_table(df: pd.DataFrame) -> pa.Table:
    """``df`` as the Arrow table of its result file, one type per column whatever the frame held:
    UTC microseconds for instants (local-zone and UTC timestamps mixed in one column would
    otherwise become text), large strings for text even when every value is missing, and for
    every other column what ``pyarrow.Table.from_pandas`` makes of it (NaN stored as null).

    Built column by column from the frame's arrays: converting the frame's types in pandas first
    and then the frame cost ~2-5 ms per file, most of a small result file's write."""
    arrays = []
    for col in df.columns.tolist():        # (``items()`` indexes the text column labels one by one)
        values = df[col]
        dtype = values.dtype
        if isinstance(dtype, pd.DatetimeTZDtype) or col in TIME_COLUMNS:
            arrays.append(_utc_us(values))
        elif isinstance(dtype, pd.StringDtype):          # text: its Arrow array as it is
            text = values.array.__arrow_array__()
            arrays.append(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)
        elif col in TEXT_COLUMNS or dtype == object:     # e.g. None or NaN only: text too
            arrays.append(pa.array(values.astype("string"), type=pa.large_string(), from_pandas=True))
        elif isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            arrays.append(pa.array(values.to_numpy(), from_pandas=True))
        else:
            arrays.append(pa.Array.from_pandas(values))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


def _utc_us(values: pd.Series) -> pa.Array:
    """A column of instants (tz-aware, naive UTC or Timestamp objects) as UTC microseconds
    (floored, as ``astype("datetime64[us]")``), NaT as null."""
    instants_ns = periods.utc_instants_ns(values)
    missing = instants_ns == np.iinfo(np.int64).min                # NaT
    return pa.array(np.floor_divide(instants_ns, 1000), type=_UTC_US,
                    mask=missing if missing.any() else None)


def recompute_month(home: Home, facility: Facility, month: str, stored: versions.StoredMonth, *,
                    run_id: str, reason: str | None, now: pd.Timestamp) -> bool:
    """Recompute a month row from the current interval rows; write it if it changed.

    ``stored`` holds every stored version of the month's rows (as
    :class:`thermaliq.store.versions.StoredMonth` reads them, with the rows written since added). The caller holds the facility lock. Returns True
    when a new month version was written.
    """
    calc, se = stored.calc, stored.energies
    if calc.empty:
        return False
    current = versions.current_rows(calc, ["granularity", "period_start"])
    intervals = current[current["granularity"] == "interval"].set_index("period_start").sort_index()
    se = se[se["granularity"] == "interval"]
    se = versions.current_rows(se, ["granularity", "period_start", "stream_id"])
    energy_kwh, exergy_kwh = _by_stream(se, intervals.index, ["energy_kwh", "exergy_kwh"])
    energies = energy.StreamEnergies(energy_kwh=energy_kwh, exergy_kwh=exergy_kwh, issues=[])
    valid = intervals["data_quality_score"] >= 1.0
    states = operating.operating_states(facility, energy_kwh)
    first, _ = periods.month_bounds(month)
    rows = balance.period_results(facility, energies, valid, "month", states)
    rows = rows[rows["period_start"] == periods.local_midnight(first, facility.timezone)]
    if rows.empty:
        return False
    rows = rows.copy()
    # Month to date: the denominator is the intervals of the days calculated so far, so a month in
    # progress (or a backfill that starts mid-month) is not reported as missing data.
    rows["intervals"] = len(intervals)
    rows["data_quality_score"] = rows["valid_intervals"] / max(len(intervals), 1)
    summed = summed_over_periods(energies, valid, rows)      # the month's stream energies [kWh]
    rows["max_efficiency_percent"] = bounds.max_efficiency_percent(facility, summed.energy_kwh)
    rows["status"] = period_status(rows, facility)
    for col, value in engineering.month_uncertainty(home, facility, month, current, rows.iloc[0],
                                                    stored.budgets).items():
        rows[col] = value
    for col, value in chp.period_chp_columns(
            facility, summed.energy_kwh.reindex(columns=energy_kwh.columns)).items():
        rows[col] = value
    rows = rows.assign(granularity="month")
    # each stream's own total: its interval rows hold its energy where its own data was valid
    # (NaN elsewhere), so the month sums them over the intervals calculated so far
    own = balance.stream_totals(energy_kwh, energy_kwh.notna(), rows["period_start"], [len(intervals)])
    month_energies = long_stream_energies(facility, summed, "month", rows, own)
    month_emitted = carbon.emission_rows(facility, month_energies)
    rows = carbon.with_co2e(rows, month_emitted)
    months_current = current[current["granularity"] == "month"]
    if not months_current.empty:
        old = months_current.iloc[0]
        if all(_same(old.get(c, np.nan), rows.iloc[0][c])
               for c in CALC_VALUE_COLUMNS + MONTH_ADDED_COLUMNS + carbon.CALC_COLUMNS if c in rows):
            return False
    seq = sequence.next_write_seq(home.lake, facility.facility_id)   # under the facility lock
    # versions count per granularity: only stored month rows can match
    rows = _finish_calc(rows, facility, calc[calc["granularity"] == "month"], run_id, reason, now,
                        seq, "")
    month_energies = _versioned_energies(
        month_energies, stored.energies[stored.energies["granularity"] == "month"], seq)
    month_emitted = _versioned_emissions(month_emitted, month_energies, seq)
    with lake.pending_results(home.lake, facility.facility_id, f"{seq:020d}"):
        lake.write_result(home.lake, "calculations", facility.facility_id, month,
                          _stable_table(rows), f"{seq:020d}")
        lake.write_result(home.lake, "stream_energies", facility.facility_id, month,
                          _stable_table(month_energies), f"{seq:020d}")
        lake.write_result(home.lake, "emissions", facility.facility_id, month,
                          _stable_table(month_emitted), f"{seq:020d}")
    return True


#: Month columns beyond ``CALC_VALUE_COLUMNS`` (issue 17) that a changed month rewrites.
MONTH_ADDED_COLUMNS = engineering.ENGINEERING_COLUMNS


def _by_stream(rows: pd.DataFrame, index: pd.DatetimeIndex, values: list[str]) -> list[pd.DataFrame]:
    """``rows.pivot(index="period_start", columns="stream_id", values=v).reindex(index)`` for
    each column ``v`` of ``values``: rows one per period and stream, streams in sorted order."""
    stream, streams = pd.factorize(rows["stream_id"], sort=True)
    at = index.get_indexer(rows["period_start"])
    inside = at >= 0
    columns = pd.Index(streams, name="stream_id")
    out = []
    for name in values:
        grid = np.full((len(index), len(streams)), np.nan)
        grid[at[inside], stream[inside]] = rows[name].to_numpy(dtype="float64")[inside]
        out.append(pd.DataFrame(grid, index=index, columns=columns))
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (a != a and b != b) or abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b
