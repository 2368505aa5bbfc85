"""Calculation task: validate and calculate one facility over one window of local days."""
from __future__ import annotations

import threading
import time
from datetime import date

import pandas as pd
from filelock import FileLock
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.common import facility_of, release_memory
from thermaliq import calculate, periods, results

_GX_LOCK = threading.Lock()  # one GX validation at a time in this process (and see _validate)


@task(name="calculate", task_run_name="calculate-{facility_id}-{first}-{last}", cache_policy=NO_CACHE)
def calculate_facility_window(home: str, facility_id: str, first: date, last: date, run_id: str,
                              reason: str | None = None, new_version: bool = False,
                              validate: bool = True) -> dict:
    """Validate (Great Expectations), calculate and store one facility window; return a summary."""
    logger = get_run_logger()
    started = time.perf_counter()
    h, facility = facility_of(home, facility_id)
    readings = calculate.load_window_readings(h, facility, first, last)
    gx = None
    if validate:
        gx = _validate(h, facility, readings, first, last, run_id)
    result = calculate.calculate_window(h, facility, first, last, readings=readings)
    if gx is not None:
        result.data_quality = merge_gx_issues(result.data_quality, gx)
    stored = results.store_window(h, facility, result, run_id=run_id, reason=reason,
                                  new_version=new_version)
    del readings
    release_memory()          # the window's frames are garbage now: keep RSS at one window
    for issue in result.issues[:20]:
        logger.warning("%s: %s", facility_id, issue)
    days = result.days
    logger.info("%s %s..%s: %d days, %s", facility_id, first, last, len(days),
                "stored a new version" if stored.changed else "unchanged, nothing written")
    return {
        "facility_id": facility_id, "first": first.isoformat(), "last": last.isoformat(),
        "changed": stored.changed, "duration_s": time.perf_counter() - started,
        "days": [{"period_start": r.period_start.isoformat(), "efficiency_percent": _f(r.efficiency_percent),
                  "data_quality_score": _f(r.data_quality_score), "status": r.status,
                  "balance_error_percent": _f(r.balance_error_percent), "basis": r.basis}
                 for r in days.itertuples(index=False)],
        "alerts": result.alerts[["kind", "severity", "message"]].to_dict("records"),
        "gx_success": None if gx is None else bool(gx.get("success")),
        "data_docs": None if gx is None else gx.get("data_docs_path"),
    }


def _f(x) -> float | None:
    return None if pd.isna(x) else float(x)


def _validate(home, facility, readings: pd.DataFrame, first: date, last: date, run_id: str) -> dict:
    from tasks.gx_validate import validate_readings

    # Only the window's own rows: the margins loaded for alignment belong to the neighbouring
    # windows, which validate them; validating them here too made GX cost grow with the margin.
    start, end = periods.day_window(first, last, facility.timezone)
    window = readings[(readings["ts"] >= start) & (readings["ts"] < end)]
    home.gx.mkdir(parents=True, exist_ok=True)
    # One validation at a time per home: the GX file context under <home>/gx is shared by every
    # process (a nightly run next to a backfill) and is not safe for concurrent writers.
    with _GX_LOCK, FileLock(str(home.gx / ".thermaliq-gx.lock")):
        return validate_readings(window, facility, home.gx, f"{facility.facility_id}-{first}-{last}-{run_id[:8]}")


def merge_gx_issues(data_quality: pd.DataFrame, gx: dict) -> pd.DataFrame:
    """Append failed expectations to the ``issues`` text of the tags they concern."""
    failed = [r for r in gx.get("results", []) if not r.get("success", True)]
    if not failed or data_quality.empty:
        return data_quality
    out = data_quality.copy()
    for r in failed:
        tag = r.get("tag") or r.get("column")
        text = f"GX {r.get('expectation')}: {r.get('unexpected_count', 0)} unexpected"
        rows = out["tag"] == tag if tag in set(out["tag"]) else slice(None)
        out.loc[rows, "issues"] = out.loc[rows, "issues"].fillna("").map(
            lambda s, t=text: f"{s}; {t}" if s else t)
    return out
