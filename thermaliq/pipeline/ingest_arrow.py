"""The fast lane of the ingest: a chunk that needs no repair goes to new day partitions in Arrow.

Most chunks of a backfill hold only readings that :func:`thermaliq.quality.cleaning.clean_readings` would
keep as they are (known tags, no unit to convert, finite values inside the ranges, plausible
times, one reading per tag and instant) of local days the lake does not hold yet. For such a
chunk the cleaning and the merge are the identity, so :func:`store_new_days` writes each day's
partition straight from the Arrow readings: the same rows, order and types as
``lake.readings_table(clean_readings(...).readings)``, hence byte-identical files, for a fraction
of the cost (no pandas object columns, no time-zone conversion of every row). Any other chunk is
left alone (``False``) for the general path, which names every problem.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.store import lake
from thermaliq.quality import cleaning
from thermaliq.config import Facility

_NS_PER_DAY = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)


def store_new_days(lake_dir, facility: Facility, table: pa.Table, now: pd.Timestamp,
                   summary, touched: set | None = None,
                   tag_index: Callable[[], tuple[list, np.ndarray]] | None = None,
                   private: bool = False) -> bool:
    """Write the readings of ``table`` (the Arrow form of :class:`thermaliq.sources.readers.ReadResult`)
    as new local-day partitions when cleaning would change nothing; return whether it did.

    On ``False`` nothing was written and the caller takes the general path. The facility lock
    is held from the check that the days are new to the last write. ``touched``, when given,
    receives the local days looked up in the lake. ``tag_index``, when given, returns
    :func:`thermaliq.sources.readers.tag_index` of ``table["tag"]`` (the chunk's, already built
    when the caller looked for unconfigured tags): the tag column is then not hashed again.
    ``private``: the lake is the caller's alone (a prepare job's scratch lake), no lock is taken.
    """
    n = table.num_rows
    if n == 0 or table["unit"].null_count != n:      # units to check or convert: general path
        return False
    if tag_index is None:
        from thermaliq.sources import readers  # (its import loads DuckDB: only when reading)
        tag_index = functools.partial(readers.tag_index, table["tag"])
    specs = facility.tag_specs()
    tag_names = list(specs)
    code = _tag_codes(*tag_index(), tag_names)
    if code is None:
        return False
    ts = table["ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    values = table["value"].to_numpy(zero_copy_only=False)
    units, lo_of, hi_of = cleaning.tag_limits(specs)
    inverse, instants = pd.factorize(ts)             # distinct instants (hashing, no sort)
    if not _all_plain(code, instants, values, lo_of, hi_of, now):
        return False
    units = list(units)
    days, day_of_row = _local_days_of(instants, inverse, facility.timezone)
    rank = np.argsort(np.argsort(np.array(tag_names, dtype=object)))  # code -> position by name
    order = _tag_time_order(rank[code], ts)          # the stored order: tag, then ts
    if _repeats(code[order], ts[order]):             # duplicates or conflicts: general path
        return False
    if touched is not None:
        touched.update(days)
    with lake.write_lock(lake_dir, facility.facility_id, private=private):
        if any(lake.readings_partition(lake_dir, facility.facility_id, d).exists() for d in days):
            return False                             # a merge with stored readings: general path
        by_day = order[np.argsort(day_of_row[order], kind="stable")] if len(days) > 1 else order
        cols = _columns(table)
        bounds = _day_bounds(day_of_row[by_day], len(days))
        # Parquet encoding, compression and fsync release the GIL: a day is written while the
        # next one is cut out (at most WRITE_THREADS partitions in flight: bounded memory).
        with ThreadPoolExecutor(WRITE_THREADS) if len(days) > 1 else _InlineWriter() as pool:
            pending = []
            for i, day in enumerate(days):
                rows = by_day[bounds[i]:bounds[i + 1]]
                part = _partition(cols, rows, ts, code, tag_names, units)
                pending.append(pool.submit(lake.write_readings_day, lake_dir, facility.facility_id,
                                           day, part))
                if len(pending) > WRITE_THREADS:
                    pending.pop(0).result()
                if day not in summary.days:
                    summary.days.append(day)
                summary.readings_stored += len(rows)
            for f in pending:
                f.result()
    return True


#: Day partitions written at the same time by :func:`store_new_days` [threads].
WRITE_THREADS = 2


class _InlineWriter:
    """The executor of a chunk of one local day (a day file): its partition is written at once
    in the caller's thread, as there is nothing to overlap it with (a writer thread cost its
    start, a malloc arena's growth and shrinking, and two hand-overs per file)."""

    def __enter__(self) -> "_InlineWriter":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, /, *args) -> Future:
        """``fn(*args)`` run now; its finished future (an error is raised here)."""
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def _day_bounds(day_sorted: np.ndarray, ndays: int) -> np.ndarray:
    """Where each day's rows start in ``day_sorted`` (the day index of rows sorted by day, then
    tag, then time): day ``i`` is ``[b[i], b[i+1])``."""
    return np.searchsorted(day_sorted, np.arange(ndays + 1), side="left")


def _tag_time_order(key: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """``np.lexsort((ts, key))``: rows by ``key`` (tag positions, small integers), then by
    instant ``ts``, ties in row order. Files written in time order already hold each tag's rows
    in time order; then a stable sort by ``key`` alone (a radix sort) gives the same order."""
    if len(key) and key.max() < np.iinfo(np.int16).max:
        order = np.argsort(key.astype(np.int16), kind="stable")
        k, t = key[order], ts[order]
        if not ((k[1:] == k[:-1]) & (t[1:] < t[:-1])).any():
            return order
    return np.lexsort((ts, key))


def _repeats(code: np.ndarray, ts: np.ndarray) -> bool:
    """Whether two neighbours of rows sorted by tag share tag and instant."""
    return bool(((code[1:] == code[:-1]) & (ts[1:] == ts[:-1])).any())


def _tag_codes(distinct: list, indices: np.ndarray, tag_names: list[str]) -> np.ndarray | None:
    """Position of each row's tag in ``tag_names`` (the configured tags), from the rows' tag
    index (``distinct`` tags, each row's ``indices`` into them); None if a tag is not configured
    (or missing)."""
    index = {t: i for i, t in enumerate(tag_names)}
    if any(t not in index for t in distinct):
        return None
    return np.array([index[t] for t in distinct], dtype=np.int64)[indices]


def _all_plain(code: np.ndarray, instants: np.ndarray, values: np.ndarray, lo_of: np.ndarray,
               hi_of: np.ndarray, now: pd.Timestamp) -> bool:
    """Whether no reading would be rejected or changed by the ingest's checks of single
    readings (times, ranges); duplicates are looked for by the caller.

    ``instants`` are the rows' instants [ns since epoch, UTC], each distinct one once (a day
    file repeats each one per tag): the earliest, the latest and any below 1 µs are theirs.
    """
    latest = (pd.Timestamp(now).tz_convert("UTC") + cleaning.FUTURE_SLACK).value
    if instants.min() < cleaning.EARLIEST_TS.value or instants.max() > latest \
            or (instants % 1000).any():
        return False                                  # implausible times; sub-µs precision
    return bool(np.isfinite(values).all() and ((values >= lo_of[code]) & (values <= hi_of[code])).all())


def _local_days_of(uniq: np.ndarray, inverse: np.ndarray, tz: str) -> tuple[list[date], np.ndarray]:
    """The sorted local dates of rows given as their distinct instants ``uniq`` [ns since epoch,
    UTC] and each row's index ``inverse`` into them (``pandas.factorize``: hashing, no sort of
    every row), and each row's index into those dates; the zone's offsets are looked up once per
    distinct instant, not per row."""
    local = pd.DatetimeIndex(uniq.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    day_num = local.tz_localize(None).asi8 // _NS_PER_DAY
    distinct, pos = np.unique(day_num, return_inverse=True)
    return [_EPOCH + timedelta(days=int(d)) for d in distinct], pos[inverse]


def _columns(table: pa.Table) -> dict:
    """The columns :func:`_partition` takes rows from, each in one contiguous array (a take from
    a column of many chunks costs the whole column, once per day), and whether the chunk holds
    one file's readings (one ``source``) or no quality text at all."""
    source = table["source"]
    one_source = source.null_count == 0 and (table.num_rows == 0 or
                                             pc.all(pc.equal(source, source[0])).as_py())
    no_quality = table["quality"].null_count == table.num_rows
    return {"value": table["value"].combine_chunks(), "row": table["row"].combine_chunks(),
            "quality": None if no_quality else table["quality"].combine_chunks(),
            "source": source[0] if one_source else source.combine_chunks(), "one_source": one_source}


def _partition(cols: dict, rows: np.ndarray, ts: np.ndarray, code: np.ndarray,
               tag_names: list[str], tag_units: list[str | None]) -> pa.Table:
    """The stored form (``lake.readings_table``) of the selected, already ordered rows.

    ``cols`` is :func:`_columns` of the chunk. Tags and units are taken from the facility's
    short lists by tag code, the source is the chunk's one file: cheaper than gathering strings
    row by row.
    """
    n, take, picked = len(rows), pa.array(code[rows]), pa.array(rows)
    out = {"tag": pc.take(pa.array(tag_names, pa.string()), take),
           "unit": pc.take(pa.array(tag_units, pa.string()), take),
           "quality": pa.nulls(n) if cols["quality"] is None else cols["quality"].take(picked),
           "source": (pa.repeat(cols["source"], n) if cols["one_source"]
                      else cols["source"].take(picked))}
    out = {k: a if a.null_count < len(a) else pa.nulls(len(a)) for k, a in out.items()}
    out["ts"] = pa.array(ts[rows] // 1000, pa.int64()).view(pa.timestamp("us", tz="UTC"))
    out["value"] = cols["value"].take(picked)
    out["row"] = cols["row"].take(picked)
    return pa.table({c: out[c] for c in lake.READINGS_COLUMNS})
