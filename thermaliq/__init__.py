"""thermaliq: efficiency and energy balance of industrial thermal plants.

The library layer: configuration, units, steam tables, energy, data quality, storage and reports.
It never imports Prefect or Great Expectations; those live in ``tasks/`` and ``flows/``.
"""
__version__ = "0.1.0"
