"""Worker processes for the CPU-heavy jobs of the tasks (``thermaliq.pipeline.jobs``).

Pandas and numpy work holds Python's GIL most of the time, so task threads share one core: a
fleet's night took as long with one thread as with four. The calculation and file-ingest tasks
therefore hand their job to a pool of worker processes (``THERMALIQ_PROCESSES``, default: the
number of cores, at most 4; ``1`` runs jobs in the task's own thread); the jobs others wait for
go first (:func:`run_first`). The Prefect task stays
in the flow's process (state, logs, retries); the worker loads only the library (no Prefect)
and does its own lake I/O under the same file locks. The pool is started on first use (forked by
a "forkserver" that has imported the library once: no copy of the flow process's threads or
locks) and reused for the life of the process.

A worker that dies (killed, out of memory) breaks the pool: the job's task fails with
:class:`WorkerDied` naming the job, the pool is replaced, and the other jobs go on.
"""
from __future__ import annotations

import atexit
import contextlib
import heapq
import itertools
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

ENV = "THERMALIQ_PROCESSES"
_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()


class WorkerDied(RuntimeError):
    """A worker process ended while running a job (the job did not complete)."""


def processes() -> int:
    """Worker processes to use: ``THERMALIQ_PROCESSES`` or the number of cores (at most 4)."""
    raw = os.environ.get(ENV)
    if raw is None or raw.strip() == "":
        return max(1, min(4, os.cpu_count() or 1))
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{ENV}={raw!r} is not a whole number of processes") from None
    if n < 1:
        raise ValueError(f"{ENV}={raw!r}: use 1 (no worker processes) or more")
    return n


def run(job, /, *args, **kwargs):
    """Run ``job(*args, **kwargs)`` in a worker process (or here when one process is wanted).
    Jobs waiting for a free process start first come, first served."""
    return _run(job, args, kwargs, rank=(1, ""))


def run_in_order(order: str, job, /, *args, **kwargs):
    """:func:`run`, but among waiting jobs the smallest ``order`` starts first (the windows of a
    backfill by their first day: the store chain waits for the earliest window first)."""
    return _run(job, args, kwargs, rank=(1, order))


def run_first(job, /, *args, **kwargs):
    """:func:`run`, ahead of every waiting :func:`run`: for the jobs others wait for (storing a
    window, which the next window's store waits for), so they never queue behind jobs that
    merely keep the cores busy (computing windows ahead)."""
    return _run(job, args, kwargs, rank=(0, ""))


class _Slots:
    """One slot per worker process: a job is handed to the pool only when a process is free (the
    pool's own queue would serve in arrival order), waiting jobs by rank, then arrival."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = 0
        self._waiting: list[tuple] = []        # heap of (rank, arrival)
        self._arrivals = itertools.count()

    @contextlib.contextmanager
    def taken(self, n: int, rank: tuple):
        with self._cond:
            entry = (rank, next(self._arrivals))
            heapq.heappush(self._waiting, entry)
            try:
                while self._busy >= n or self._waiting[0] != entry:
                    self._cond.wait()
            finally:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            self._busy += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


_SLOTS = _Slots()


def _run(job, args: tuple, kwargs: dict, *, rank: tuple):
    n = processes()
    if n == 1:
        return job(*args, **kwargs)
    with _SLOTS.taken(n, rank):
        pool = _pool(n)
        try:
            return pool.submit(_call, _settings(), job, args, kwargs).result()
        except BrokenProcessPool as exc:
            _discard(pool)
            raise WorkerDied(f"the worker process running {job.__name__}{args!r} ended before the "
                             "job completed (killed or out of memory?); nothing it left half-written "
                             "is visible, rerun to complete it") from exc


def _settings() -> dict[str, str]:
    """This process's ``THERMALIQ_*`` environment: a job sees the settings of its task's
    process at the time it runs, not those of when its worker started."""
    return {k: v for k, v in os.environ.items() if k.startswith("THERMALIQ_")}


def _call(settings: dict[str, str], job, args: tuple, kwargs: dict):
    """In the worker: take the task's settings, then run the job."""
    for key in [k for k in os.environ if k.startswith("THERMALIQ_") and k not in settings]:
        del os.environ[key]
    os.environ.update(settings)
    return job(*args, **kwargs)


def _pool(n: int) -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL._max_workers != n:   # noqa: SLF001 - size changed by the env
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = ProcessPoolExecutor(n, mp_context=_context())
        return _POOL


#: What every worker needs; imported once by the fork server, so each worker starts in
#: milliseconds instead of importing pandas, pyarrow, duckdb, pint and the library (~2 s CPU).
PRELOAD = ["thermaliq.pipeline.jobs", "thermaliq.pipeline.ingest_many"]


def _context():
    """"forkserver" where it exists (a single-threaded server process that has imported
    :data:`PRELOAD` forks the workers: nothing of the flow process's threads or locks is
    copied), else "spawn"."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _discard(pool: ProcessPoolExecutor) -> None:
    global _POOL
    with _LOCK:
        if _POOL is pool:
            _POOL = None
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker processes (at exit, or in tests)."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)
