"""kill -9 at chosen points of a backfill, then a rerun: the results equal an uninterrupted run's.

The crash is the test hook of :mod:`thermaliq.testhooks` (``os._exit(137)``, which skips every
``finally`` and flush like SIGKILL) at a deterministic point: during ingest, half-way through
a window's result files, inside the catalog transaction and while a report page is written. The
backfill runs as the real CLI in a subprocess against the session's Prefect test server.
"""
from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_no_duplicates, assert_same_results, run_cli, snapshot
from thermaliq.home import Home

pytestmark = pytest.mark.flow

VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FIRST, LAST = date(2024, 5, 30), date(2024, 6, 1)       # three days across a month boundary
ARGS = ("backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat())


def _make_home(root) -> Home:
    home = Home.resolve(root)
    write_facility(home.root, constant_boiler_config())
    frame = constant_readings(FIRST, LAST, "Europe/Berlin", VALUES, freq="5min")
    frame["FT-101"] = frame["FT-101"].astype(object)
    frame.loc[frame.index[7], "FT-101"] = "n/a"           # one reject, so quarantine is exercised
    write_daily_csv(home.root, "BOILER-1", frame)
    return home


@pytest.fixture(scope="module")
def reference(prefect_harness, tmp_path_factory):
    """An uninterrupted run (windows of one day so that a run writes many partitions)."""
    home = _make_home(tmp_path_factory.mktemp("ref") / "home")
    done = run_cli(*ARGS, "--home", str(home.root), THERMALIQ_WINDOW_DAYS="1")
    assert done.returncode == 0, done.stderr[-3000:]
    snap = snapshot(home)
    assert len(snap["calculations"].query("granularity == 'day'")) == 3
    assert len(snap["calculations"].query("granularity == 'month'")) == 2
    assert len(snap["quarantine"]) == 1
    return snap


@pytest.mark.parametrize("point", [
    "lake.write:2",       # ingest: the second readings day is complete but not yet renamed
    "lake.write:7",       # inside the first window's result files (calculations written, rest not)
    "lake.write:12",      # inside the second window's writes, after a month recomputation
    "catalog.refresh:1",  # thermaliq.duckdb transaction open, views not committed
    "report.write:2",     # a report page half-written
])
def test_kill_then_rerun_gives_the_uninterrupted_results(reference, tmp_path, point):
    home = _make_home(tmp_path / "home")
    crashed = run_cli(*ARGS, "--home", str(home.root), THERMALIQ_WINDOW_DAYS="1",
                      THERMALIQ_CRASH_AT=point)
    assert crashed.returncode == 137, f"the crash point {point} was not reached: {crashed.stderr[-2000:]}"
    if point.startswith("lake.write"):
        # the crash left real debris: a temporary file that was never renamed into place
        assert list(home.lake.rglob(".*.tmp")), "the crash should have left a temporary file"

    again = run_cli(*ARGS, "--home", str(home.root), THERMALIQ_WINDOW_DAYS="1")
    assert again.returncode == 0, again.stderr[-3000:]
    snap = snapshot(home)
    assert_same_results(snap, reference)
    assert_no_duplicates(snap)
    assert not list((home.lake / "_pending").rglob("*0")), "an interrupted write was not rolled back"
    assert not list((home.lake / "readings").rglob(".*.tmp"))
    assert (home.reports / "index.html").exists()
    # the catalog users open is complete again
    import duckdb
    con = duckdb.connect(str(home.catalog), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM calculations WHERE is_current AND granularity = 'day'").fetchone()[0]
    finally:
        con.close()
    assert n == 3


def test_crash_hook_is_inert_without_its_variable(monkeypatch):
    """Without THERMALIQ_CRASH_AT (or for another point) the hook does nothing."""
    from thermaliq import testhooks

    monkeypatch.delenv(testhooks.ENV, raising=False)
    testhooks.crash_point("lake.write")
    monkeypatch.setenv(testhooks.ENV, "report.write:1")
    testhooks.crash_point("lake.write")


def test_rollback_removes_the_files_of_an_interrupted_write(tmp_path):
    """A pending marker left by a dead writer: its files go, other versions stay."""
    import pandas as pd

    from thermaliq import lake

    df = pd.DataFrame({"x": [1.0]})
    kept = lake.write_result(tmp_path, "calculations", "F", "2024-05", df, "1".zfill(20))
    marker = tmp_path / "_pending" / "facility_id=F" / "2".zfill(20)
    marker.parent.mkdir(parents=True)
    marker.touch()
    partial = [lake.write_result(tmp_path, ds, "F", m, df, "2".zfill(20))
               for ds, m in (("calculations", "2024-05"), ("stream_energies", "2024-06"))]
    stale = tmp_path / "readings" / "facility_id=F" / "date=2024-05-01" / ".part-0.parquet.abc.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    assert lake.rollback_pending(tmp_path, "F") == 3
    assert kept.exists() and not any(p.exists() for p in partial)
    assert not marker.exists() and not stale.exists()
