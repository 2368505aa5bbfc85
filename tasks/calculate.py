"""Calculation task: compute one window of local days for a batch of facilities (in worker processes).

One task run per window computes every facility of the batch: each facility is a job of its own in
the worker processes (:func:`thermaliq.pipeline.jobs.compute_window_job`), so a fleet's night pays
Prefect's per-task cost once, not per facility. A facility whose job fails is returned as a
:class:`WindowFailure` and gets its own failed task run (:mod:`tasks.failures`), so the Prefect UI
names it; the other facilities go on.

The result waits on disk (``thermaliq.store.stash``) for the window's store task
(:mod:`tasks.store`), which adds the alerts and the Great Expectations outcome in window order;
so the windows of a facility are computed side by side. Each facility's result also carries the
window's tag profile, built from the same read of the readings, for the window's validation task.
"""
from __future__ import annotations

from concurrent.futures import wait
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.failures import facility_results
from tasks.pool import worker_pool
from thermaliq.config import Facility
from thermaliq.pipeline import jobs
from thermaliq.pipeline.outcomes import ComputedWindow, WindowFailure
from thermaliq.settings import Settings


def _run_name(parameters: dict) -> str:
    facilities = parameters["facilities"]
    who = next(iter(facilities)) if len(facilities) == 1 else f"{len(facilities)}-facilities"
    return f"calculate-{who}-{parameters['first']}-{parameters['last']}"


@task(name="calculate", task_run_name=_run_name, cache_policy=NO_CACHE)
def calculate_window(home: str, facilities: dict[str, Facility], first: date, last: date, run_id: str,
                     settings: Settings) -> dict[str, ComputedWindow | WindowFailure]:
    """Compute the window of every facility (id to configuration); per facility id what was
    computed, or why not. The windows of a backfill queue for the worker processes by their
    first day."""
    logger = get_run_logger()
    pool = worker_pool(settings).in_order(first.isoformat())
    futures = {fid: pool.submit(jobs.compute_window_job, home, facilities[fid], first, last, run_id)
               for fid in sorted(facilities)}
    wait(list(futures.values()))
    out: dict[str, ComputedWindow | WindowFailure] = facility_results(futures, "calculate", first,
                                                                       last, logger)
    for fid, computed in out.items():
        if isinstance(computed, ComputedWindow):
            for issue in computed.issues:
                logger.warning("%s: %s", fid, issue)
            logger.info("%s %s..%s computed in %.2f s", fid, first, last, computed.compute_s)
    return out
