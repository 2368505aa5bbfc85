"""Concurrent runs on one home: two backfills over overlapping days and a nightly run at once,
while a user holds ``thermaliq.duckdb`` open read-only (DESIGN §2: users and concurrent runs never
fail on DuckDB's lock; each facility's partitions have one writer at a time, lake.facility_lock).
"""
from __future__ import annotations

import subprocess
import sys
from datetime import date

import duckdb
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_no_duplicates, snapshot, start_cli
from thermaliq.store import catalog

pytestmark = [pytest.mark.flow, pytest.mark.slow]

VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FIRST, LAST = date(2024, 5, 30), date(2024, 6, 1)


def _hold_read_only(path) -> subprocess.Popen:
    """A user's session: ``duckdb.connect(catalog, read_only=True)`` kept open."""
    code = ("import duckdb, sys, time\n"
            f"con = duckdb.connect({str(path)!r}, read_only=True)\n"
            "con.execute('SELECT count(*) FROM calculations').fetchall()\n"
            "print('open', flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_two_backfills_and_a_nightly_at_once_with_a_reader(prefect_harness, home):
    """Hand-worked expectation as in tests/test_flows.py: every day 79.87 % (issue #2 boiler),
    every reading stored once (3 local days of 5-minute readings = 864 per tag)."""
    write_facility(home.root, constant_boiler_config())
    write_daily_csv(home.root, "BOILER-1",
                    constant_readings(FIRST, LAST, "Europe/Berlin", VALUES, freq="5min"))
    catalog.refresh_catalog(home)          # the catalog exists (empty views) before the user opens it
    reader = _hold_read_only(home.catalog)
    try:
        h = str(home.root)
        procs = [start_cli("backfill", "--start", "2024-05-30", "--end", "2024-06-01", "--home", h),
                 start_cli("backfill", "--start", "2024-05-31", "--end", "2024-06-01", "--home", h,
                           THERMALIQ_WINDOW_DAYS="1"),
                 start_cli("run", "--date", "2024-05-31", "--home", h)]
        outputs = [p.communicate(timeout=300) for p in procs]
        assert reader.poll() is None, "the user's read-only session must survive the runs"
    finally:
        reader.kill()
        reader.wait()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{proc.args}: {err[-3000:]}"

    # the user's session really held the catalog: a run met it and went on (CatalogBusy warning)
    assert any("is open in another process" in err for _, err in outputs)

    snap = snapshot(home)
    assert_no_duplicates(snap)
    readings = snap["readings"]
    assert len(readings) == 4 * 864 and readings.groupby("tag").size().eq(864).all()
    calc = snap["calculations"]
    days = calc[calc["granularity"] == "day"]
    assert len(days) == 3
    assert days["efficiency_percent"].to_numpy() == pytest.approx(79.87, abs=0.03)  # issue #2
    assert (days["data_quality_score"] == 1.0).all()
    assert len(calc[calc["granularity"] == "interval"]) == 3 * 96
    months = calc.loc[calc["granularity"] == "month", "period_start"].dt.tz_convert("Europe/Berlin")
    assert sorted(months.dt.month) == [5, 6]
    assert len(snap["stream_energies"].query("granularity == 'day'")) == 3 * 2
    assert len(snap["data_quality"]) == 3 * 4          # one row per tag and day, current only
    # nothing half-done is left behind by the runs
    assert not [p for p in (home.lake / "_pending").rglob("*") if p.is_file()]
    assert not list(home.lake.rglob(".*.tmp"))
    # the catalog is refreshed by a later run once the user has closed it
    catalog.refresh_catalog(home)
    con = duckdb.connect(str(home.catalog), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM calculations "
                        "WHERE is_current AND granularity = 'day'").fetchone()[0]
        runs = con.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    finally:
        con.close()
    assert n == 3 and runs == 3
