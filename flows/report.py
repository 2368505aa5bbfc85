"""Report flow: render the HTML reports and metrics from what is stored."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from prefect import flow

from flows.fanout import task_runner
from flows.finish import finish_run
from flows.names import report_name
from flows.params import parse_date, parse_range, select_facilities
from flows.runs import recorded_run
from thermaliq.home import Home
from thermaliq.store import lake


@flow(name="report", task_runner=task_runner(), log_prints=True, flow_run_name=report_name)
def report(start: date | None = None, end: date | None = None, facilities: list[str] | None = None,
           home: str | None = None) -> dict:
    """Render reports for local days ``start`` .. ``end`` (default: the 7 days up to the newest
    day with readings; days without any are not rendered).

    Args:
        start: First local day to report (YYYY-MM-DD); empty means 6 days before end.
        end: Last local day to report (YYYY-MM-DD, included); empty means the newest day with readings.
        facilities: Facility ids to report (their YAML file names); empty means every facility.
        home: The thermaliq home directory; empty means $THERMALIQ_HOME of the worker.
    """
    h = Home.resolve(home)
    params = {"start": start and str(start), "end": end and str(end), "facilities": facilities, "home": str(h.root)}
    with recorded_run(h, "report", params) as run:
        today = pd.Timestamp.now(tz="UTC").date()
        selected, problems = select_facilities(h, facilities)
        newest = [c[1] for c in (lake.data_days(h.lake, fid) for fid in selected) if c]
        # default: the 7 days up to the newest day with data (of the facilities reported)
        last = parse_date(end, "end") if end else min(max(newest), today) if newest \
            else today - timedelta(days=1)
        first = parse_date(start, "start") if start else last - timedelta(days=6)
        first, last = parse_range(first, last)
        for p in problems:
            run.fail(p)
        return finish_run(h, run, selected, first, last, [])
