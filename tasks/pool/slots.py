"""CPU slots shared by every thermaliq process of a machine: file locks, one per core.

Each flow run (a CLI run, or each flow-run subprocess of a Prefect worker) has its own worker
processes; without a machine-wide limit two backfills and a nightly would run three times as
many CPU-heavy jobs as there are cores. A job therefore holds one of ``Settings.cpu_slots``
slots (default: the number of cores) while it runs in a worker process. A slot is an exclusive
``flock`` on ``<slots_dir>/slot-<k>.lock``: the kernel releases it when the holding process
dies, so a killed run never leaks a slot. ``flock`` locks belong to an open file, so two threads
of one process exclude each other too.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

#: Seconds between two looks for a free slot while all are held [s].
POLL_S = 0.05


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
        Slots [count]: at most this many jobs run at once on the machine.
    """

    def __init__(self, folder: Path, n: int):
        if n < 1:
            raise ValueError(f"n must be >= 1, not {n}")
        self.folder, self.n = Path(folder), n
        self.folder.mkdir(parents=True, exist_ok=True)

    def acquire(self) -> int:
        """Hold a free slot; return its file descriptor (give it to :meth:`release`)."""
        while True:
            for k in range(self.n):
                fd = os.open(self.folder / f"slot-{k}.lock", os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    os.close(fd)
            time.sleep(POLL_S)

    @staticmethod
    def release(fd: int) -> None:
        """Free the slot held through ``fd``."""
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
