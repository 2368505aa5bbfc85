"""A facility's many new files read side by side by worker processes, merged in name order.

The serial ingest (:func:`thermaliq.pipeline.ingest.ingest_files`) reads the new files one after the
other in name order, each merged into the lake before the next. Here each new file is first
read by a *prepare* job into a private scratch lake (``<home>/lake/_scratch/ingest-...``) with
the very same code (``ingest.ingest_file``) on an empty lake, i.e. on the assumption that the
lake holds none of the local days the file touches; prepare jobs run on every worker process
at once. Then, in name order and one file at a time, a *commit* job checks that assumption under
the facility lock and moves the file's partitions and quarantine files into the lake, one rename
each, or, where one of its days is already there (an earlier file with readings of the same
day, a rerun after a crash), reads the file again with the serial code against the lake.
Either way every file meets the lake as in the serial ingest, so the readings partitions,
quarantine files and ledger are the same bytes (``ingested_at`` aside), conflicting duplicates
across files included. A file the ledger already knows (changed, or ``force``) has its days in
the lake as a rule, so it is not prepared: its commit reads it.

Crash safety is the serial ingest's: moves are renames of complete, flushed files (crash point
``lake.write`` before each), the ledger is written last, by the last commit job, and a rerun
merges idempotently. The scratch folder is removed at the end, also after a failure; one left
by a killed process (its lock file no longer held) is removed by the next parallel ingest.
Each job takes and returns small picklable values (a :class:`FileBatch`); memory per job stays
that of the serial ingest (chunks of ``THERMALIQ_INGEST_BATCH_ROWS`` records).

A fleet's file-sourced facilities are ingested together (:func:`ingest_fleet_files`): their first
jobs all go to the executor at once, so a night of many small facilities keeps every worker busy
from one caller; each facility's ingest is the one described above.
"""
from __future__ import annotations

import functools
import uuid
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd
from filelock import FileLock, Timeout

from thermaliq.pipeline import ingest
from thermaliq.store import lake
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.pipeline.ingest import IngestSummary
from thermaliq.pipeline.outcomes import IngestOutcome

#: Fewest files to read for which the files are split over worker processes.
MIN_FILES = 2
#: Most files per prepare or commit job (fewer when there are few files, so all workers get some).
MAX_BATCH_FILES = 8
UNCHANGED, PREPARED, SERIAL = "unchanged", "prepared", "serial"


class PlannedFile(NamedTuple):
    """One file to hash (and read unless unchanged), as :func:`ingest.files_to_check` found it."""

    index: int                      # position in name order
    path: str
    rel: str                        # path relative to the home (the ``source`` column)
    size: int                       # [bytes]
    mtime_ns: int                   # [ns since epoch], -1 when not to be trusted
    known: bool                     # in the ledger already
    before_size: int | None
    before_sha256: str | None
    before_ingested_at: pd.Timestamp | None


@dataclass
class Prepared:
    """What a prepare job found and did for one file."""

    file: PlannedFile
    sha256: str
    kind: str                       # UNCHANGED, PREPARED (into ``scratch``) or SERIAL
    unchanged: bool                 # same size and hash as in the ledger (read anyway: force)
    scratch: str | None = None      # the file's scratch lake
    touched: tuple[date, ...] = ()  # local days the file's readings were checked against
    rows: int = 0                   # raw readings [rows]
    rejected: int = 0               # reader rejects [rows]
    summary: IngestSummary | None = None


@dataclass(frozen=True)
class FileBatch:
    """The files of one job (planned or prepared), in name order."""

    files: tuple
    force: bool = False

    def __repr__(self) -> str:     # error messages name the job's files, briefly
        first, last = (f.rel if isinstance(f, PlannedFile) else f.file.rel
                       for f in (self.files[0], self.files[-1]))
        return f"FileBatch({first} .. {last}, {len(self.files)} files)"


@dataclass
class LedgerUpdate:
    """Ledger rows of the files committed before, and hash-confirmed modification times."""

    rows: list[dict] = field(default_factory=list, repr=False)
    confirmed: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Committed:
    """What a commit job put into the lake: its files' tally and ledger rows."""

    summary: IngestSummary
    ledger_rows: tuple[dict, ...] = field(repr=False, default=())


@dataclass(frozen=True)
class IngestPlan:
    """What :func:`ingest_files_or_plan` found: either ``done`` (few files, ingested by that job)
    or the files to hash and read, after ``skipped`` unchanged by size and modification time."""

    done: IngestOutcome | None
    skipped: int = 0
    files: tuple[PlannedFile, ...] = ()


def ingest_files_parallel(home: str, facility: Facility, *, executor: Executor | None, processes: int,
                          force: bool = False, now: pd.Timestamp | None = None,
                          batch_rows: int | None = None) -> IngestOutcome:
    """Bring a file-sourced facility's new files into the lake with jobs run by ``executor``.

    A first job (:func:`ingest_files_or_plan`) finds the files to read and, when they are fewer
    than :data:`MIN_FILES`, ingests them itself (a small facility's night costs one job, as
    before). Otherwise they are prepared side by side and committed in name order (module
    docstring). The lake is the serial ingest's either way.

    Parameters
    ----------
    executor : concurrent.futures.Executor or None
        Runs the jobs (worker processes: ``tasks.pool.WorkerPool``); ``None`` runs them here, one
        after the other. Only its ``submit`` is called, from several threads at once.
    processes : int
        Worker processes behind ``executor`` [count]: the number of prepare jobs in flight; with 1,
        one job reads every file (``thermaliq.pipeline.jobs.ingest_files_job``).
    batch_rows : int, optional
        Records per chunk [rows]; default ``Settings.ingest_batch_rows`` in the jobs.

    It is :func:`ingest_fleet_files` of this one facility; its error is raised.
    """
    fid = facility.facility_id
    return ingest_fleet_files(home, {fid: facility}, executor=executor, processes=processes, threads=1,
                              force=force, now=now, batch_rows=batch_rows)[fid].result()


def ingest_fleet_files(home: str, facilities: dict[str, Facility], *, executor: Executor | None,
                       processes: int, threads: int, force: bool = False,
                       now: pd.Timestamp | None = None,
                       batch_rows: int | None = None) -> dict[str, Future]:
    """Bring the new files of several file-sourced facilities into the lake, every job of every
    facility on ``executor``; per facility id (in the order of ``facilities``) a finished future
    of its :class:`IngestOutcome` or of the error that stopped its ingest (the others go on).

    The first jobs (finding the files to read; a facility with few new files is ingested by it)
    of all facilities are submitted at once; a facility with many new files then has them
    prepared and committed by one of ``threads`` threads (each waits for its jobs).

    Parameters
    ----------
    executor : concurrent.futures.Executor or None
        Runs the jobs (``None``: here, one after the other); see :func:`ingest_files_parallel`.
    processes : int
        Worker processes behind ``executor`` [count]; with 1, one job per facility reads every
        file (``thermaliq.pipeline.jobs.ingest_files_job``).
    threads : int
        Facilities whose many files are prepared and committed at once [count].
    """
    from thermaliq.pipeline import jobs

    now = now or pd.Timestamp.now(tz="UTC")
    if processes < 2:
        return {fid: _submit(executor, jobs.ingest_files_job, home, facility, force=force, now=now)
                for fid, facility in facilities.items()}
    plans = {_submit(executor, ingest_files_or_plan, home, facility, force, now, batch_rows): fid
             for fid, facility in facilities.items()}
    run = functools.partial(_run, executor)
    out: dict[str, Future] = {}
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="ingest-facility") as continuing:
        for planned in as_completed(plans):
            fid = plans[planned]
            if planned.exception() is not None:
                out[fid] = planned
            elif planned.result().done is not None:
                out[fid] = _finished(planned.result().done)
            else:
                out[fid] = continuing.submit(_finish, run, home, facilities[fid], planned.result(),
                                             processes, force, now, batch_rows)
    return {fid: out[fid] for fid in facilities}


def _finish(run, home: str, facility: Facility, plan: IngestPlan, processes: int, force: bool,
            now: pd.Timestamp, batch_rows: int | None) -> IngestOutcome:
    """The facility's outcome after :func:`ingest_files_or_plan`: its ``done``, or the planned
    files prepared side by side in a scratch folder and committed in name order."""
    if plan.done is not None:
        return plan.done
    summary = IngestSummary(facility.facility_id, sources_skipped=plan.skipped)
    with _scratch(Home.resolve(home), facility.facility_id) as scratch:
        _prepare_and_commit(run, home, facility, list(plan.files), processes, force, now, batch_rows,
                            str(scratch), summary)
    return IngestOutcome.of(summary)


def _run(executor: Executor | None, job, /, *args, **kwargs):
    """``job(*args, **kwargs)`` by ``executor`` (here when ``None``), waiting for its result."""
    return _submit(executor, job, *args, **kwargs).result()


def _finished(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _submit(executor: Executor | None, job, /, *args, **kwargs) -> Future:
    """``job(*args, **kwargs)`` submitted to ``executor``; run here when ``None`` (the future
    is then finished)."""
    if executor is not None:
        return executor.submit(job, *args, **kwargs)
    try:
        return _finished(job(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
        future: Future = Future()
        future.set_exception(exc)
        return future


def ingest_files_or_plan(home: str, facility: Facility, force: bool, now: pd.Timestamp,
                         batch_rows: int | None) -> IngestPlan:
    """Job: find the files to read; fewer than :data:`MIN_FILES` are ingested here."""
    from thermaliq.pipeline import jobs

    h = Home.resolve(home)
    summary = IngestSummary(facility.facility_id)
    files = ingest.files_to_check(h, facility, force, summary)
    if len(files) < MIN_FILES:
        ingest.ingest_checked(h, facility, files, summary, force=force, now=now,
                              batch_rows=batch_rows)
        jobs.release_memory()
        return IngestPlan(IngestOutcome.of(summary))
    planned = [PlannedFile(i, str(path), rel, size, mtime, before is not None,
                           *((before.size, before.sha256, before.ingested_at) if before is not None
                             else (None, None, None)))
               for i, (path, rel, size, mtime, before) in enumerate(files)]
    return IngestPlan(None, summary.sources_skipped, tuple(planned))


def _prepare_and_commit(run, home: str, facility: Facility, planned: list[PlannedFile],
                        processes: int, force: bool, now: pd.Timestamp, batch_rows: int | None,
                        scratch: str, summary: IngestSummary) -> None:
    """Prepare the batches of files on ``processes`` threads (each waiting for its job) while
    this thread commits them in order; the last commit writes the ledger. Committed files'
    scratch lakes are removed by one more thread (removing folders mostly waits for the disk)."""
    size = max(1, min(MAX_BATCH_FILES, -(-len(planned) // (processes * 8))))
    batches = [FileBatch(tuple(planned[i:i + size]), force) for i in range(0, len(planned), size)]
    ledger = LedgerUpdate()
    with ThreadPoolExecutor(processes, thread_name_prefix="ingest-prepare") as threads, \
            ThreadPoolExecutor(1, thread_name_prefix="ingest-scratch") as remover:
        futures = [threads.submit(run, ingest_prepare_files, home, facility, b, now, batch_rows,
                                  scratch) for b in batches]
        removals = []
        try:
            for i, future in enumerate(futures):
                prepared = future.result()
                same = [p for p in prepared.files if p.kind == UNCHANGED]
                summary.sources_skipped += len(same)
                ledger.confirmed.update({p.file.rel: p.file.mtime_ns for p in same})
                last = i == len(futures) - 1
                if len(same) == len(prepared.files) and not (last and ledger.rows):
                    continue                 # nothing to commit, no ledger to write yet
                committed = run(ingest_commit_files, home, facility, prepared, now, batch_rows,
                                ledger if last else None)
                add_summary(summary, committed.summary)
                ledger.rows.extend(committed.ledger_rows)
                removals += [remover.submit(lake.remove_folder, Path(p.scratch).parent)
                             for p in prepared.files if p.scratch is not None]
            for removal in removals:
                removal.result()             # a folder that cannot be removed is an error
        finally:                             # after a failure: start no further job
            for future in futures:
                future.cancel()


def ingest_prepare_files(home: str, facility: Facility, batch: FileBatch, now: pd.Timestamp,
                         batch_rows: int | None, scratch: str) -> FileBatch:
    """Job: hash each file of ``batch``; read each new one into its own scratch lake (the job's
    alone until it returns: written without the facility lock).

    Returns the batch as :class:`Prepared` records (same order).
    """
    from thermaliq.sources import readers
    from thermaliq.pipeline.jobs import release_memory

    batch_rows = batch_rows or readers.batch_rows_setting()
    out = []
    for f in batch.files:
        digest = lake.file_sha256(Path(f.path))
        unchanged = f.known and f.before_size == f.size and f.before_sha256 == digest
        if unchanged and not batch.force:
            out.append(Prepared(f, digest, UNCHANGED, True))
        elif f.known:
            out.append(Prepared(f, digest, SERIAL, unchanged))
        else:
            own = Home(Path(scratch) / f"{f.index:06d}")
            part, touched = IngestSummary(facility.facility_id), set()
            rows, rejected = ingest.ingest_file(own, facility, Path(f.path), f.rel, now, part,
                                                batch_rows, touched, private=True)
            out.append(Prepared(f, digest, PREPARED, unchanged, str(own.lake),
                                tuple(sorted(touched)), rows, rejected, part))
    release_memory()
    return FileBatch(tuple(out), batch.force)


def ingest_commit_files(home: str, facility: Facility, batch: FileBatch, now: pd.Timestamp,
                        batch_rows: int | None, ledger: LedgerUpdate | None) -> Committed:
    """Job: put the prepared files of ``batch`` into the lake in order (or read them there).

    With ``ledger``, the ledger is written afterwards with its rows and this batch's.
    """
    from thermaliq.sources import readers
    from thermaliq.pipeline.jobs import release_memory

    h = Home.resolve(home)
    facility_id = facility.facility_id
    batch_rows = batch_rows or readers.batch_rows_setting()
    summary, rows_out = IngestSummary(facility_id), []
    for p in batch.files:
        f = p.file
        if p.kind == UNCHANGED:
            continue
        if p.kind == PREPARED and _move_in(h.lake, facility_id, Path(p.scratch), p.touched):
            add_summary(summary, p.summary)
            rows, rejected = p.rows, p.rejected
        else:
            if f.known and not p.unchanged:      # an edited file: its new content replaces the old
                ingest.replace_earlier_content(h, facility_id, f.rel, summary)
            rows, rejected = ingest.ingest_file(h, facility, Path(f.path), f.rel, now, summary,
                                                batch_rows)
        summary.sources_read += 1
        rows_out.append(ingest.ledger_row(f.rel, f.size, f.mtime_ns, p.sha256, rows, rejected,
                                          f.before_ingested_at if p.unchanged else now))
    if ledger is not None:
        ingest.write_ledger_update(h, facility_id, ledger.rows + rows_out, ledger.confirmed)
    release_memory()
    return Committed(summary, tuple(rows_out))


def _move_in(lake_dir: Path, facility_id: str, scratch_lake: Path, touched: tuple) -> bool:
    """Move one file's prepared partitions and quarantine files into the lake, if the lake holds
    none of the days it touched; False (nothing moved) otherwise. A quarantine file the lake
    holds already is kept, as ``lake.write_quarantine`` does."""
    with lake.facility_lock(lake_dir, facility_id):
        if any(lake.readings_partition(lake_dir, facility_id, d).exists() for d in touched):
            return False
        sub = f"facility_id={facility_id}"
        for path in sorted((scratch_lake / "readings" / sub).glob("date=*/part-0.parquet")):
            lake.move_into_place(path, lake_dir / path.relative_to(scratch_lake))
        for path in sorted((scratch_lake / "quarantine" / sub).glob("*.parquet")):
            target = lake_dir / path.relative_to(scratch_lake)
            if not target.exists():
                lake.move_into_place(path, target)
    return True


def add_summary(summary: IngestSummary, part: IngestSummary) -> None:
    """Add the summary of later files to ``summary`` (days in order of first storage)."""
    for name in ("sources_read", "sources_skipped", "readings_read", "readings_stored", "rejected",
                 "unconfigured"):
        setattr(summary, name, getattr(summary, name) + getattr(part, name))
    summary.days.extend(d for d in part.days if d not in summary.days)
    summary.notes.extend(part.notes)
    summary.file_errors.extend(part.file_errors)


# --- scratch folders ------------------------------------------------------------------------------

@contextmanager
def _scratch(home: Home, facility_id: str):
    """A new scratch folder for one ingest, held by a lock file while in use and removed after."""
    root = home.lake / "_scratch"
    root.mkdir(parents=True, exist_ok=True)
    remove_abandoned(root)
    name = f"ingest-{facility_id}-{uuid.uuid4().hex[:12]}"
    lock = FileLock(str(root / f"{name}.lock"))
    lock.acquire()
    try:
        folder = root / name
        folder.mkdir()
        yield folder
    finally:
        lake.remove_folder(root / name)
        lock.release()
        (root / f"{name}.lock").unlink(missing_ok=True)


def remove_abandoned(root: Path) -> int:
    """Remove the ingest scratch folders below ``root`` whose lock no process holds (their
    ingest was killed); return how many."""
    removed = 0
    for lock_file in sorted(root.glob("ingest-*.lock")):
        lock = FileLock(str(lock_file))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue                         # in use
        try:
            lake.remove_folder(lock_file.with_suffix(""))
            removed += 1
        finally:
            lock.release()
        lock_file.unlink(missing_ok=True)
    return removed
