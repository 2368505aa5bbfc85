"""Ingest task: one facility (and, for historians, one window) into the lake."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.common import facility_of, release_memory, retry_io_only
from thermaliq import ingest, periods
from thermaliq.errors import ConfigError


@task(name="ingest", task_run_name="ingest-{facility_id}-{first}-{last}", retries=2,
      retry_delay_seconds=[5, 30], retry_condition_fn=retry_io_only, cache_policy=NO_CACHE)
def ingest_facility(home: str, facility_id: str, first: date, last: date, force: bool = False) -> dict:
    """Bring the facility's new readings into the lake (files: every new file; historian: the window)."""
    logger = get_run_logger()
    h, facility = facility_of(home, facility_id)
    if facility.source.kind == "files":
        summary = ingest.ingest_files(h, facility, force=force)
    else:
        start, end = periods.day_window(first, last, facility.timezone)
        summary = ingest.ingest_historian(h, facility, start, end, token=_block_token(facility))
    release_memory()
    for note in summary.notes[:20]:
        logger.info("%s: %s", facility_id, note)
    logger.info("%s: %d sources read, %d unchanged, %d readings read, %d new stored, %d rejected",
                facility_id, summary.sources_read, summary.sources_skipped, summary.readings_read,
                summary.readings_stored, summary.rejected)
    out = asdict(summary)
    out["days"] = [d.isoformat() for d in summary.days]
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
