"""Worker processes for the CPU-heavy jobs of the tasks (``thermaliq.jobs``).

Pandas and numpy work holds Python's GIL most of the time, so task threads share one core: a
fleet's night took as long with one thread as with four. The calculation and file-ingest tasks
therefore hand their job to a pool of worker processes (``THERMALIQ_PROCESSES``, default: the
number of cores, at most 4; ``1`` runs jobs in the task's own thread). The Prefect task stays
in the flow's process (state, logs, retries); the worker loads only the library (no Prefect)
and does its own lake I/O under the same file locks. The pool is started on first use ("spawn":
no copy of the flow process's threads or locks) and reused for the life of the process.

A worker that dies (killed, out of memory) breaks the pool: the job's task fails with
:class:`WorkerDied` naming the job, the pool is replaced, and the other jobs go on.
"""
from __future__ import annotations

import atexit
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
    """Run ``job(*args, **kwargs)`` in a worker process (or here when one process is wanted)."""
    n = processes()
    if n == 1:
        return job(*args, **kwargs)
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
            _POOL = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


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
