"""Storage: the Parquet lake (atomic writes, locks, versions), the DuckDB catalog, run records, scratch stash.

May import: ``thermaliq.config`` and the top-level ``home``, ``errors``, ``periods``, ``settings``.
"""
from thermaliq.store.catalog import refresh_catalog
from thermaliq.store.runs import record_run

__all__ = ["record_run", "refresh_catalog"]
