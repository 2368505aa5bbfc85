"""Nightly flow: yesterday (in each facility's time zone) for every facility."""
from __future__ import annotations

from collections import defaultdict
from datetime import date as Date

import pandas as pd
from prefect import flow
from prefect.runtime import flow_run

from flows.fanout import run_facilities, task_runner
from flows.finish import finish_run
from flows.names import nightly_name
from flows.params import parse_date, select_facilities, yesterday_in
from flows.runs import recorded_run
from thermaliq.home import Home


def logical_now() -> pd.Timestamp:
    """The scheduled start of this run (so a late or retried run does the day it was meant for)."""
    scheduled = flow_run.get_scheduled_start_time()
    return pd.Timestamp(str(scheduled)).tz_convert("UTC") if scheduled else pd.Timestamp.now(tz="UTC")


@flow(name="nightly", task_runner=task_runner(), log_prints=True, flow_run_name=nightly_name)
def nightly(date: Date | None = None, facilities: list[str] | None = None,
            home: str | None = None) -> dict:
    """Ingest, validate, calculate and report one local day per facility.

    Args:
        date: Local day to process (YYYY-MM-DD); empty means yesterday in each facility's time
            zone, counted from the run's scheduled start.
        facilities: Facility ids to process (their YAML file names); empty means every facility.
        home: The thermaliq home directory; empty means $THERMALIQ_HOME of the worker.
    """
    h = Home.resolve(home)
    params = {"date": date and str(date), "facilities": facilities, "home": str(h.root)}
    with recorded_run(h, "nightly", params) as run:
        selected, problems = select_facilities(h, facilities)
        for p in problems:
            run.fail(p)
        now = logical_now()
        by_day = defaultdict(list)
        for fid, fac in selected.items():
            day = parse_date(date, "date") if date else yesterday_in(fac.timezone, now)
            by_day[day].append(fid)
        outcomes = [run_facilities(str(h.root), {fid: selected[fid] for fid in ids}, [(day, day)], run.run_id,
                                   run.settings) for day, ids in sorted(by_day.items())]
        days = sorted(by_day) or [yesterday_in("UTC", now)]
        return finish_run(h, run, selected, days[0], days[-1], outcomes)
