"""CPU slots shared by every thermaliq process of a machine: file locks, one per core, each held by
one live worker process for its whole life.

Each flow run (a CLI run, or each flow-run subprocess of a Prefect worker) has its own worker
processes; without a machine-wide limit two backfills and a nightly would start three times as
many worker processes as there are cores. So a worker process exists only while it holds one of
``Settings.cpu_slots`` slots (default: the number of cores): :class:`SlottedProcessPool` takes a
free slot before it starts a worker and hands the lock to the worker, which holds it until it
ends; with no free slot the pool runs its jobs on the workers it has (or, with none yet, waits for
a slot). At any instant the machine has at most ``cpu_slots`` live thermaliq worker processes.
A run's workers that have had no job for :data:`IDLE_S` end (``tasks.pool.workers``), so an idle
process (a test session, a served flow's process) never keeps slots from the runs that work.

A slot is an exclusive ``flock`` on ``<slots_dir>/slot-<k>.lock``. The kernel releases it when the
holding process dies, so a killed worker never leaks a slot; a worker whose flow-run process died
(``kill -9``) ends itself within :data:`PARENT_POLL_S` (it would otherwise live on, idle, holding
its slot). ``flock`` locks belong to an open file, so two threads of one process exclude each
other too, and a descriptor passed to a child process shares the lock with it.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import reduction
from pathlib import Path

#: Seconds between two looks for a free slot while all are held [s].
POLL_S = 0.05
#: Seconds between two checks, in a worker, that its flow-run process still lives [s].
PARENT_POLL_S = 0.2
#: Seconds a run's worker processes stay without a job before they end and free their slots [s].
IDLE_S = 2.0


def default_slots_dir() -> Path:
    return Path(tempfile.gettempdir()) / "thermaliq-cpu-slots"


class CpuSlots:
    """``n`` [count] slots in ``folder``; :meth:`acquire` blocks until one is free.

    Parameters
    ----------
    folder : pathlib.Path
        Where the slot lock files are (created when missing; every run of the machine must use
        the same folder).
    n : int
        Slots [count]: at most this many worker processes live at once on the machine.
    """

    def __init__(self, folder: Path, n: int):
        if n < 1:
            raise ValueError(f"n must be >= 1, not {n}")
        self.folder, self.n = Path(folder), n
        self.folder.mkdir(parents=True, exist_ok=True)

    def try_acquire(self) -> int | None:
        """Hold a free slot and return its file descriptor, or None when every slot is held."""
        for k in range(self.n):
            if (fd := self._try_slot(k)) is not None:
                return fd
        return None

    def acquire(self) -> int:
        """Hold a free slot; return its file descriptor (give it to :meth:`release`)."""
        while (fd := self.try_acquire()) is None:
            time.sleep(POLL_S)
        return fd

    def held(self) -> int:
        """Slots held now by any process [count] (a snapshot, for tests and diagnostics)."""
        busy = 0
        for k in range(self.n):
            fd = self._try_slot(k)
            if fd is None:
                busy += 1
            else:
                self.release(fd)
        return busy

    def _try_slot(self, k: int) -> int | None:
        fd = os.open(self.folder / f"slot-{k}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            os.close(fd)
            return None

    @staticmethod
    def release(fd: int) -> None:
        """Free the slot held through ``fd``."""
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class SlottedProcessPool(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` of at most ``max_workers`` processes, each started only with a
    CPU slot of ``slots`` that it holds for its whole life.

    The executor starts a process when a job is submitted and jobs outnumber processes (the
    standard library's ``_adjust_process_count`` and ``_spawn_process``, where processes are
    made, are extended here). It takes a free slot first; with none free it starts nothing and
    the job waits for one of the pool's processes; a pool with no process yet waits for a slot
    (another run's worker to end). The slot's lock file descriptor is passed to the new process
    and the pool closes its own copy, so the lock is released exactly when the worker ends.
    """

    def __init__(self, max_workers: int, mp_context, slots: CpuSlots):
        super().__init__(max_workers, mp_context=mp_context)
        self.slots = slots
        self._parent_pid = os.getpid()

    def _adjust_process_count(self) -> None:
        """Start a process when jobs outnumber processes (the standard library counts idle
        processes with a semaphore that overcounts after jobs waited for a process, so a pool that
        once found no free slot would never grow again)."""
        if len(self._processes) < min(self._max_workers, len(self._pending_work_items)):
            self._spawn_process()

    def _spawn_process(self) -> None:
        fd = self.slots.try_acquire()
        if fd is None:
            if self._processes:
                return                          # run on the processes it has
            fd = self.slots.acquire()           # none yet: wait for a slot
        self._initializer, self._initargs = _hold_slot, (_Fd(fd), self._parent_pid)
        try:
            super()._spawn_process()
        finally:
            os.close(fd)                        # the worker's copy holds the lock now

    def worker_pids(self) -> list[int]:
        """Process ids of the live worker processes."""
        return list(self._processes)


class _Fd:
    """A file descriptor that goes to a child process as a duplicate (sharing its ``flock``)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _detach, (reduction.DupFd(self.fd),)


def _detach(dup) -> int:
    return dup.detach()


_HELD_SLOT: list[int] = []


def _hold_slot(fd: int, parent_pid: int) -> None:
    """In a new worker: keep the slot's lock (``fd``) until the process ends, and end the process
    when its flow-run process ``parent_pid`` is gone (``kill -9`` of a run)."""
    _HELD_SLOT.append(fd)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="slot-parent-watch",
                     daemon=True).start()


def _watch_parent(pid: int) -> None:
    while _alive(pid):
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except FileNotFoundError:
            return False
    try:                                        # no /proc (not Linux): ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
