"""The worker processes of the tasks as a ``concurrent.futures.Executor`` (orchestration side).

The tasks create one :class:`WorkerPool` from the flow run's settings and hand it to the library,
which only calls ``submit``/``map`` on it.
"""
from tasks.pool.workers import WorkerDied, WorkerPool, shutdown, worker_pool

__all__ = ["WorkerDied", "WorkerPool", "shutdown", "worker_pool"]
