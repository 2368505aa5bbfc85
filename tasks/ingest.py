"""Ingest tasks: the file-sourced facilities of a run in one task run, each historian, OPC UA or
PI Web API facility (and its window) in its own.

File ingest is CPU work in the worker processes: one task run (:func:`ingest_files_batch`) hands
every file of every facility to them as jobs, so a fleet's night pays Prefect's per-task cost
(~25-30 ms) once, not per facility; a facility whose ingest fails is returned as a
:class:`WindowFailure` and gets its own failed task run (:mod:`tasks.failures`), the others go on.
Remote sources keep a task run per facility: they wait on the network and are retried on I/O
errors (:func:`retry_io_only`).
"""
from __future__ import annotations

import time
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.failures import facility_results
from tasks.pool import worker_pool
from thermaliq import periods
from thermaliq.config import Facility
from thermaliq.errors import ConfigError, ConfigErrors, DataError, HistorianError
from thermaliq.home import Home
from thermaliq.pipeline import ingest, ingest_many, ingest_remote, jobs
from thermaliq.pipeline.outcomes import IngestOutcome, WindowFailure
from thermaliq.sources.credentials import source_credentials
from thermaliq.sources.retry import io_deadline
from thermaliq.settings import Settings


#: Waits before the second and third attempt of a facility's ingest that failed on I/O [s].
RETRY_DELAYS_S = (5, 30)


def transient(exc: BaseException | None) -> bool:
    """Whether ``exc`` is worth another attempt: I/O failures, never configuration, data or
    auth errors (nor anything not known to be transient)."""
    if exc is None or isinstance(exc, (ConfigError, ConfigErrors, DataError)):
        return False
    if isinstance(exc, HistorianError):
        return not getattr(exc, "permanent", False)
    return isinstance(exc, OSError)


def retry_io_only(task, task_run, state) -> bool:
    """Retry condition: retry I/O failures, never configuration, data or auth errors."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classified, not swallowed: the state keeps it
        return transient(exc)
    return False


@task(name="ingest", task_run_name="ingest-{facility.facility_id}-{first}-{last}",
      retries=len(RETRY_DELAYS_S), retry_delay_seconds=list(RETRY_DELAYS_S),
      retry_condition_fn=retry_io_only, cache_policy=NO_CACHE)
def ingest_facility(home: str, facility: Facility, first: date, last: date, settings: Settings,
                    force: bool = False) -> IngestOutcome:
    """Bring a historian, OPC UA or PI Web API facility's readings of the window into the lake
    (file-sourced facilities go to :func:`ingest_files_batch`).

    A historian's requests, retries included, end within ``settings.io_timeout_s`` [s] (each
    request has its own timeouts too): a task timeout could not stop a blocked request."""
    if facility.source.kind == "files":
        raise ValueError(f"{facility.facility_id}: file sources are ingested by ingest_files_batch")
    if facility.source.kind in ingest_remote.REMOTE_KINDS:   # OPC UA, PI Web API
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
    _log_outcome(get_run_logger(), out)
    return out


def _batch_run_name(parameters: dict) -> str:
    facilities = parameters["facilities"]
    who = next(iter(facilities)) if len(facilities) == 1 else f"{len(facilities)}-facilities"
    return f"ingest-{who}-{parameters['first']}-{parameters['last']}"


@task(name="ingest", task_run_name=_batch_run_name, cache_policy=NO_CACHE)
def ingest_files_batch(home: str, facilities: dict[str, Facility], first: date, last: date,
                       settings: Settings, force: bool = False) -> dict[str, IngestOutcome | WindowFailure]:
    """Bring the new files of every file-sourced facility (id to configuration) into the lake,
    every file a job in the worker processes; per facility id what was ingested, or why not
    (``first``..``last`` name the run's days). A facility that failed on I/O is tried again
    after :data:`RETRY_DELAYS_S`, as a facility's own task run was."""
    logger = get_run_logger()

    def attempt(batch: dict[str, Facility]) -> dict:
        return ingest_many.ingest_fleet_files(home, batch, executor=worker_pool(settings),
                                              processes=settings.processes,
                                              threads=settings.max_workers, force=force)

    futures = attempt(facilities)
    for delay in RETRY_DELAYS_S:
        again = {fid: facilities[fid] for fid, f in futures.items() if transient(f.exception())}
        if not again:
            break
        for fid in again:
            logger.warning("%s: ingest failed on I/O (%s); trying again in %d s", fid,
                           futures[fid].exception(), delay)
        time.sleep(delay)
        futures.update(attempt(again))
    out = facility_results(futures, "ingest", first, last, logger)
    for outcome in out.values():
        if isinstance(outcome, IngestOutcome):
            _log_outcome(logger, outcome)
    return out


def _log_outcome(logger, out: IngestOutcome) -> None:
    for note in out.notes[:20]:
        logger.info("%s: %s", out.facility_id, note)
    logger.info("%s: %d sources read, %d unchanged, %d readings read, %d new stored, %d rejected",
                out.facility_id, out.sources_read, out.sources_skipped, out.readings_read,
                out.readings_stored, out.rejected)


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
