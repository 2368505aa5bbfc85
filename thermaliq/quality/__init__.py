"""Data quality: cleaning, alignment onto the grid, outliers, per-tag summaries and profiles, alerts.

May import: ``thermaliq.physics``, ``thermaliq.config``, and the top-level ``units``, ``errors``, ``periods``.
"""
from thermaliq.quality.align import Aligned, align_window
from thermaliq.quality.cleaning import CleanResult, clean_readings

__all__ = ["Aligned", "CleanResult", "align_window", "clean_readings"]
