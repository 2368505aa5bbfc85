"""Calculation task: compute one facility over one window of local days (in a worker process).

The result waits on disk (``thermaliq.store.stash``) for the window's store task
(:mod:`tasks.store`), which adds the alerts and the Great Expectations outcome in window order;
so the windows of a facility are computed side by side. The task also returns the window's tag
profile, built from the same read of the readings, for the window's validation task.
"""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.pool import worker_pool
from thermaliq.config import Facility
from thermaliq.pipeline import jobs
from thermaliq.pipeline.outcomes import ComputedWindow
from thermaliq.settings import Settings


@task(name="calculate", task_run_name="calculate-{facility.facility_id}-{first}-{last}",
      cache_policy=NO_CACHE)
def calculate_facility_window(home: str, facility: Facility, first: date, last: date, run_id: str,
                              settings: Settings) -> ComputedWindow:
    """Compute one facility window (:func:`thermaliq.pipeline.jobs.compute_window_job`); the
    windows of a backfill queue for the worker processes by their first day."""
    logger = get_run_logger()
    pool = worker_pool(settings).in_order(first.isoformat())
    out = pool.submit(jobs.compute_window_job, home, facility, first, last, run_id).result()
    for issue in out.issues:
        logger.warning("%s: %s", facility.facility_id, issue)
    logger.info("%s %s..%s computed in %.2f s", facility.facility_id, first, last, out.compute_s)
    return out
