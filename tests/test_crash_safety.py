"""kill -9 at chosen points of a backfill, then a rerun: the results equal an uninterrupted run's.

The crash is the test hook of :mod:`thermaliq.store.testhooks` (``os._exit(137)``, which skips every
``finally`` and flush like SIGKILL) at a deterministic point: during ingest, half-way through
a window's result files, inside the catalog transaction and while a report page is written. The
backfill runs as the real CLI in a subprocess against the session's Prefect test server; the
rerun and the uninterrupted reference run in-process.

Order of the lake's Parquet writes in a run of this home (one-day windows): 1 run record;
2-8 readings days and the quarantine file of the four source files; 9 ingest ledger; 10-14 first
window (calculations, stream energies, data quality, then month calculations and energies);
15-19 second window; 20-24 third window; 25 run record.
"""
from __future__ import annotations

import re
from datetime import date

import duckdb
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_no_duplicates, assert_same_results, snapshot, start_cli
from thermaliq.home import Home

pytestmark = [pytest.mark.flow, pytest.mark.slow]

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


POINTS = [   # (counts of a run of this home: see the order of writes in the docstring)
    "lake.write:3",       # ingest: quarantine file of the first source complete, not renamed
    "lake.write:11",      # first window: its calculations file is in place, stream energies not
    "lake.write:19",      # second window's month recomputation: month calculations in, energies not
    "catalog.refresh:1",  # thermaliq.duckdb transaction open, views not committed
    "report.write:2",     # a report page half-written
]


def _backfill(home: Home, monkeypatch) -> None:
    from flows.backfill import backfill

    monkeypatch.setenv("THERMALIQ_WINDOW_DAYS", "1")   # one task per day: many partition writes
    backfill(start=FIRST.isoformat(), end=LAST.isoformat(), home=str(home.root))


@pytest.fixture(scope="module")
def crashed(prefect_harness, tmp_path_factory) -> dict[str, Home]:
    """One home per crash point, each killed by the CLI run's crash hook (run side by side)."""
    homes, procs = {}, {}
    for point in POINTS:
        homes[point] = _make_home(tmp_path_factory.mktemp("crash") / "home")
        # one process: the crash point counts every write of the run (worker processes: below)
        procs[point] = start_cli(*ARGS, "--home", str(homes[point].root), THERMALIQ_WINDOW_DAYS="1",
                                 THERMALIQ_CRASH_AT=point, THERMALIQ_PROCESSES="1")
    for point, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 137, f"the crash point {point} was not reached: {err[-2000:]}"
    return homes


@pytest.fixture(scope="module")
def reference(prefect_harness, tmp_path_factory):
    """An uninterrupted run (in-process) of the same home."""
    home = _make_home(tmp_path_factory.mktemp("ref") / "home")
    with pytest.MonkeyPatch.context() as mp:
        _backfill(home, mp)
    snap = snapshot(home)
    assert len(snap["calculations"].query("granularity == 'day'")) == 3
    assert len(snap["calculations"].query("granularity == 'month'")) == 2
    assert len(snap["quarantine"]) == 1
    return snap


@pytest.mark.parametrize("point", POINTS)
def test_kill_then_rerun_gives_the_uninterrupted_results(crashed, reference, point, monkeypatch):
    home = crashed[point]
    if point.startswith("lake.write"):
        # the crash left real debris: a temporary file that was never renamed into place
        assert list(home.lake.rglob(".*.tmp")), "the crash should have left a temporary file"
    if point in ("lake.write:11", "lake.write:19"):
        assert list((home.lake / "_pending").rglob("*")), "a result write should be half done"

    _backfill(home, monkeypatch)    # the rerun
    snap = snapshot(home)
    assert_same_results(snap, reference)
    assert_no_duplicates(snap)
    pending = [p for p in (home.lake / "_pending").rglob("*") if p.is_file()]
    assert not pending, "an interrupted write was not rolled back"
    assert not list((home.lake / "readings").rglob(".*.tmp"))
    assert (home.reports / "index.html").exists()
    con = duckdb.connect(str(home.catalog), read_only=True)   # the catalog users open is whole
    try:
        n = con.execute("SELECT count(*) FROM calculations "
                        "WHERE is_current AND granularity = 'day'").fetchone()[0]
    finally:
        con.close()
    assert n == 3


def test_crash_hook_is_inert_without_its_variable(monkeypatch):
    """Without THERMALIQ_CRASH_AT (or for another point) the hook does nothing."""
    from thermaliq.store import testhooks

    monkeypatch.delenv(testhooks.ENV, raising=False)
    testhooks.crash_point("lake.write")
    monkeypatch.setenv(testhooks.ENV, "report.write:1")
    testhooks.crash_point("lake.write")


def test_rollback_removes_the_files_of_an_interrupted_write(tmp_path):
    """A pending marker left by a dead writer: its files go, other versions stay."""
    import pandas as pd

    from thermaliq.store import lake

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


def test_a_killed_worker_process_fails_its_task_and_a_rerun_completes(prefect_harness, reference,
                                                                      tmp_path, monkeypatch):
    """With worker processes (THERMALIQ_PROCESSES=2) the ingest job's worker is killed at its
    third write (the flow process itself writes only the two run records): the flow ends
    Failed naming the dead worker, nothing half-written is visible, and a rerun completes."""
    home = _make_home(tmp_path / "home")
    proc = start_cli(*ARGS, "--home", str(home.root), THERMALIQ_WINDOW_DAYS="1",
                     THERMALIQ_CRASH_AT="lake.write:3", THERMALIQ_PROCESSES="2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-2000:]
    assert "WorkerDied" in out + err and re.search(r"running ingest_\w+\(", out + err)
    _backfill(home, monkeypatch)    # the rerun
    snap = snapshot(home)
    assert_same_results(snap, reference)
    assert_no_duplicates(snap)
