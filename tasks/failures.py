"""Failure task: one failed task run per facility that failed inside a batched task.

The calculation and store tasks each run a whole window for every facility, the file ingest task
every file-sourced facility (one Prefect task run instead of one per facility: Prefect costs
~25-30 ms per task run, and a fleet has hundreds of facilities). So that the Prefect UI still
shows *which* facility failed, each failed facility gets its own task run, named
``<step>-<facility>-<first>-<last>``, in the Failed state with the facility's error as its message;
the batch goes on with the other facilities.
"""
from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from thermaliq.pipeline.outcomes import WindowFailure


class FacilityFailed(RuntimeError):
    """One facility's part of a batched task failed (the message names the facility and why)."""


@task(name="failed", task_run_name="{step}-{facility_id}-{first}-{last}", cache_policy=NO_CACHE)
def facility_failed(step: str, facility_id: str, first: date, last: date, reason: str) -> None:
    """Fail, naming the facility: the task run of one facility's failure in a batch."""
    raise FacilityFailed(f"{step} {facility_id} {first}..{last} failed: {reason}")


def show_failure(step: str, facility_id: str, first: date, last: date, reason: str) -> None:
    """Record one facility's failure as its own failed task run (from inside a batched task; the
    failure is not raised here: the batch returns it with the other facilities' results)."""
    facility_failed(step, facility_id, first, last, reason, return_state=True)


def facility_results(futures: dict, step: str, first: date, last: date, logger) -> dict:
    """Each facility's job result, or its :class:`WindowFailure` (logged, and shown as its own
    failed task run by :func:`show_failure`), for the finished ``futures`` (facility id → future)."""
    out = {}
    for fid, future in futures.items():
        exc = future.exception()
        if exc is None:
            out[fid] = future.result()
            continue
        reason = f"{type(exc).__name__}: {exc}"
        logger.error("%s %s..%s: %s failed: %s", fid, first, last, step, reason)
        show_failure(step, fid, first, last, reason)
        out[fid] = WindowFailure(fid, first, last, reason)
    return out
