"""Which ``running`` runs are still alive: a lock each run holds while it runs, and the
reconciliation of the dead ones to ``crashed`` (or ``failed``, when Prefect says so).

A run holds an exclusive ``flock`` on ``lake/_running/<run_id>.lock`` from its ``running`` row to
its end. The kernel releases the lock when the process dies (``kill -9``, out of memory, power
loss), so a ``running`` row whose lock can be taken belongs to a dead process: :func:`reconcile`
(called by the next run and by ``thermaliq check``) rewrites it with the reason. A row whose lock
is held is never touched, whatever else says otherwise: its live process writes its own end.
Runs of one home on several machines need a shared filesystem with working ``flock``, as the
facility locks do.

What the orchestrator knows of a dead run (its Prefect state) is passed in as data
(:class:`OrchestratorState` per run id); this module does not talk to Prefect.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from thermaliq.home import Home
from thermaliq.store import lake

CRASHED_REASON = ("the process running it ended without recording an end (killed, out of memory or "
                  "a power loss); found by {by} at {at:%Y-%m-%d %H:%M:%S} UTC")
#: Orchestrator state types (Prefect's ``StateType`` names) that end a dead run as ``failed``;
#: every other state of a dead run (Crashed, still Running, Pending, unknown) ends it as ``crashed``.
FAILED_STATES = frozenset({"FAILED", "CANCELLED", "CANCELLING"})
#: Orchestrator state types that say a run has not ended (the orchestrator has not noticed the death).
ACTIVE_STATES = frozenset({"RUNNING", "PENDING", "SCHEDULED", "PAUSED"})


@dataclass(frozen=True)
class OrchestratorState:
    """What the orchestrator (Prefect) says of one run: ``type`` (e.g. ``RUNNING``, ``CRASHED``),
    its display ``name`` and ``message``."""

    type: str
    name: str
    message: str | None = None


@dataclass(frozen=True)
class Reconciled:
    """One ``running`` row looked at: ``status`` written (``crashed``/``failed``), or ``running``
    when its process lives (nothing written); ``prefect`` is the orchestrator's state, if known."""

    run_id: str
    flow: str
    status: str
    reason: str | None
    prefect: OrchestratorState | None

    @property
    def changed(self) -> bool:
        return self.status != "running"


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


def running_rows(home: Home) -> list[dict]:
    """The rows of ``runs`` that say ``running`` (alive or not), oldest first."""
    rows = []
    for path in sorted((home.lake / "runs").glob("*.parquet")):
        row = lake.read_parquet(path)
        if not row.empty and row["status"].iloc[0] == "running":
            rows.append(row.iloc[0].to_dict())
    return sorted(rows, key=lambda r: r["started_at"])


def reconcile(home: Home, by: str, states: dict[str, OrchestratorState] | None = None,
              now: pd.Timestamp | None = None) -> list[Reconciled]:
    """Look at every ``running`` row: leave those whose process lives, end the others.

    Parameters
    ----------
    home : Home
    by : str
        Who found it (written into the reason, e.g. ``thermaliq check``).
    states : dict, optional
        The orchestrator's state per run id, where known. A dead run that Prefect calls Failed or
        Cancelled becomes ``failed``; any other dead run becomes ``crashed``. The state is quoted
        in the reason.
    now : pandas.Timestamp, optional
        The time written as the run's end and into the reason (UTC; default: now).
    """
    now = now or pd.Timestamp.now(tz="UTC")
    states = states or {}
    out = []
    for record in running_rows(home):
        run_id = str(record["run_id"])
        prefect = states.get(run_id)
        if is_alive(home.lake, run_id):
            out.append(Reconciled(run_id, str(record["flow"]), "running", None, prefect))
            continue
        reason = CRASHED_REASON.format(by=by, at=now)
        status = "crashed"
        if prefect is not None:
            status = "failed" if prefect.type in FAILED_STATES else "crashed"
            reason += f"; Prefect: {prefect.name}" + (f" ({prefect.message})" if prefect.message else "")
        record.update(status=status, reason=reason)    # finished_at stays unknown
        lake.write_run(home.lake, record)
        lock_path(home.lake, run_id).unlink(missing_ok=True)
        out.append(Reconciled(run_id, str(record["flow"]), status, reason, prefect))
    return out


def reconcile_crashed(home: Home, by: str, now: pd.Timestamp | None = None) -> list[str]:
    """Mark every ``running`` run whose process is gone as ``crashed``; return their run ids."""
    return [r.run_id for r in reconcile(home, by, now=now) if r.changed]
