"""Relations of energy management (issue #18): ``emissions``, ``baselines``, ``baseline_results``.

Kept apart from :mod:`thermaliq.store.catalog`, which merges them into its relation table, so the
catalog's own definitions stay as they were. Files are written per facility and month like the
other results; each write carries a ``write_seq``.

- ``emissions``: one row per period and emitting stream; the current row of a key is its newest
  write (as ``stream_energies``).
- ``baselines`` (one row per model term) and ``baseline_results`` (one row per period): every
  refit writes the whole model and its results as a new ``version``; the highest version of a
  facility is current, earlier versions stay queryable.
"""
from __future__ import annotations

ENERGY_MANAGEMENT_RELATIONS: dict[str, list[tuple[str, str]]] = {
    "emissions": [("facility_id", "VARCHAR"), ("granularity", "VARCHAR"),
                  ("period_start", "TIMESTAMPTZ"), ("period_end", "TIMESTAMPTZ"),
                  ("stream_id", "VARCHAR"), ("co2_kg", "DOUBLE"), ("ch4_kg", "DOUBLE"),
                  ("n2o_kg", "DOUBLE"), ("co2e_kg", "DOUBLE"), ("factor_source", "VARCHAR"),
                  ("scope", "VARCHAR"), ("energy_hhv_kwh", "DOUBLE"), ("version", "BIGINT"),
                  ("is_current", "BOOLEAN")],
    "baselines": [("facility_id", "VARCHAR"), ("version", "BIGINT"), ("granularity", "VARCHAR"),
                  ("baseline_start", "DATE"), ("baseline_end", "DATE"), ("term", "VARCHAR"),
                  ("coefficient", "DOUBLE"), ("std_error", "DOUBLE"), ("x_min", "DOUBLE"),
                  ("x_max", "DOUBLE"), ("n", "BIGINT"), ("p", "BIGINT"), ("r_squared", "DOUBLE"),
                  ("cv_rmse_percent", "DOUBLE"), ("nmbe_percent", "DOUBLE"),
                  ("meets_guideline14", "BOOLEAN"), ("status", "VARCHAR"), ("reason", "VARCHAR"),
                  ("fitted_at", "TIMESTAMPTZ"), ("run_id", "VARCHAR"), ("is_current", "BOOLEAN")],
    "baseline_results": [("facility_id", "VARCHAR"), ("version", "BIGINT"),
                         ("granularity", "VARCHAR"), ("period_start", "TIMESTAMPTZ"),
                         ("period_end", "TIMESTAMPTZ"), ("expected_input_kwh", "DOUBLE"),
                         ("actual_input_kwh", "DOUBLE"), ("enpi_ratio", "DOUBLE"),
                         ("savings_kwh", "DOUBLE"), ("cusum_kwh", "DOUBLE"),
                         ("in_baseline_period", "BOOLEAN"), ("in_range", "BOOLEAN"),
                         ("flag", "VARCHAR"), ("is_current", "BOOLEAN")],
}

ENERGY_MANAGEMENT_GLOBS = {name: f"{name}/*/*/*.parquet" for name in ENERGY_MANAGEMENT_RELATIONS}

# Columns `calculations` gained: files written before them read NULL.
CO2E_COLUMNS = [("co2e_kg", "DOUBLE"), ("co2e_intensity_kg_per_mwh", "DOUBLE")]

_CURRENT_BY = {
    "emissions": "facility_id, granularity, period_start, stream_id",   # newest write of a key
    "baselines": None,                                                  # highest version of a facility
    "baseline_results": None,
}


def latest_write_view(name: str, scan: str, select: str) -> str:
    """SQL of a view over ``scan`` whose ``is_current`` marks the newest write (``write_seq``)."""
    if _CURRENT_BY[name]:
        current = (f"(row_number() OVER (PARTITION BY {_CURRENT_BY[name]} "
                   f"ORDER BY write_seq DESC) = 1) AS is_current")
    else:       # the newest model version (a counter taken under the facility lock)
        current = "(version = max(version) OVER (PARTITION BY facility_id)) AS is_current"
    return f'SELECT {select.replace(chr(34) + "is_current" + chr(34), current)} FROM {scan}'
