"""Which worker pool a flow run's jobs go to: this machine's processes or a Dask cluster."""
from __future__ import annotations

from concurrent.futures import Executor

from tasks.pool.workers import WorkerPool
from thermaliq.settings import Settings


def worker_pool(settings: Settings) -> Executor:
    """The worker pool of a flow run with ``settings``: this machine's worker processes
    (:class:`~tasks.pool.workers.WorkerPool`, ``executor: local``, the default), or the workers of
    the Dask scheduler that ``settings.executor`` names (:class:`~tasks.pool.cluster.ClusterPool`,
    ``dask://host:port``; ``distributed`` is imported only then)."""
    if settings.executor == "local":
        return WorkerPool(settings)
    from tasks.pool.cluster import cluster_pool

    return cluster_pool(settings)
