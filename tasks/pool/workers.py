"""Worker processes for the CPU-heavy jobs of the tasks (``thermaliq.pipeline.jobs``), as an Executor.

Pandas and numpy work holds Python's GIL most of the time, so task threads share one core: a
fleet's night took as long with one thread as with four. The calculation and file-ingest tasks
therefore hand their job to a pool of worker processes (``Settings.processes``, default: the
number of cores, at most 4; ``1`` runs jobs in the calling thread). :class:`WorkerPool` is a
``concurrent.futures.Executor``: the library only calls ``submit``/``map`` on it. The jobs others
wait for go first (:meth:`WorkerPool.urgent`: storing a window), then jobs by order
(:meth:`WorkerPool.in_order`: the windows of a backfill by their first day), then as they came.

The Prefect task stays in the flow's process (state, logs, retries); the worker loads only the
library (no Prefect) and does its own lake I/O under the same file locks. Every job carries the
flow run's :class:`~thermaliq.settings.Settings`, which the worker takes before running it (the
library reads them with ``load_settings()``). The processes are started on first use (forked by a
"forkserver" that has imported the library once: no copy of the flow process's threads or
locks) and reused for the life of the process.

A worker that dies (killed, out of memory) breaks the processes: the job's future fails with
:class:`WorkerDied` naming the job, the processes are replaced, and the other jobs go on.
"""
from __future__ import annotations

import atexit
import heapq
import itertools
import multiprocessing
import os
import threading
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tasks.pool.slots import IDLE_S, CpuSlots, SlottedProcessPool, default_slots_dir
from thermaliq.settings import Settings

_PROCESSES: SlottedProcessPool | None = None
_LOCK = threading.Lock()

PLAIN, URGENT = (1, ""), (0, "")


class WorkerDied(RuntimeError):
    """A worker process ended while running a job (the job did not complete)."""


class WorkerPool(Executor):
    """An Executor over the shared worker processes, for the jobs of one flow run.

    Parameters
    ----------
    settings : Settings
        The flow run's settings: ``processes`` [count] is the number of worker processes (1: every
        job runs in the calling thread at ``submit``), and every job runs with them.
    """

    def __init__(self, settings: Settings, *, _rank: tuple = PLAIN, _queue: "_Queue | None" = None):
        self.settings = settings
        self.processes = settings.processes
        self._rank = _rank
        self._queue = _queue if _queue is not None or self.processes == 1 else _queue_for(settings)

    def urgent(self) -> "WorkerPool":
        """The same processes, its jobs ahead of every waiting plain or ordered job: for the jobs
        others wait for (storing a window, which the next window's store waits for), so they
        never queue behind jobs that merely keep the cores busy (computing windows ahead)."""
        return WorkerPool(self.settings, _rank=URGENT, _queue=self._queue)

    def in_order(self, order: str) -> "WorkerPool":
        """The same processes; among waiting plain jobs the smallest ``order`` starts first."""
        return WorkerPool(self.settings, _rank=(1, order), _queue=self._queue)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self.processes == 1:
            return _run_here(fn, args, kwargs)
        return self._queue.put(self._rank, _Job(self.settings, fn, args, kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to do: the processes are shared by every pool (see :func:`shutdown`)."""


def _run_here(fn, args: tuple, kwargs: dict) -> Future:
    future: Future = Future()
    try:
        future.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
        future.set_exception(exc)
    return future


class _Job:
    def __init__(self, settings: Settings, fn, args: tuple, kwargs: dict):
        self.settings, self.fn, self.args, self.kwargs = settings, fn, args, kwargs
        self.future: Future = Future()

    def start(self, processes: ProcessPoolExecutor) -> Future:
        return processes.submit(_call, self.settings, self.fn, self.args, self.kwargs)

    def died(self, exc: BaseException) -> WorkerDied:
        args = ", ".join(getattr(a, "facility_id", None) or repr(a) for a in self.args)
        died = WorkerDied(f"the worker process running {self.fn.__name__}({args}) ended before the "
                          "job completed (killed or out of memory?); nothing it left half-written is "
                          "visible, rerun to complete it")
        died.__cause__ = exc
        return died


class _Queue:
    """One slot per worker process: a job is handed to the processes only when one is free (the
    process pool's own queue would serve in arrival order); waiting jobs by rank, then arrival.
    A dispatcher thread hands them over; the processes' callbacks only free slots."""

    def __init__(self, n: int, start=None, slots: CpuSlots | None = None) -> None:
        self.n, self.slots = n, slots
        self._start = start or (lambda job: job.start(_processes(n, slots)))
        self._cond = threading.Condition()
        self._busy = 0
        self._waiting: list[tuple] = []        # heap of (rank, arrival, job)
        self._arrivals = itertools.count()
        self._thread: threading.Thread | None = None

    def put(self, rank: tuple, job: _Job) -> Future:
        with self._cond:
            heapq.heappush(self._waiting, (rank, next(self._arrivals), job))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._dispatch, name=f"worker-pool-{self.n}",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._busy < self.n and self._waiting, IDLE_S):
                    idle = not self._busy and not self._waiting
                    job = None
                else:
                    _, _, job = heapq.heappop(self._waiting)
                    self._busy += 1
            if job is None:
                if idle:
                    _retire(self.n, self.slots)   # idle: give the machine's CPU slots back
                continue
            if not job.future.set_running_or_notify_cancel():
                self._free()
                continue
            try:
                running = self._start(job)              # may wait for a CPU slot (other runs)
            except BrokenProcessPool as exc:        # broken before the job was handed over
                _discard(None)
                self._finish(job, None, exc)
                continue
            running.add_done_callback(lambda done, job=job: self._finish(job, done, None))

    def _finish(self, job: _Job, done: Future | None, broken: BaseException | None) -> None:
        if done is not None and done.cancelled():       # the processes were shut down
            job.future.set_exception(CancelledError(f"{job.fn.__name__}: the worker processes were stopped"))
            self._free()
            return
        exc = broken if done is None else done.exception()
        if isinstance(exc, BrokenProcessPool):
            _discard(done)
            job.future.set_exception(job.died(exc))
        elif exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(done.result())
        self._free()

    def _free(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()


_QUEUES: dict[tuple, _Queue] = {}


def _queue_for(settings: Settings) -> _Queue:
    """The queue of ``settings.processes`` processes (one per size: a flow run's settings choose
    it), its worker processes within the machine's ``settings.cpu_slots`` CPU slots."""
    n, folder = settings.processes, settings.slots_dir or default_slots_dir()
    key = (n, str(folder), settings.cpu_slots)
    with _LOCK:
        if key not in _QUEUES:
            _QUEUES[key] = _Queue(n, slots=CpuSlots(folder, settings.cpu_slots))
        return _QUEUES[key]


def _call(settings: Settings, job, args: tuple, kwargs: dict):
    """In the worker: take the job's settings, then run the job.

    The library reads its settings with ``thermaliq.settings.load_settings()`` from this process's
    environment (e.g. ``crash_at`` in ``thermaliq.store.testhooks``), so they are put there: the
    job sees the settings of its flow run, not those of the worker's start.
    """
    for name in type(settings).model_fields:         # unset here = unset in the flow run
        os.environ.pop(f"THERMALIQ_{name.upper()}", None)
    os.environ.update(settings.as_env())
    return job(*args, **kwargs)


def _processes(n: int, slots: CpuSlots | None) -> ProcessPoolExecutor:
    """Up to ``n`` processes, each started only with one of the machine's CPU ``slots``."""
    global _PROCESSES
    with _LOCK:
        slots = slots or CpuSlots(default_slots_dir(), os.cpu_count() or 1)
        if (_PROCESSES is None or _PROCESSES._max_workers != n   # noqa: SLF001 - size changed
                or (_PROCESSES.slots.folder, _PROCESSES.slots.n) != (slots.folder, slots.n)):
            if _PROCESSES is not None:
                _PROCESSES.shutdown(wait=False, cancel_futures=True)
            _PROCESSES = SlottedProcessPool(n, _context(), slots)
        return _PROCESSES


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


def _retire(n: int, slots: CpuSlots | None) -> None:
    """End the worker processes of a queue of ``n`` on ``slots`` (idle for :data:`IDLE_S`), so
    that their CPU slots go to other runs; the next job starts new ones (forked in milliseconds)."""
    global _PROCESSES
    with _LOCK:
        pool = _PROCESSES
        if (pool is None or pool._max_workers != n or not pool.worker_pids()   # noqa: SLF001
                or pool._pending_work_items                                   # noqa: SLF001
                or (slots is not None and pool.slots.folder != slots.folder)):
            return
        _PROCESSES = None
    pool.shutdown(wait=True)


def _discard(done: Future | None) -> None:
    """Replace the broken processes (once, whichever of their jobs notices first)."""
    global _PROCESSES
    with _LOCK:
        pool = _PROCESSES
        if pool is None or not getattr(pool, "_broken", False):
            return
        _PROCESSES = None
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker processes (at exit, or in tests)."""
    global _PROCESSES
    with _LOCK:
        pool, _PROCESSES = _PROCESSES, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)
