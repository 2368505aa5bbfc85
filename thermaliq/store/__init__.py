"""Storage: the Parquet lake (readings and results written by ``lake``; atomic writes, locks, versions),
the lake on object storage, the DuckDB catalog, run records, the scratch stash.

May import: ``thermaliq.config`` and the top-level ``home``, ``errors``, ``periods``, ``settings``.
"""
from thermaliq.store.catalog import refresh_catalog
from thermaliq.store.runs import record_run

__all__ = ["record_run", "refresh_catalog"]
