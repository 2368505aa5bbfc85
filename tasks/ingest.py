"""Ingest task: one facility (and, for historians, one window) into the lake."""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import workers
from tasks.common import facility_of, retry_io_only
from thermaliq.pipeline import ingest, ingest_many, jobs
from thermaliq import periods
from thermaliq.errors import ConfigError


@task(name="ingest", task_run_name="ingest-{facility_id}-{first}-{last}", retries=2,
      retry_delay_seconds=[5, 30], retry_condition_fn=retry_io_only, cache_policy=NO_CACHE)
def ingest_facility(home: str, facility_id: str, first: date, last: date, force: bool = False) -> dict:
    """Bring the facility's new readings into the lake (files: every new file; historian: the window)."""
    logger = get_run_logger()
    h, facility = facility_of(home, facility_id)
    if facility.source.kind == "files":       # parsing and cleaning: in worker processes
        out = ingest_many.ingest_files(home, facility_id, run=workers.run,
                                           processes=workers.processes(), force=force)
    else:                                      # network waits: in this thread
        start, end = periods.day_window(first, last, facility.timezone)
        summary = ingest.ingest_historian(h, facility, start, end, token=_block_token(facility))
        jobs.release_memory()
        out = jobs.summary_dict(summary)
    for note in out["notes"][:20]:
        logger.info("%s: %s", facility_id, note)
    logger.info("%s: %d sources read, %d unchanged, %d readings read, %d new stored, %d rejected",
                facility_id, out["sources_read"], out["sources_skipped"], out["readings_read"],
                out["readings_stored"], out["rejected"])
    return out


def _block_token(facility) -> str | None:
    """The token of the Prefect Secret block named by ``source.token_block`` (None without one)."""
    name = facility.source.token_block
    if not name:
        return None
    from prefect.blocks.system import Secret

    try:
        return Secret.load(name).get()
    except ValueError as exc:   # no such block: say which, never echo a value
        raise ConfigError(f"Prefect Secret block {name!r} cannot be loaded ({type(exc).__name__})",
                          field="source.token_block",
                          fix=f"create it: Secret(value=...).save({name!r}) or in the Prefect UI") from None
