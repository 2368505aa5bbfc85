"""The worker processes of the tasks as a ``concurrent.futures.Executor`` (orchestration side).

The tasks create one pool from the flow run's settings (:func:`worker_pool`: this machine's worker
processes, or a Dask cluster) and hand it to the library, which only calls ``submit``/``map`` on it.
"""
from tasks.pool.choose import worker_pool
from tasks.pool.workers import WorkerDied, WorkerPool, shutdown

__all__ = ["WorkerDied", "WorkerPool", "shutdown", "worker_pool"]
