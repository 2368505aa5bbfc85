"""Facility configuration: the YAML model, its carrier checks and the file loader.

May import: ``thermaliq.units``, ``thermaliq.errors``. Nothing else of thermaliq.
"""
from thermaliq.config.load import load_facilities, load_facility, parse_facility
from thermaliq.config.model import FACILITY_ID_RE, Facility, Measurement, Stream, TagSpec, is_fuel

__all__ = ["FACILITY_ID_RE", "Facility", "Measurement", "Stream", "TagSpec", "is_fuel",
           "load_facilities", "load_facility", "parse_facility"]
