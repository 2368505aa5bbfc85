"""The DuckDB relations of DESIGN §6 as views over the Parquet lake.

``<home>/thermaliq.duckdb`` holds only view definitions, so it is opened for writing only when the
set of views must change (first run, a dataset that was empty gets data, the home moved). Users
and reports therefore never wait for a writer, and a user holding the file open read-only never
makes a flow fail: :func:`refresh_catalog` reports it as busy and the views already there keep
seeing new files through their globs.

Internal readers use :func:`memory_connection`, an in-memory database with the same views.
"""
from __future__ import annotations

import time
from pathlib import Path

import duckdb

from thermaliq.home import Home
from thermaliq.store.em_relations import (CO2E_COLUMNS,
                                          ENERGY_MANAGEMENT_GLOBS, ENERGY_MANAGEMENT_RELATIONS,
                                          latest_write_view)
from thermaliq.store.testhooks import crash_point

# Columns of each relation: (name, DuckDB type), in contract order (DESIGN §6), then extras.
RELATIONS: dict[str, list[tuple[str, str]]] = {
    "readings": [("facility_id", "VARCHAR"), ("tag", "VARCHAR"), ("ts", "TIMESTAMPTZ"),
                 ("value", "DOUBLE"), ("unit", "VARCHAR"), ("quality", "VARCHAR"),
                 ("source", "VARCHAR")],
    "quarantine": [("facility_id", "VARCHAR"), ("source", "VARCHAR"), ("row", "BIGINT"),
                   ("reason", "VARCHAR"), ("ingested_at", "TIMESTAMPTZ"), ("raw", "VARCHAR"),
                   ("tag", "VARCHAR"), ("ts", "TIMESTAMPTZ")],
    "stream_energies": [("facility_id", "VARCHAR"), ("granularity", "VARCHAR"),
                        ("period_start", "TIMESTAMPTZ"), ("period_end", "TIMESTAMPTZ"),
                        ("stream_id", "VARCHAR"), ("role", "VARCHAR"), ("carrier", "VARCHAR"),
                        ("energy_kwh", "DOUBLE"), ("is_current", "BOOLEAN"),
                        ("exergy_kwh", "DOUBLE"), ("version", "BIGINT"),
                        # issue 21: energy_kwh is the stream's own, over its valid intervals;
                        # balance_energy_kwh over the facility's valid intervals
                        ("balance_energy_kwh", "DOUBLE"), ("valid_intervals", "BIGINT"),
                        ("intervals", "BIGINT"), ("coverage", "DOUBLE")],
    "calculations": [("facility_id", "VARCHAR"), ("granularity", "VARCHAR"),
                     ("period_start", "TIMESTAMPTZ"), ("period_end", "TIMESTAMPTZ"),
                     ("basis", "VARCHAR"), ("energy_input_kwh", "DOUBLE"),
                     ("useful_output_kwh", "DOUBLE"), ("losses_kwh", "DOUBLE"),
                     ("unaccounted_kwh", "DOUBLE"), ("efficiency_percent", "DOUBLE"),
                     ("indirect_efficiency_percent", "DOUBLE"), ("balance_error_percent", "DOUBLE"),
                     ("exergy_efficiency_percent", "DOUBLE"), ("data_quality_score", "DOUBLE"),
                     ("status", "VARCHAR"), ("version", "BIGINT"), ("is_current", "BOOLEAN"),
                     ("calculated_at", "TIMESTAMPTZ"), ("run_id", "VARCHAR"), ("reason", "VARCHAR"),
                     ("firing_hours", "DOUBLE"), ("standby_hours", "DOUBLE"),
                     # issue 17: uncertainty (k = 2) and CHP indicators
                     ("efficiency_uncertainty_points", "DOUBLE"),
                     ("indirect_efficiency_uncertainty_points", "DOUBLE"),
                     ("balance_error_uncertainty_points", "DOUBLE"),
                     ("electrical_efficiency_percent", "DOUBLE"), ("thermal_efficiency_percent", "DOUBLE"),
                     ("purpa_efficiency_percent", "DOUBLE"),
                     ("effective_electrical_efficiency_percent", "DOUBLE"),
                     ("primary_energy_savings_percent", "DOUBLE")],
    "uncertainty_budget": [("facility_id", "VARCHAR"), ("period_start", "TIMESTAMPTZ"),
                           ("period_end", "TIMESTAMPTZ"), ("quantity", "VARCHAR"),
                           ("source", "VARCHAR"), ("stream_id", "VARCHAR"),
                           ("standard_uncertainty", "DOUBLE"), ("unit", "VARCHAR"),
                           ("sensitivity", "DOUBLE"), ("contribution_points", "DOUBLE"),
                           ("input_effect_kwh", "DOUBLE"), ("output_effect_kwh", "DOUBLE"),
                           ("losses_effect_kwh", "DOUBLE")],
    "data_quality": [("facility_id", "VARCHAR"), ("tag", "VARCHAR"), ("period_start", "TIMESTAMPTZ"),
                     ("period_end", "TIMESTAMPTZ"), ("expected_points", "BIGINT"),
                     ("valid_points", "BIGINT"), ("interpolated_points", "BIGINT"),
                     ("rejected_points", "BIGINT"), ("completeness", "DOUBLE"), ("issues", "VARCHAR"),
                     ("outlier_points", "BIGINT")],
    "alerts": [("facility_id", "VARCHAR"), ("period_start", "TIMESTAMPTZ"),
               ("period_end", "TIMESTAMPTZ"), ("kind", "VARCHAR"), ("severity", "VARCHAR"),
               ("value", "DOUBLE"), ("threshold", "DOUBLE"), ("message", "VARCHAR"),
               ("run_id", "VARCHAR")],
    "runs": [("run_id", "VARCHAR"), ("flow", "VARCHAR"), ("started_at", "TIMESTAMPTZ"),
             ("finished_at", "TIMESTAMPTZ"), ("status", "VARCHAR"), ("parameters", "VARCHAR"),
             ("reason", "VARCHAR")],
    **ENERGY_MANAGEMENT_RELATIONS,
}
RELATIONS["calculations"] = RELATIONS["calculations"] + CO2E_COLUMNS

# Glob of each dataset's files below the lake.
GLOBS = {
    "readings": "readings/*/*/*.parquet",
    "quarantine": "quarantine/*/*.parquet",
    "stream_energies": "stream_energies/*/*/*.parquet",
    "calculations": "calculations/*/*/*.parquet",
    "data_quality": "data_quality/*/*/*.parquet",
    "alerts": "alerts/*/*/*.parquet",
    "runs": "runs/*.parquet",
    "uncertainty_budget": "uncertainty_budget/*/*/*.parquet",
    **ENERGY_MANAGEMENT_GLOBS,
}


# Columns a relation gained after files were written without them: those files read NULL there.
ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "data_quality": [("outlier_points", "BIGINT")],   # NULL: the count is only in `issues`
    # NULL before issue 21: energy_kwh then was the energy over the facility's valid intervals
    "stream_energies": [("balance_energy_kwh", "DOUBLE"), ("valid_intervals", "BIGINT"),
                        ("intervals", "BIGINT"), ("coverage", "DOUBLE")],
    # NULL in results written before these columns existed: operating hours (issue 14),
    # uncertainty and CHP indicators (issue 17), CO2e (issue 18)
    "calculations": [("firing_hours", "DOUBLE"), ("standby_hours", "DOUBLE")] + [(c, "DOUBLE") for c in (
        "efficiency_uncertainty_points", "indirect_efficiency_uncertainty_points",
        "balance_error_uncertainty_points", "electrical_efficiency_percent",
        "thermal_efficiency_percent", "purpa_efficiency_percent",
        "effective_electrical_efficiency_percent", "primary_energy_savings_percent")] + CO2E_COLUMNS,
}


def _scan(lake: Path, dataset: str) -> str:
    pattern = str(lake / GLOBS[dataset]).replace("'", "''")
    extra = ", hive_partitioning = true" if dataset == "readings" else ", hive_partitioning = false"
    return f"read_parquet('{pattern}', union_by_name = true{extra})"


def _with_added(scan: str, name: str) -> str:
    """``scan`` with the :data:`ADDED_COLUMNS` of ``name``, even when no file has them yet."""
    if name not in ADDED_COLUMNS:
        return scan
    cols = ", ".join(f'CAST(NULL AS {typ}) AS "{col}"' for col, typ in ADDED_COLUMNS[name])
    return f"(SELECT * FROM {scan} UNION ALL BY NAME SELECT {cols} WHERE false)"


def _empty(name: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {typ}) AS \"{col}\"" for col, typ in RELATIONS[name])
    return f"SELECT {cols} WHERE false"


def _select(name: str) -> str:
    return ", ".join(f'"{col}"' for col, _ in RELATIONS[name])


#: Result relations whose rows carry the ``write_seq`` of the write that made them.
VERSIONED = ("stream_energies", "calculations", "data_quality", "alerts", "uncertainty_budget",
             "emissions")


def committed_scan(lake: Path, dataset: str) -> str:
    """The rows of ``dataset`` without those of a write still pending (its marker in
    ``lake/_pending``: being written now, or left by a writer that died; see
    :func:`thermaliq.store.lake.pending_results`).

    The marker is created before a write's first file and removed after its last, and the file
    list is taken when the query is planned, the markers when it runs, so a query never sees part
    of a write: a write whose files it lists is either still marked (hidden) or complete.
    """
    scan = _scan(lake, dataset)
    if dataset not in VERSIONED:
        return scan
    pending = str(lake / "_pending" / "*" / "*").replace("'", "''")
    return (f"(SELECT t.* FROM {scan} AS t ANTI JOIN (SELECT regexp_extract(file, "
            f"'facility_id=([^/]+)/', 1) AS pending_facility, TRY_CAST(regexp_extract(file, "
            f"'([0-9]+)$', 1) AS BIGINT) AS pending_seq FROM glob('{pending}')) AS p "
            f"ON t.facility_id = p.pending_facility AND t.write_seq = p.pending_seq)")


def view_sql(lake: Path, name: str, present: set[str]) -> str:
    """SQL of one relation's view given the datasets that have files (pending writes left out)."""
    if name not in present:
        return _empty(name)
    scan = committed_scan(lake, name)
    if name in ENERGY_MANAGEMENT_RELATIONS:
        return latest_write_view(name, scan, _select(name))
    if name in ("stream_energies", "calculations"):
        scan = _with_added(scan, name)
        keys = "facility_id, granularity, period_start" + (", stream_id" if name == "stream_energies" else "")
        current = f"(row_number() OVER (PARTITION BY {keys} ORDER BY write_seq DESC) = 1) AS is_current"
        return f"SELECT {_select(name).replace(chr(34) + 'is_current' + chr(34), current)} FROM {scan}"
    if name in ("data_quality", "alerts", "uncertainty_budget"):
        # current = written by the same write as the current day row of `calculations`
        if "calculations" not in present:
            return _empty(name)
        cols = ", ".join(f't."{c}"' for c, _ in RELATIONS[name])
        scan = _with_added(scan, name)
        return (f"SELECT {cols} FROM {scan} AS t JOIN (SELECT facility_id, period_start AS day_start, "
                f"max(write_seq) AS write_seq FROM {committed_scan(lake, 'calculations')} "
                f"WHERE granularity = 'day' GROUP BY ALL) AS c "
                f"ON t.facility_id = c.facility_id AND t.day_start = c.day_start "
                f"AND t.write_seq = c.write_seq")
    if name == "readings":
        return f"SELECT {_select(name)} FROM {scan}"
    if name == "runs":   # files written before reason was typed hold a NULL-typed column
        return f"SELECT {_select(name).replace(chr(34) + 'reason' + chr(34), 'CAST(reason AS VARCHAR) AS reason')} FROM {scan}"
    return f"SELECT {_select(name)} FROM {scan}"


def present_datasets(lake: Path) -> set[str]:
    """Datasets that have at least one file."""
    return {name for name, pattern in GLOBS.items() if next(lake.glob(pattern), None) is not None}


def create_views(con: duckdb.DuckDBPyConnection, lake: Path, present: set[str] | None = None) -> None:
    present = present_datasets(lake) if present is None else present
    for name in RELATIONS:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {view_sql(lake, name, present)}")


def memory_connection(home: Home) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the relations of DESIGN §6 over ``home``'s lake."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    create_views(con, home.lake)
    return con


class CatalogBusy(RuntimeError):
    """``thermaliq.duckdb`` is held by another process (e.g. a user's read-only session)."""


def _signature(lake: Path, present: set[str]) -> str:
    # v2: data_quality.outlier_points; v3: calculations.firing_hours, standby_hours, uncertainty and
    # CHP columns, uncertainty_budget; v4: emissions, baselines, baseline_results, co2e columns;
    # v5: pending writes left out (issue #16); a new version makes existing catalogs redefine
    # their views
    return f"v5|{lake}|{','.join(sorted(present))}"


def refresh_catalog(home: Home, *, attempts: int = 5, wait_s: float = 0.5) -> bool:
    """Make ``<home>/thermaliq.duckdb`` define the current views; return True if it was rewritten.

    Opens the file for writing only when the views must change, for as short as possible.

    Raises
    ------
    CatalogBusy
        When another process holds the file for every attempt; the existing views stay valid.
    """
    present = present_datasets(home.lake)
    signature = _signature(home.lake, present)
    if home.catalog.exists() and _read_signature(home.catalog) == signature:
        return False
    home.root.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            con = duckdb.connect(str(home.catalog))
        except duckdb.IOException as exc:  # lock held by another process
            last = exc
            time.sleep(wait_s * (attempt + 1))
            continue
        try:
            con.execute("BEGIN")
            create_views(con, home.lake, present)
            con.execute("CREATE OR REPLACE TABLE thermaliq_catalog AS SELECT ? AS signature", [signature])
            crash_point("catalog.refresh")
            con.execute("COMMIT")
        finally:
            con.close()
        return True
    raise CatalogBusy(f"{home.catalog} is open in another process ({last}); the existing views "
                      "stay valid and will be refreshed by the next run")


def _read_signature(path: Path) -> str | None:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("SELECT signature FROM thermaliq_catalog").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()
