"""Validation task: Great Expectations on one window of local days for several facilities at once.

GX costs about 0.2 s a run whatever the number of rows, so the flows validate each window once for
all its facilities (a fleet's night is one run) and hand every facility its own outcome for the
calculation task. A facility whose readings cannot be read gets an ``error`` instead; the others
are validated.
"""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import gx_validate
from tasks.common import facility_of
from thermaliq import calculate
from thermaliq.errors import ThermaliqError
from thermaliq.home import Home
from thermaliq.jobs import release_memory


@task(name="validate", task_run_name="validate-{first}-{last}", cache_policy=NO_CACHE)
def validate_window(home: str, facility_ids: list[str], first: date, last: date, run_id: str) -> dict:
    """Validate local days ``first`` .. ``last`` of the facilities in one GX run.

    Returns
    -------
    dict
        Per facility id what :func:`tasks.gx_validate.validate_readings` returns, or
        ``{"error": "<type>: <message>"}`` when the facility's configuration or readings could not
        be read (its calculation task then fails with that reason).
    """
    logger = get_run_logger()
    profiles, out = [], {}
    for fid in facility_ids:
        try:
            h, facility = facility_of(home, fid)
            readings = calculate.load_window_readings(h, facility, first, last, margins=False)
            profiles.append((facility, gx_validate.profile(readings, facility)))
        except (ThermaliqError, OSError) as exc:     # this facility's problem, not the others'
            out[fid] = {"error": f"{type(exc).__name__}: {exc}"}
            logger.error("%s: cannot validate %s..%s: %s", fid, first, last, out[fid]["error"])
    owner = facility_ids[0] if len(facility_ids) == 1 else gx_validate.FLEET
    name = gx_validate.run_name(owner, first, last, run_id)
    out.update(gx_validate.validate_profiles(profiles, Home.resolve(home).gx, name))
    release_memory()
    failed = sorted(fid for fid, r in out.items() if not r.get("success", False))
    logger.info("validated %d facilities %s..%s in one run (%s): %s", len(profiles), first, last, name,
                f"expectations failed for {', '.join(failed)}" if failed else "all passed")
    return out
