"""Backfill flow: an inclusive local date range, re-ingested, re-validated and recalculated."""
from __future__ import annotations

from datetime import date

from prefect import flow

from flows.fanout import run_facilities, task_runner
from flows.finish import finish_run
from flows.names import backfill_name
from flows.params import parse_range, select_facilities
from flows.runs import recorded_run
from thermaliq import periods
from thermaliq.home import Home


@flow(name="backfill", task_runner=task_runner(), log_prints=True, flow_run_name=backfill_name)
def backfill(start: date, end: date, facilities: list[str] | None = None, home: str | None = None,
             reingest: bool = False) -> dict:
    """Process every local day from ``start`` to ``end`` (ISO dates, inclusive).

    Results that come out identical to the current ones are not written again; changed ones
    become a new version (earlier versions stay queryable).

    (Google-style arguments: the style Prefect reads into the run form's descriptions.)

    Args:
        start: First local day to process (YYYY-MM-DD), in each facility's own calendar.
        end: Last local day to process (YYYY-MM-DD, included); not before start.
        facilities: Facility ids to process (their YAML file names); empty means every facility.
        home: The thermaliq home directory; empty means $THERMALIQ_HOME of the worker.
        reingest: Read every source file again, even those already ingested with the same content.
    """
    h = Home.resolve(home)
    params = {"start": str(start), "end": str(end), "facilities": facilities, "home": str(h.root),
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
