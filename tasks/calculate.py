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

from tasks import workers
from thermaliq.pipeline import jobs


@task(name="calculate", task_run_name="calculate-{facility_id}-{first}-{last}", cache_policy=NO_CACHE)
def calculate_facility_window(home: str, facility_id: str, first: date, last: date, run_id: str) -> dict:
    """Compute one facility window; return ``stash`` (its file), ``profile`` (for GX) and
    ``compute_s`` (see :func:`thermaliq.pipeline.jobs.compute_window`)."""
    logger = get_run_logger()
    out = workers.run_in_order(first.isoformat(), jobs.compute_window, home, facility_id, first, last, run_id)
    for issue in out.pop("issues"):
        logger.warning("%s: %s", facility_id, issue)
    logger.info("%s %s..%s computed in %.2f s", facility_id, first, last, out["compute_s"])
    return out
