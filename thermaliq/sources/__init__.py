"""Sources of readings: file readers (CSV/Parquet, long/wide, DST), the historian client and its retry policy, a simulator.

May import: ``thermaliq.config`` and the top-level ``units``, ``errors``, ``periods``, ``settings``.
"""
from thermaliq.sources.historian import fetch_readings
from thermaliq.sources.readers import ReadingsStream, ReadResult, read_readings_file

__all__ = ["ReadResult", "ReadingsStream", "fetch_readings", "read_readings_file"]
