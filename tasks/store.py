"""Store task: store one window of every facility, after its validation, in window order.

Each facility's store job (:func:`thermaliq.pipeline.jobs.store_window`) takes the window its calculation
task computed, adds the alerts (which need the facility's stored days before the window, hence
window order) and the Great Expectations outcome, and writes a new version when it differs. The
facilities of a window are stored side by side in the worker processes; one facility's failure
is its own (an ``error`` entry), never the others'.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import workers
from thermaliq.pipeline import jobs


@task(name="store", task_run_name="store-{first}-{last}", cache_policy=NO_CACHE)
def store_window_results(home: str, computed: dict[str, dict], gx: dict[str, dict], first: date,
                         last: date, run_id: str, reason: str | None = None,
                         new_version: bool = False) -> dict[str, dict]:
    """Store the computed windows (facility id to what its calculation task returned) with their
    GX outcomes (facility id to its entry of the validation task).

    Returns
    -------
    dict
        Per facility id the summary of :func:`thermaliq.pipeline.jobs.store_window`, or ``{"error":
        "<type>: <message>"}`` when that facility's window could not be stored.
    """
    logger = get_run_logger()

    def store(fid: str) -> dict:
        try:
            out = workers.run_first(jobs.store_window, home, fid, computed[fid], run_id, gx[fid],
                                    reason=reason, new_version=new_version)
        except Exception as exc:  # noqa: BLE001 - reported as this facility's failure
            logger.error("%s %s..%s: not stored: %s: %s", fid, first, last, type(exc).__name__, exc)
            return {"error": f"{type(exc).__name__}: {exc}"}
        logger.info("%s %s..%s: %d days, %.2f s, %s", fid, first, last, len(out["days"]),
                    out["duration_s"], "stored a new version" if out["changed"] else "unchanged, nothing written")
        return out

    ids = sorted(computed)
    with ThreadPoolExecutor(max_workers=max(1, min(len(ids), workers.processes()))) as pool:
        return dict(zip(ids, pool.map(store, ids)))
