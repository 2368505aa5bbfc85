"""Validation task: Great Expectations on windows of local days for several facilities at once.

GX costs about 0.3 s a run whatever the number of rows, so the flows validate each window once for
all its facilities (a fleet's night is one run), and a backfill validates together the windows
whose calculations are done (two or three 31-day windows a run), handing every facility window its
own outcome for the store task. The tag profiles come from the calculation tasks, which build them
from the readings they read anyway (``thermaliq.quality.window_profile``).
"""
from __future__ import annotations

from datetime import date

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.gx import validate as gx_validate
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.pipeline.jobs import release_memory


@task(name="validate", task_run_name="validate-{first}-{last}", cache_policy=NO_CACHE)
def validate_window(home: str, facilities: dict[str, Facility], profiles: dict[str, dict[str, pd.DataFrame]],
                    first: date, last: date, run_id: str) -> dict[str, dict[str, dict]]:
    """Validate window profiles (window label, ``<first>..<last>``, to facility id to its
    profile) of local days ``first`` .. ``last`` in one GX run; ``facilities`` holds their
    configurations (facility id to ``Facility``).

    Returns
    -------
    dict
        Per window label and facility id what :func:`tasks.gx.validate.validate_profiles` returns.
    """
    logger = get_run_logger()
    pairs = [(facilities[fid], profile)
             for label in sorted(profiles) for fid, profile in sorted(profiles[label].items())]
    ids = sorted({f.facility_id for f, _ in pairs})
    owner = ids[0] if len(ids) == 1 else gx_validate.FLEET
    name = gx_validate.run_name(owner, first, last, run_id)
    outcome = gx_validate.validate_profiles(pairs, Home.resolve(home).gx, name)
    release_memory()
    out: dict[str, dict[str, dict]] = {label: {} for label in profiles}
    for (fid, label), result in outcome.items():
        out[label][fid] = result
    failed = sorted(f"{fid} {label}" for label, r in out.items() for fid, g in r.items()
                    if not g.get("success", False))
    logger.info("validated %d facility windows %s..%s in one run (%s): %s", len(pairs), first, last,
                name, f"expectations failed for {', '.join(failed)}" if failed else "all passed")
    return out
