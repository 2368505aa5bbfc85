"""Consistent reads (issue #16): the views never show a result whose write is pending, and result
versions are ordered by a counter taken under the facility's lock, not by the clock.

The crash is the test hook of :mod:`thermaliq.store.testhooks` (``os._exit(137)``, as ``kill -9``)
at ``lake.write:11`` of a backfill of three one-day windows (see tests/test_crash_safety.py for the
order of writes): the first window's ``calculations`` file is in place, its ``stream_energies``
file is not, and its pending marker stays behind. That is the state a reader meets both during a
write (frozen at that instant) and after a crash until the facility's next run.
"""
from __future__ import annotations

import os
import time

import duckdb
import pandas as pd
import pytest

from tests.runs import start_cli
from tests.test_crash_safety import ARGS, _make_home
from thermaliq.store import catalog, lake, liveness, sequence

pytestmark = [pytest.mark.flow, pytest.mark.slow]


def test_write_counter_counts_up_without_the_clock(tmp_path, monkeypatch):
    """A new lake counts 1, 2, 3; a lake whose files carry the former wall-clock numbers goes on
    above the highest of them; a clock stepped back by a day changes nothing."""
    monkeypatch.setattr(time, "time_ns", lambda: 1)          # any use of the clock would show
    assert [sequence.next_write_seq(tmp_path, "F") for _ in range(3)] == [1, 2, 3]
    assert sequence.next_write_seq(tmp_path, "G") == 1      # one counter per facility
    old = tmp_path / "calculations" / "facility_id=H" / "month=2024-05" / f"{1733130000000000000:020d}.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    assert sequence.next_write_seq(tmp_path, "H") == 1733130000000000001
    assert sequence.next_write_seq(tmp_path, "H") == 1733130000000000002


def test_next_write_seq_survives_a_damaged_counter(tmp_path):
    sequence.next_write_seq(tmp_path, "F")
    sequence.counter_path(tmp_path, "F").write_text("garbage")
    old = tmp_path / "alerts" / "facility_id=F" / "month=2024-05" / f"{41:020d}.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    assert sequence.next_write_seq(tmp_path, "F") == 42


def test_only_runs_whose_process_is_gone_become_crashed(home):
    """Three ``running`` rows: one whose liveness lock this process holds (alive), one whose lock
    file is left but unheld (its process died), one without a lock file (started before locks
    existed, or its file was removed): the last two become ``crashed``, a completed run stays."""
    from thermaliq.store.runs import record_run

    t0 = pd.Timestamp("2026-03-01 02:00", tz="UTC")
    for run_id in ("alive", "dead", "no-lock", "done"):
        record_run(home, run_id, "backfill", {}, status="completed" if run_id == "done" else "running",
                   started_at=t0)
    held = liveness.hold(home.lake, "alive")
    os.close(os.open(liveness.lock_path(home.lake, "dead"), os.O_CREAT | os.O_RDWR))   # unheld file
    try:
        assert liveness.is_alive(home.lake, "alive") and not liveness.is_alive(home.lake, "dead")
        assert liveness.reconcile_crashed(home, by="test", now=t0) == ["dead", "no-lock"]
        rows = dict(catalog.memory_connection(home).execute("SELECT run_id, status FROM runs").fetchall())
        assert rows == {"alive": "running", "dead": "crashed", "no-lock": "crashed", "done": "completed"}
        assert liveness.reconcile_crashed(home, by="test") == []          # once is enough
    finally:
        liveness.release(home.lake, "alive", held)


def _pending_seq(home) -> int:
    (marker,) = [p for p in (home.lake / "_pending").rglob("*") if p.is_file()]
    return int(marker.name)


def test_a_reader_never_sees_a_pending_write(prefect_harness, tmp_path):
    """After a kill -9 half-way through the first window's result files, neither the in-memory
    views nor ``thermaliq.duckdb`` show any row of that write, although its calculations file is
    on disk; once the write is complete (its marker gone) the same rows show, so it is the
    pending marker that hides them. The next run rolls the write back and stores the window."""
    home = _make_home(tmp_path / "home")
    proc = start_cli(*ARGS, "--home", str(home.root), THERMALIQ_WINDOW_DAYS="1",
                     THERMALIQ_CRASH_AT="lake.write:11", THERMALIQ_PROCESSES="1")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 137, err[-2000:]
    seq = _pending_seq(home)
    on_disk = list(home.lake.glob(f"calculations/*/*/{seq:020d}.parquet"))
    assert on_disk, "the crash should leave the pending write's calculations file in place"
    on_disk_rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{on_disk[0]}')").fetchone()[0]
    assert on_disk_rows > 0

    def rows_of(con, relation: str) -> int:
        return con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]   # the only write: seq

    con = catalog.memory_connection(home)
    assert rows_of(con, "calculations") == 0             # no day, interval or month of the write
    assert rows_of(con, "data_quality") == 0
    catalog.refresh_catalog(home)
    users = duckdb.connect(str(home.catalog), read_only=True)   # as an engineer opens it
    try:
        assert rows_of(users, "calculations") == 0
    finally:
        users.close()

    marker = next(p for p in (home.lake / "_pending").rglob("*") if p.is_file())
    os.rename(marker, marker.with_name("moved-away"))   # as if the write had completed
    try:
        assert rows_of(catalog.memory_connection(home), "calculations") == on_disk_rows
    finally:
        os.rename(marker.with_name("moved-away"), marker)

    (killed,) = [p.stem for p in (home.lake / "runs").glob("*.parquet")]
    assert catalog.memory_connection(home).execute("SELECT status FROM runs").fetchone()[0] == "running"
    assert liveness.reconcile_crashed(home, by="test") == [killed]   # the next run or check-config
    status, reason = catalog.memory_connection(home).execute("SELECT status, reason FROM runs").fetchone()
    assert status == "crashed" and "ended without recording an end" in reason

    with lake.facility_lock(home.lake, "BOILER-1"):   # what the next run does first
        assert lake.rollback_pending(home.lake, "BOILER-1") >= 1
    assert not list(home.lake.glob(f"calculations/*/*/{seq:020d}.parquet"))
