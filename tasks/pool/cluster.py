"""The CPU-heavy jobs on a Dask cluster (``THERMALIQ_EXECUTOR=dask://host:port``), as an Executor.

:class:`ClusterPool` is the swap for :class:`tasks.pool.workers.WorkerPool`: the same
``concurrent.futures.Executor`` the library is handed, with the same ``urgent()`` and
``in_order()`` ranks, but the jobs run on the workers of a Dask scheduler through a
``distributed.Client`` instead of this machine's worker processes. The library does not know the
difference; the cluster's scheduler decides where each job runs (store jobs first through Dask's
``priority``, then the windows of a backfill by their first day).

What a cluster's workers need (README "Several hosts"): the same thermaliq installed, and the
home (lake, stash, facility files) at the same path, because jobs read and write it themselves;
one thread per worker (``dask worker --nthreads 1``: pandas holds the GIL, and every job puts its
flow run's settings into the worker process's environment before it runs).

A worker that dies while running a job is replaced by Dask, which retries the job elsewhere up to
``distributed.scheduler.allowed-failures`` times; after that the job's future fails with
:class:`tasks.pool.workers.WorkerDied` naming the job, as with local processes.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from concurrent.futures import CancelledError, Executor, Future
from datetime import date

from tasks.pool.workers import WorkerDied
from thermaliq.settings import Settings

log = logging.getLogger(__name__)

#: Dask priorities (higher runs first): store jobs, then windows by their first day, then the rest.
URGENT_PRIORITY = 1 << 30
PLAIN_PRIORITY = 0

_CLIENTS: dict[str, object] = {}
_LOCK = threading.Lock()


def scheduler_address(executor: str) -> str:
    """The Dask scheduler address of an ``executor`` setting: ``dask://host:port`` → ``tcp://host:port``
    (``tcp://``, ``tls://`` and ``inproc://`` addresses are taken as they are)."""
    if executor.startswith("dask://"):
        return "tcp://" + executor[len("dask://"):]
    return executor


def order_priority(order: str) -> int:
    """A Dask priority for a window's ``order`` (its first day, ISO): earlier days run first
    (higher priority), all below the store jobs. Other orders keep the plain priority."""
    try:
        day = date.fromisoformat(order)
    except ValueError:
        return PLAIN_PRIORITY
    return (1 << 24) - day.toordinal()


class ClusterPool(Executor):
    """An Executor over a Dask cluster for the jobs of one flow run.

    Parameters
    ----------
    settings : Settings
        The flow run's settings; ``executor`` names the scheduler, and every job runs with them.
    priority : int
        Dask priority of this pool's jobs (higher first).
    """

    def __init__(self, settings: Settings, *, priority: int = PLAIN_PRIORITY):
        self.settings = settings
        self.priority = priority
        self.client = client_for(scheduler_address(settings.executor))

    def urgent(self) -> "ClusterPool":
        """The same cluster, its jobs ahead of every other (storing a window)."""
        return ClusterPool(self.settings, priority=URGENT_PRIORITY)

    def in_order(self, order: str) -> "ClusterPool":
        """The same cluster; among plain jobs the smallest ``order`` (first day) first."""
        return ClusterPool(self.settings, priority=order_priority(order))

    def submit(self, fn, /, *args, **kwargs) -> Future:
        running = self.client.submit(run_with_settings, self.settings, fn, args, kwargs, pure=False,
                                     priority=self.priority, key=_key(fn))
        future: Future = Future()
        future.set_running_or_notify_cancel()
        running.add_done_callback(lambda done: _settle(future, done, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to do: the client is shared by every pool of the process (see :func:`close_clients`)."""


def cluster_pool(settings: Settings) -> ClusterPool:
    """The cluster pool of a flow run with ``settings`` (``settings.executor`` is a Dask address)."""
    return ClusterPool(settings)


def client_for(address: str):
    """One ``distributed.Client`` per scheduler address and process (connected on first use).

    Raises ``RuntimeError`` naming the address when no scheduler answers there.
    """
    with _LOCK:
        client = _CLIENTS.get(address)
        if client is not None and client.status == "running":
            return client
        from distributed import Client

        try:
            client = Client(address, set_as_default=False, timeout="20s")
        except OSError as exc:
            raise RuntimeError(f"THERMALIQ_EXECUTOR: no Dask scheduler answers at {address} ({exc}); "
                               "start one (dask scheduler) or unset THERMALIQ_EXECUTOR to use this "
                               "machine's worker processes") from exc
        threads = client.nthreads()
        if any(n > 1 for n in threads.values()):
            log.warning("Dask workers at %s run %s threads each; thermaliq jobs expect one thread "
                        "per worker (dask worker --nthreads 1)", address, sorted(set(threads.values())))
        _CLIENTS[address] = client
        return client


def run_with_settings(settings: Settings, job, args: tuple, kwargs: dict):
    """On a Dask worker: put the flow run's settings into the environment, then run the job.

    The library reads its settings with ``thermaliq.settings.load_settings()`` from the process's
    environment, so the job sees the settings of its flow run, not those of the worker's start.
    """
    wanted = settings.as_env()
    for name in type(settings).model_fields:         # unset in the flow run = unset here
        variable = f"THERMALIQ_{name.upper()}"
        if variable not in wanted:
            os.environ.pop(variable, None)
    os.environ.update(wanted)
    return job(*args, **kwargs)


def _key(fn) -> str:
    """A Dask key that says what the job is (the dashboard shows it)."""
    import uuid

    return f"{getattr(fn, '__name__', 'job')}-{uuid.uuid4().hex}"


def _settle(future: Future, done, fn, args: tuple) -> None:
    """Hand a finished Dask future's outcome to the Executor's future."""
    from distributed.scheduler import KilledWorker

    try:
        if done.status == "cancelled":
            future.set_exception(CancelledError(f"{fn.__name__}: the Dask job was cancelled"))
            return
        exc = done.exception()
        if isinstance(exc, KilledWorker):
            named = ", ".join(getattr(a, "facility_id", None) or repr(a) for a in args)
            died = WorkerDied(f"the Dask workers running {fn.__name__}({named}) died every time it "
                              "was tried (killed or out of memory?); nothing it left half-written is "
                              "visible, rerun to complete it")
            died.__cause__ = exc
            future.set_exception(died)
        elif exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(done.result())
    except BaseException as exc:  # noqa: BLE001 - e.g. the client lost the scheduler: to the caller
        if not future.done():
            future.set_exception(exc)


def close_clients() -> None:
    """Close the Dask clients of this process (at exit, or in tests)."""
    with _LOCK:
        clients = list(_CLIENTS.values())
        _CLIENTS.clear()
    for client in clients:
        client.close()


atexit.register(close_clients)
