"""Whole units of a task's work as plain functions, so a pool of worker processes can run them.

Each job takes and returns small picklable values (the home as str, the facility's configuration,
dates, the frozen dataclasses of :mod:`thermaliq.pipeline.outcomes`) and does its own lake I/O, so
only a summary crosses the process boundary. No Prefect import: worker processes load the library
only. Facility locks are file locks, so jobs in several processes stay safe. Job names end in
``_job``: each wraps the library function of the same stem.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from thermaliq.pipeline import baselines, calculate, ingest, results
from thermaliq.pipeline.outcomes import AlertSummary, ComputedWindow, DaySummary, IngestOutcome, StoreOutcome
from thermaliq import periods
from thermaliq.store import lake, stash
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.quality.window_profile import facility_profile, window_label


def compute_window_job(home: str, facility: Facility, first: date, last: date,
                       run_id: str) -> ComputedWindow:
    """Compute one facility over local days ``first`` .. ``last`` (inclusive) with
    :func:`thermaliq.pipeline.calculate.compute_window` and leave the result for
    :func:`store_window_job` (``thermaliq.store.stash``); profile the window's readings for Great
    Expectations from the same read."""
    started = time.perf_counter()
    h = Home.resolve(home)
    lake.refresh(h.lake, facility.facility_id)        # a remote lake: its last commit (issue #19)
    readings = calculate.load_window_readings(h, facility, first, last)
    start, end = periods.day_window(first, last, facility.timezone)
    ts = readings["ts"]
    profile = facility_profile(rows_where(readings, ((ts >= start) & (ts < end)).to_numpy()),
                               facility, window_label(first, last))
    result = calculate.compute_window(h, facility, first, last, readings=readings)
    del readings, ts
    path = stash.put(h, run_id, result)
    issues = tuple(result.issues[:20])
    del result
    release_memory()          # the window's frames are garbage now: keep RSS at one window
    return ComputedWindow(facility.facility_id, first, last, str(path), profile,
                          time.perf_counter() - started, issues)


def store_window_job(home: str, facility: Facility, computed: ComputedWindow, run_id: str, gx: dict,
                     reason: str | None = None, new_version: bool = False) -> StoreOutcome:
    """Store a window computed by :func:`compute_window_job`: add its alerts (from the stored days
    before it, so the windows of a facility are stored in order) and the Great Expectations
    outcome ``gx`` to its data quality, and store it with
    :func:`thermaliq.pipeline.results.store_window` (a new version when it differs)."""
    started = time.perf_counter()
    h = Home.resolve(home)
    result = stash.take(computed.stash)
    covered = lake.data_days(h.lake, facility.facility_id)
    if covered is None or covered[0] > computed.first or covered[1] < computed.last:
        # no data is not bad data: days before the first reading or after the last are left out
        first, last = covered or (computed.last + timedelta(days=1), computed.first)
        result = results.within_days(result, first, last, facility.timezone)
    if covered is not None and covered[1] <= computed.last and not result.events.empty:
        # the silence after the facility's last reading is the end of the data, not meters offline
        end_ns = lake.last_reading(h.lake, facility.facility_id, covered[1])
        if end_ns is not None:
            ev = result.events
            end_of_data = (ev["kind"] == "offline") & (pd.to_datetime(ev["start"], utc=True)
                                                       >= end_ns - facility.interval_td)
            result.events = ev[~end_of_data].reset_index(drop=True)
    result = calculate.add_alerts(h, facility, result)
    result.data_quality = merge_gx_issues(result.data_quality, gx)
    stored = results.store_window(h, facility, result, run_id=run_id, reason=reason,
                                  new_version=new_version)
    release_memory()
    return StoreOutcome(
        facility.facility_id, computed.first, computed.last, changed=stored.changed,
        duration_s=computed.compute_s + time.perf_counter() - started,
        days=tuple(DaySummary(r.period_start, _f(r.efficiency_percent), _f(r.data_quality_score), r.status,
                              _f(r.balance_error_percent), r.basis)
                   for r in result.days[list(DAY_SUMMARY_COLUMNS)].itertuples(index=False)),
        alerts=tuple(AlertSummary(a.kind, a.severity, a.message)
                     for a in result.alerts[["kind", "severity", "message"]].itertuples(index=False)),
        gx_success=bool(gx.get("success")), data_docs=gx.get("data_docs_path"))


#: The day-row columns a store outcome reports (a named tuple of all ~60 columns cost ~1 ms a job).
DAY_SUMMARY_COLUMNS = ("period_start", "efficiency_percent", "data_quality_score", "status",
                       "balance_error_percent", "basis")


def fit_baseline_job(home: str, facility: Facility, run_id: str) -> baselines.BaselineOutcome | None:
    """Refit the facility's energy baseline from its stored results with
    :func:`thermaliq.pipeline.baselines.update_baseline` (a new version when anything changed;
    None without a ``baseline``). Once per facility and run, after the run's last store job of
    the facility: the fit reads every current period, so fitting after each window would only
    write versions that the next window replaces."""
    out = baselines.update_baseline(Home.resolve(home), facility, run_id=run_id)
    release_memory()
    return out


def ingest_files_job(home: str, facility: Facility, force: bool = False,
                     now: pd.Timestamp | None = None) -> IngestOutcome:
    """Bring a file-sourced facility's new files into the lake with
    :func:`thermaliq.pipeline.ingest.ingest_files`, one after the other.

    ``thermaliq.pipeline.ingest_many.ingest_files_parallel`` splits a facility's many files over
    several jobs (and calls this with one worker process).
    """
    summary = ingest.ingest_files(Home.resolve(home), facility, force=force, now=now)
    release_memory()
    return IngestOutcome.of(summary)


def merge_gx_issues(data_quality: pd.DataFrame, gx: dict) -> pd.DataFrame:
    """Append failed expectations to the ``issues`` text of the tags they concern.

    Each failed result row names its offending tag and the exact number of offending readings:
    ``"GX <expectation>: <n> unexpected"`` goes on every row of that tag. Failures of tags
    without a ``data_quality`` row (unconfigured tags, readings without a tag) and of the window
    as a whole are summed per expectation and check and go on every row of the window.
    """
    failed = [r for r in gx.get("results", []) if not r.get("success", True)]
    if not failed or data_quality.empty:
        return data_quality
    out = data_quality.copy()
    known = set(out["tag"])
    texts: dict[tuple, int] = {}          # (tag or None for the window, expectation, check) -> n
    for r in failed:
        tag = r.get("tag") if r.get("tag") in known else None
        key = (tag, r.get("expectation"), r.get("check"))
        texts[key] = texts.get(key, 0) + int(r.get("unexpected_count") or 0)
    for (tag, expectation, _), n in texts.items():
        rows = out["tag"] == tag if tag is not None else slice(None)
        text = f"GX {expectation}: {n} unexpected"
        out.loc[rows, "issues"] = out.loc[rows, "issues"].fillna("").map(
            lambda s, t=text: f"{s}; {t}" if s else t)
    return out


def rows_where(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame[keep]``; a slice when the kept rows are one block (a window's readings without the
    margins read before and after it: picking 900 000 rows cost ~35 ms)."""
    at = np.flatnonzero(keep)
    if len(at) and at[-1] - at[0] + 1 == len(at):
        return frame.iloc[at[0]:at[-1] + 1]
    return frame[keep]


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc ``malloc_trim``); a no-op without glibc.

    Called at the end of every job: threads and processes each keep a malloc arena, and without
    a trim the memory of every finished window stays resident, so a long backfill's RSS grew
    with the number of threads that had run a window. (No ``gc.collect()``: the window's frames
    are freed by reference counting, and a full collection cost ~0.2 s per job.)
    """
    if _TRIM is not None:
        _TRIM(0)


def _malloc_trim():
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def _f(x) -> float | None:
    return None if pd.isna(x) else float(x)


_TRIM = _malloc_trim()
