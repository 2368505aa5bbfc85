"""The end of every flow: catalog, reports, metrics and artifacts, then Completed or Failed."""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger
from prefect.utilities.annotations import quote

from tasks.report import publish_reports
from thermaliq.errors import ThermaliqError


class FacilitiesFailed(RuntimeError, ThermaliqError):
    """Some facilities or windows failed; the rest was done and recorded."""


def finish_run(home, run, selected: dict, first: date, last: date, outcomes: list) -> dict:
    """Publish what was computed and end the run; raise :class:`FacilitiesFailed` on failures.

    The configurations and counts go to the report task inside ``quote`` (Prefect does not walk
    them looking for futures; the task receives them unwrapped)."""
    logger = get_run_logger()
    calculated = [c for o in outcomes for c in o.calculated]
    for o in outcomes:
        for what, why in o.failures.items():
            run.fail(f"{what}: {why}")
    state = publish_reports(str(home.root), quote(dict(sorted(selected.items()))), first, last, run.run_id,
                            run.flow, quote(_metric_counts(outcomes)), run.settings,
                            succeeded=not run.failures,
                            return_state=True)
    published = state.result() if state.is_completed() else {}
    if not state.is_completed():
        run.fail(f"report: {state.message}")
    summary = {"run_id": run.run_id, "flow": run.flow, "first": first.isoformat(),
               "last": last.isoformat(), "facilities": sorted(selected),
               "timezones": {fid: selected[fid].timezone for fid in sorted(selected)},
               "windows_calculated": len(calculated),
               "windows_changed": sum(1 for c in calculated if c.changed),
               "reports": published.get("index"), "failures": list(run.failures),
               "notes": data_range_notes(home, selected, first, last)
               + tag_notes(home, selected, first, last, outcomes)}
    for note in summary["notes"]:
        logger.warning(note)
    if run.failures:
        logger.error("%d failure(s): %s", len(run.failures), "; ".join(run.failures))
        raise FacilitiesFailed(f"{len(run.failures)} failure(s); the rest completed: "
                               + "; ".join(run.failures))
    return summary


def data_range_notes(home, selected: dict, first: date, last: date) -> list[str]:
    """One note per facility whose readings do not cover ``first`` .. ``last``: those days were
    not calculated, alerted or rendered (no data is not bad data)."""
    from thermaliq.store import lake

    notes = []
    for fid in sorted(selected):
        covered = lake.data_days(home.lake, fid)
        if covered is None:
            notes.append(f"{fid}: no readings in {first}..{last} (no data stored yet)")
        elif covered[0] > first or covered[1] < last:
            notes.append(f"{fid}: no readings in parts of {first}..{last} "
                         f"(data covers {covered[0]}..{covered[1]}): those days were not calculated")
    return notes


def tag_notes(home, selected: dict, first: date, last: date, outcomes: list) -> list[str]:
    """For each facility whose ingest kept readings of tags no stream uses (the likely typo of a
    configured tag): one note naming the configured tags without readings in ``first`` .. ``last``
    and the stored tags no stream uses, with the fix."""
    from thermaliq.store import lake

    noted = {i.facility_id for o in outcomes for i in getattr(o, "ingested", [])
             if any("no stream uses" in n for n in i.notes)}
    notes = []
    for fid in sorted(noted & set(selected)):
        stored = lake.stored_tags(home.lake, fid, first, last)
        configured = set(selected[fid].tag_specs())
        missing, unused = sorted(configured - stored), sorted(stored - configured)
        if missing and unused:
            notes.append(f"{fid}: configured tag(s) without readings in {first}..{last}: "
                         f"{', '.join(missing)}; tag(s) in the data that no stream uses: {', '.join(unused)} "
                         "(kept as readings). A typo? Correct the facility file and run the backfill "
                         "again: the kept readings are used, no --reingest needed")
    return notes


def _metric_counts(outcomes: list) -> list[dict]:
    """The stored windows and ingests of a run as ``thermaliq.report.metrics.run_samples`` reads
    them (``calculated``: facility_id, first, last, changed, duration_s; readings_ingested and
    readings_rejected)."""
    windows = [{"facility_id": c.facility_id, "first": c.first.isoformat(), "last": c.last.isoformat(),
                "changed": c.changed, "duration_s": c.duration_s} for o in outcomes for c in o.calculated]
    ingests = [{"facility_id": i.facility_id, "readings_ingested": i.readings_stored,
                "readings_rejected": i.rejected} for o in outcomes for i in o.ingested]
    return windows + ingests
