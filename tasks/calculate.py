"""Calculation task: calculate one facility over one window of local days, with its GX outcome."""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import workers
from thermaliq import jobs
from thermaliq.errors import DataError


@task(name="calculate", task_run_name="calculate-{facility_id}-{first}-{last}", cache_policy=NO_CACHE)
def calculate_facility_window(home: str, facility_id: str, first: date, last: date, run_id: str,
                              gx: dict, reason: str | None = None, new_version: bool = False) -> dict:
    """Calculate and store one facility window with its Great Expectations outcome; return a
    summary.

    ``gx`` is this facility's entry of the window's validation task (:mod:`tasks.validate`: one
    GX run for every facility of the window); an ``error`` entry fails this window with it.
    """
    logger = get_run_logger()
    if "error" in gx:
        raise DataError(f"not validated: {gx['error']}", source=f"{facility_id} {first}..{last}")
    out = workers.run(jobs.calculate_and_store, home, facility_id, first, last, run_id, gx,
                      reason=reason, new_version=new_version)
    for issue in out.pop("issues"):
        logger.warning("%s: %s", facility_id, issue)
    logger.info("%s %s..%s: %d days in %.2f s, %s", facility_id, first, last, len(out["days"]),
                out["duration_s"], "stored a new version" if out["changed"] else "unchanged, nothing written")
    return out
