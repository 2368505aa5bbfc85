"""Which ``running`` runs are still alive: a lock each run holds while it runs, and the
reconciliation of the dead ones to ``crashed``.

A run holds an exclusive ``flock`` on ``lake/_running/<run_id>.lock`` from its ``running`` row to
its end. The kernel releases the lock when the process dies (``kill -9``, out of memory, power
loss), so a ``running`` row whose lock can be taken belongs to a dead process:
:func:`reconcile_crashed` (called by the next run and by ``thermaliq check-config``) rewrites it as
``crashed`` with the reason. Runs of one home on several machines need a shared filesystem with
working ``flock``, as the facility locks do.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pandas as pd

from thermaliq.home import Home
from thermaliq.store import lake

CRASHED_REASON = ("the process running it ended without recording an end (killed, out of memory or "
                  "a power loss); found by {by} at {at:%Y-%m-%d %H:%M:%S} UTC")


def lock_path(lake_dir: Path, run_id: str) -> Path:
    return lake_dir / "_running" / f"{run_id}.lock"


def hold(lake_dir: Path, run_id: str) -> int:
    """Hold the run's liveness lock; return the descriptor for :func:`release`."""
    path = lock_path(lake_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def release(lake_dir: Path, run_id: str, fd: int) -> None:
    """End the run's liveness lock and remove its file."""
    lock_path(lake_dir, run_id).unlink(missing_ok=True)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def is_alive(lake_dir: Path, run_id: str) -> bool:
    """True while a process holds the run's lock (a missing file: no process holds it)."""
    path = lock_path(lake_dir, run_id)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)            # closing releases a lock taken here
    return False


def reconcile_crashed(home: Home, by: str, now: pd.Timestamp | None = None) -> list[str]:
    """Mark every ``running`` run whose process is gone as ``crashed``; return their run ids."""
    now = now or pd.Timestamp.now(tz="UTC")
    crashed = []
    for path in sorted((home.lake / "runs").glob("*.parquet")):
        row = lake.read_parquet(path)
        if row.empty or row["status"].iloc[0] != "running":
            continue
        run_id = str(row["run_id"].iloc[0])
        if is_alive(home.lake, run_id):
            continue
        record = row.iloc[0].to_dict()
        record.update(status="crashed", reason=CRASHED_REASON.format(by=by, at=now))
        lake.write_run(home.lake, record)
        lock_path(home.lake, run_id).unlink(missing_ok=True)
        crashed.append(run_id)
    return crashed
