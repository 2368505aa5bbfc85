"""Gauges of emissions and baselines for ``<home>/metrics/thermaliq.prom`` (issue #18).

Names and help texts are in :data:`EM_METRICS`, merged into :data:`thermaliq.report.metrics.METRICS`;
:func:`em_gauges` reads the values with two queries for all facilities and returns plain
``(name, value, facility_id)`` triples that :mod:`thermaliq.report.metrics` turns into samples.
"""
from __future__ import annotations

import duckdb

EM_METRICS: dict[str, tuple[str, str]] = {
    "thermaliq_co2e_kg": ("gauge", "CO2e of the latest calculated day (fuels and bought electricity) [kg]"),
    "thermaliq_co2e_intensity_kg_per_mwh": ("gauge", "CO2e per MWh of useful output, latest day [kg/MWh]"),
    "thermaliq_baseline_enpi_ratio": ("gauge", "Actual / baseline-expected energy input, latest modelled period [-]"),
    "thermaliq_baseline_cusum_kwh": ("gauge", "Cumulative savings against the energy baseline (CUSUM) [kWh]"),
    "thermaliq_baseline_cv_rmse_percent": ("gauge", "CV(RMSE) of the current energy baseline [percent]"),
}


def _in(ids: list[str]) -> str:
    return f"IN ({', '.join('?' for _ in ids)})"


def em_gauges(con: duckdb.DuckDBPyConnection, fids: list[str]) -> list[tuple[str, float, str]]:
    """(metric name, value, facility id) of the latest day's CO2e and the current baselines."""
    if not fids:
        return []
    out: list[tuple[str, float, str]] = []
    try:
        days = con.sql(
            "SELECT facility_id, co2e_kg, co2e_intensity_kg_per_mwh FROM calculations "
            f"WHERE facility_id {_in(fids)} AND granularity = 'day' AND is_current "
            "QUALIFY row_number() OVER (PARTITION BY facility_id ORDER BY period_start DESC) = 1",
            params=fids).fetchall()
        base = con.sql(
            "SELECT r.facility_id, r.enpi_ratio, r.cusum_kwh, b.cv_rmse_percent FROM baseline_results AS r "
            "JOIN (SELECT DISTINCT facility_id, cv_rmse_percent FROM baselines WHERE is_current) AS b "
            f"USING (facility_id) WHERE r.facility_id {_in(fids)} AND r.is_current "
            "AND r.expected_input_kwh IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY r.facility_id ORDER BY r.period_start DESC) = 1",
            params=fids).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):   # a catalog older than these relations
        return out
    for fid, co2e, intensity in days:
        out += [(n, v, fid) for n, v in (("thermaliq_co2e_kg", co2e),
                                         ("thermaliq_co2e_intensity_kg_per_mwh", intensity)) if v is not None]
    for fid, enpi, cusum, cv in base:
        out += [(n, v, fid) for n, v in (("thermaliq_baseline_enpi_ratio", enpi),
                                         ("thermaliq_baseline_cusum_kwh", cusum),
                                         ("thermaliq_baseline_cv_rmse_percent", cv)) if v is not None]
    return out
