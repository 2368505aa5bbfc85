"""Pipeline stages of the library: ingest, calculate (window results), store results as versions, worker jobs.

May import every library subpackage except ``thermaliq.report``. No re-exports: a worker process
imports only the stage it runs (``thermaliq.pipeline.jobs``, ``.ingest_many``).
"""
