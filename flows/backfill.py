"""Backfill flow: an inclusive local date range, re-ingested, re-validated and recalculated."""
from __future__ import annotations

from prefect import flow

from flows.fanout import run_facilities, task_runner
from flows.finish import finish_run
from flows.params import parse_range, select_facilities
from flows.runs import recorded_run
from thermaliq import periods
from thermaliq.home import Home


@flow(name="backfill", task_runner=task_runner(), log_prints=True)
def backfill(start: str, end: str, facilities: list[str] | None = None, home: str | None = None,
             reingest: bool = False) -> dict:
    """Process every local day from ``start`` to ``end`` (ISO dates, inclusive).

    Results that come out identical to the current ones are not written again; changed ones
    become a new version (earlier versions stay queryable).

    Parameters
    ----------
    start, end : str
        ISO dates, inclusive, in each facility's local calendar.
    facilities : list of str, optional
        Facility ids; default every facility of the home.
    home : str, optional
        The thermaliq home; default ``$THERMALIQ_HOME`` or ``./thermaliq-home``.
    reingest : bool
        Read every source file again even if it was ingested before with the same content.
    """
    h = Home.resolve(home)
    params = {"start": start, "end": end, "facilities": facilities, "home": str(h.root),
              "reingest": reingest}
    with recorded_run(h, "backfill", params) as run:
        first, last = parse_range(start, end)
        windows = periods.windows(first, last, run.settings.window_days)   # bounds memory per task
        selected, problems = select_facilities(h, facilities)
        for p in problems:
            run.fail(p)
        outcome = run_facilities(str(h.root), selected, windows, run.run_id, run.settings,
                                 force_ingest=reingest)
        return finish_run(h, run, selected, first, last, [outcome])
