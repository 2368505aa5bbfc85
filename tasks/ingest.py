"""Ingest task: one facility (and, for historians, one window) into the lake."""
from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.pool import worker_pool
from thermaliq import periods
from thermaliq.config import Facility
from thermaliq.errors import ConfigError, ConfigErrors, DataError, HistorianError
from thermaliq.home import Home
from thermaliq.pipeline import ingest, ingest_many, ingest_remote, jobs
from thermaliq.pipeline.outcomes import IngestOutcome
from thermaliq.sources.credentials import source_credentials
from thermaliq.sources.retry import io_deadline
from thermaliq.settings import Settings


def retry_io_only(task, task_run, state) -> bool:
    """Retry condition: retry I/O failures, never configuration, data or auth errors."""
    try:
        state.result()
    except (ConfigError, ConfigErrors, DataError):
        return False
    except HistorianError as exc:
        return not getattr(exc, "permanent", False)
    except OSError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not known to be transient
        return False
    return False


@task(name="ingest", task_run_name="ingest-{facility.facility_id}-{first}-{last}", retries=2,
      retry_delay_seconds=[5, 30], retry_condition_fn=retry_io_only, cache_policy=NO_CACHE)
def ingest_facility(home: str, facility: Facility, first: date, last: date, settings: Settings,
                    force: bool = False) -> IngestOutcome:
    """Bring the facility's new readings into the lake (files: every new file; historian: the window).

    A historian's requests, retries included, end within ``settings.io_timeout_s`` [s] (each
    request has its own timeouts too): a task timeout could not stop a blocked request."""
    logger = get_run_logger()
    if facility.source.kind == "files":       # parsing and cleaning: in worker processes
        out = ingest_many.ingest_files_parallel(home, facility, executor=worker_pool(settings),
                                                processes=settings.processes, force=force)
    elif facility.source.kind in ingest_remote.REMOTE_KINDS:   # OPC UA, PI Web API
        start, end = periods.day_window(first, last, facility.timezone)
        credentials = source_credentials(facility.source, block_secret(facility))
        with io_deadline(settings.io_timeout_s):
            summary = ingest_remote.ingest_remote(Home.resolve(home), facility, start, end,
                                                  credentials=credentials, incremental=not force)
        jobs.release_memory()
        out = IngestOutcome.of(summary)
    else:                                      # network waits: in this thread
        start, end = periods.day_window(first, last, facility.timezone)
        with io_deadline(settings.io_timeout_s):
            summary = ingest.ingest_historian(Home.resolve(home), facility, start, end,
                                              token=_block_token(facility))
        jobs.release_memory()
        out = IngestOutcome.of(summary)
    for note in out.notes[:20]:
        logger.info("%s: %s", facility.facility_id, note)
    logger.info("%s: %d sources read, %d unchanged, %d readings read, %d new stored, %d rejected",
                facility.facility_id, out.sources_read, out.sources_skipped, out.readings_read,
                out.readings_stored, out.rejected)
    return out


def block_secret(facility) -> str | None:
    """The value of the Prefect Secret block named by ``source.password_block`` or
    ``source.token_block`` (None without one); never logged."""
    if facility.source.password_block:
        return _load_block(facility.source.password_block, "source.password_block")
    return _block_token(facility)


def _block_token(facility) -> str | None:
    """The token of the Prefect Secret block named by ``source.token_block`` (None without one)."""
    name = facility.source.token_block
    if not name:
        return None
    return _load_block(name, "source.token_block")


def _load_block(name: str, field: str) -> str:
    from prefect.blocks.system import Secret

    try:
        return Secret.load(name).get()
    except ValueError as exc:   # no such block: say which, never echo a value
        raise ConfigError(f"Prefect Secret block {name!r} cannot be loaded ({type(exc).__name__})",
                          field=field,
                          fix=f"create it: Secret(value=...).save({name!r}) or in the Prefect UI") from None
