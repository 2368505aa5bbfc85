"""Store task: store one window of every facility, after its validation, in window order.

Each facility's store job (:func:`thermaliq.pipeline.jobs.store_window_job`) takes the window its
calculation task computed, adds the alerts (which need the facility's stored days before the
window, hence window order) and the Great Expectations outcome, and writes a new version when it
differs. The facilities of a window are stored side by side in the worker processes, ahead of
every waiting calculation; one facility's failure is its own (a :class:`WindowFailure` and a
failed task run naming it, :mod:`tasks.failures`), never the others'.
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
from thermaliq.pipeline.outcomes import ComputedWindow, StoreOutcome, WindowFailure
from thermaliq.settings import Settings


@task(name="store", task_run_name="store-{first}-{last}", cache_policy=NO_CACHE)
def store_window_results(home: str, facilities: dict[str, Facility], computed: dict[str, ComputedWindow],
                         gx: dict[str, dict], first: date, last: date, run_id: str, settings: Settings,
                         reason: str | None = None,
                         new_version: bool = False) -> dict[str, StoreOutcome | WindowFailure]:
    """Store the computed windows (facility id to what its calculation task returned) with their
    GX outcomes (facility id to its entry of the validation task); per facility id what was
    stored, or why it was not."""
    logger = get_run_logger()
    pool = worker_pool(settings).urgent()
    futures = {fid: pool.submit(jobs.store_window_job, home, facilities[fid], computed[fid], run_id, gx[fid],
                                reason=reason, new_version=new_version) for fid in sorted(computed)}
    wait(list(futures.values()))
    out: dict[str, StoreOutcome | WindowFailure] = facility_results(futures, "store", first, last,
                                                                     logger)
    for fid, stored in out.items():
        if not isinstance(stored, StoreOutcome):
            continue
        logger.info("%s %s..%s: %d days, %.2f s, %s", fid, first, last, len(stored.days), stored.duration_s,
                    "stored a new version" if stored.changed else "unchanged, nothing written")
    return out


@task(name="baselines", task_run_name="baselines-{run_id}", cache_policy=NO_CACHE)
def fit_baselines(home: str, facilities: dict[str, Facility], run_id: str,
                  settings: Settings) -> dict[str, str]:
    """Refit the energy baseline of each facility (id to configuration) once, after the run's
    last store (:func:`thermaliq.pipeline.jobs.fit_baseline_job`, side by side in the worker
    processes); per facility id the reason of its failure (logged as an error naming the
    facility, and a failure of the run). One facility's failure is its own."""
    logger = get_run_logger()
    pool = worker_pool(settings).urgent()
    futures = {fid: pool.submit(jobs.fit_baseline_job, home, facilities[fid], run_id)
               for fid in sorted(facilities)}
    wait(list(futures.values()))
    failed: dict[str, str] = {}
    for fid, future in futures.items():
        exc = future.exception()
        if exc is not None:
            failed[fid] = f"{type(exc).__name__}: {exc}"
            logger.error("%s: baseline not fitted: %s", fid, failed[fid])
            continue
        fitted = future.result()
        if fitted is not None:
            logger.info("%s: baseline %s, %s", fid, fitted.status,
                        f"version {fitted.version} written" if fitted.written else "unchanged")
    return failed
