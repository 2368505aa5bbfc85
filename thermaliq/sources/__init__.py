"""Sources of readings: file readers (CSV/Parquet, long/wide, DST), the historian, OPC UA and PI Web API
clients with their retry policy, and local simulators of them.

May import: ``thermaliq.config`` and the top-level ``units``, ``errors``, ``periods``, ``settings``.
The names below are loaded on first use (PEP 562), so that importing one module of the package
(``thermaliq.sources.credentials``, ``.readers``) does not load the historian client's ``requests``
(about 0.3 s) for a run that reads files.
"""
from importlib import import_module

_WHERE = {"fetch_readings": "thermaliq.sources.historian", "ReadResult": "thermaliq.sources.readers",
          "ReadingsStream": "thermaliq.sources.readers", "read_readings_file": "thermaliq.sources.readers"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'thermaliq.sources' has no attribute {name!r}")


__all__ = ["ReadResult", "ReadingsStream", "fetch_readings", "read_readings_file"]
