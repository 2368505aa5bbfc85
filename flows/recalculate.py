"""Recalculate flow: new result versions from stored readings, with a required reason."""
from __future__ import annotations

from datetime import date

from prefect import flow

from flows.fanout import run_facilities, task_runner
from flows.finish import finish_run
from flows.names import recalculate_name
from flows.params import parse_range, select_facilities
from flows.runs import recorded_run
from thermaliq import periods
from thermaliq.errors import ConfigError
from thermaliq.home import Home


@flow(name="recalculate", task_runner=task_runner(), log_prints=True, flow_run_name=recalculate_name)
def recalculate(start: date, end: date, reason: str, facilities: list[str] | None = None,
                home: str | None = None) -> dict:
    """Recalculate local days ``start`` .. ``end`` from the readings already in the lake.

    Always writes a new version (``reason`` is stored with it and in ``runs``), e.g. after a
    configuration fix such as a corrected heating value.

    Args:
        start: First local day to recalculate (YYYY-MM-DD), in each facility's own calendar.
        end: Last local day to recalculate (YYYY-MM-DD, included); not before start.
        reason: Why (required), e.g. "corrected gas heating value"; stored with the new version.
        facilities: Facility ids to recalculate (their YAML file names); empty means every facility.
        home: The thermaliq home directory; empty means $THERMALIQ_HOME of the worker.
    """
    h = Home.resolve(home)
    params = {"start": str(start), "end": str(end), "reason": reason, "facilities": facilities,
              "home": str(h.root)}
    with recorded_run(h, "recalculate", params) as run:
        if not reason or not reason.strip():
            raise ConfigError("recalculate needs a reason", field="reason",
                              fix="say why, e.g. --reason 'corrected gas heating value'")
        first, last = parse_range(start, end)
        selected, problems = select_facilities(h, facilities)
        for p in problems:
            run.fail(p)
        outcome = run_facilities(str(h.root), selected, periods.windows(first, last, run.settings.window_days),
                                 run.run_id, run.settings, ingest=False, reason=reason.strip(),
                                 new_version=True)
        return finish_run(h, run, selected, first, last, [outcome])
