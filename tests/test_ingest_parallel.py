"""A facility's many files read side by side (thermaliq.pipeline.ingest_many) give the serial lake.

Both ingests see the same files (hard links, so the same modification times) and the same
ingest time, so every lake file is compared byte for byte: readings partitions, quarantine
files and the ledger. The inbox holds what makes the order of files matter: two files with
conflicting values for the same tag and instant (the rule keeps the smallest source name's,
whichever file is read first), a file that only completes a day, rejects and an empty file.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from concurrent.futures import Executor, Future
from datetime import date

from tasks.pool import WorkerDied, shutdown, worker_pool
from tests.helpers import constant_boiler_config, write_facility
from thermaliq.pipeline import ingest, ingest_many
from thermaliq.pipeline.outcomes import IngestOutcome
from thermaliq.config import load_facility
from thermaliq.home import Home
from thermaliq.settings import load_settings

FID = "BOILER-1"
NOW = pd.Timestamp("2025-01-01", tz="UTC")
OLD_NS = 1_704_067_200 * 10**9                         # 2024-01-01T00:00:00Z


def _day(date: str, value: float, hours: range = range(24)) -> str:
    """Hourly FT-101 and PT-201 readings of one Chicago day (CDT, UTC-5) as ``Z`` instants."""
    start = pd.Timestamp(f"{date}T05:00:00Z")
    return "".join(f"{start + pd.Timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ},{tag},{value + h}\n"
                   for h in hours for tag in ("FT-101", "PT-201"))


HEADER = "timestamp,tag,value\n"
FILES = {
    "0-early.csv": HEADER + _day("2024-06-02", 7.0, range(3)),     # conflicts with day 2: wins
    "2024-06-01.csv": HEADER + _day("2024-06-01", 1.0),
    "2024-06-02.csv": HEADER + _day("2024-06-02", 2.0),
    "2024-06-02-late.csv": HEADER + _day("2024-06-02", 9.0, range(20, 22)),   # conflicts: loses
    "2024-06-03.csv": HEADER + _day("2024-06-03", 3.0).replace(",3.0\n", ",n/a\n", 1)
                      + "2024-06-03T06:00:00Z,XX-9,1\n",
    "2024-06-04-a.csv": HEADER + _day("2024-06-04", 4.0, range(12)),
    "2024-06-04-b.csv": HEADER + _day("2024-06-04", 4.0, range(12, 24)),   # completes the day
    "2024-06-05.csv": "",                                                   # unreadable
    "2024-06-06.csv": HEADER + _day("2024-06-06", 6.0),
}


def _inbox(root: Path, names) -> Path:
    inbox = root / "source"
    inbox.mkdir(parents=True, exist_ok=True)
    for name in names:
        (inbox / name).write_text(FILES[name])
        os.utime(inbox / name, ns=(OLD_NS, OLD_NS))    # not "just modified" for either ingest
    return inbox


def _home(root: Path, inbox: Path) -> Home:
    home = Home.resolve(root)
    write_facility(home.root, constant_boiler_config(FID, timezone="America/Chicago"))
    target = home.root / "inbox" / FID
    target.mkdir(parents=True)
    for path in sorted(inbox.iterdir()):
        os.link(path, target / path.name)
    return home


def _lake_files(home: Home) -> dict[str, bytes]:
    return {str(p.relative_to(home.lake)): p.read_bytes() for p in sorted(home.lake.rglob("*"))
            if p.is_file() and p.relative_to(home.lake).parts[0] not in ("_locks", "_scratch")}


def _serial(home: Home, **kwargs) -> IngestOutcome:
    facility = load_facility(home.facility_file(FID))
    return IngestOutcome.of(ingest.ingest_files(home, facility, now=NOW, **kwargs))


def _facility(home: Home):
    return load_facility(home.facility_file(FID))


def _pool():
    """Two worker processes with the settings of now (the test's environment)."""
    return worker_pool(load_settings(processes=2))


@pytest.fixture()
def two_processes():
    yield
    shutdown()


@pytest.mark.parametrize("batch_rows", [None, 16])
def test_files_prepared_in_worker_processes_give_the_serial_lake(tmp_path, two_processes,
                                                                 monkeypatch, batch_rows):
    """Byte for byte, with the same summary (days in the order first stored), then again with
    ``force``; no scratch folder is left behind."""
    if batch_rows:
        monkeypatch.setenv("THERMALIQ_INGEST_BATCH_ROWS", str(batch_rows))
    inbox = _inbox(tmp_path, FILES)
    serial, parallel = _home(tmp_path / "serial", inbox), _home(tmp_path / "parallel", inbox)
    for force in (False, True):
        expected = _serial(serial, force=force)
        got = ingest_many.ingest_files_parallel(str(parallel.root), _facility(parallel), executor=_pool(),
                                                processes=2, force=force, now=NOW)
        assert got == expected
        assert _lake_files(parallel) == _lake_files(serial)
        assert not list((parallel.lake / "_scratch").iterdir())
    assert expected.file_errors == ("inbox/BOILER-1/2024-06-05.csv: empty file (no header line)",)
    assert got.days == ()                              # the forced rerun changed nothing


def test_new_files_after_stored_ones_and_conflicts_with_them(tmp_path):
    """A second delivery whose days partly are in the lake already (the late conflict and the
    second half of 4 June): files of stored days are read against the lake, in name order."""
    first = ["2024-06-01.csv", "2024-06-02.csv", "2024-06-04-a.csv"]
    inbox = _inbox(tmp_path, FILES)
    serial, parallel = _home(tmp_path / "serial", inbox), _home(tmp_path / "parallel", inbox)
    for home in (serial, parallel):           # the first delivery, read one way for both
        for path in sorted((home.root / "inbox" / FID).iterdir()):
            if path.name not in first:
                path.rename(home.root / path.name)
        _serial(home)
        for path in sorted(home.root.glob("*.csv")):
            path.rename(home.root / "inbox" / FID / path.name)
    assert _lake_files(parallel) == _lake_files(serial)
    expected = _serial(serial)
    got = ingest_many.ingest_files_parallel(str(parallel.root), _facility(parallel), executor=None,
                                            processes=2, now=NOW)
    assert got == expected and expected.sources_skipped == 3
    assert _lake_files(parallel) == _lake_files(serial)


def test_fewer_new_files_than_the_split_take_one_job(tmp_path):
    """One new file (the others in the ledger): read by the first job, as before the split."""
    inbox = _inbox(tmp_path, ["2024-06-01.csv", "2024-06-02.csv"])
    home = _home(tmp_path / "h", inbox)
    _serial(home)
    (home.root / "inbox" / FID / "2024-06-06.csv").write_text(FILES["2024-06-06.csv"])
    ran = []

    class Recording(Executor):
        def submit(self, fn, /, *args, **kwargs):
            ran.append(fn.__name__)
            future = Future()
            future.set_result(fn(*args, **kwargs))
            return future

    out = ingest_many.ingest_files_parallel(str(home.root), _facility(home), executor=Recording(),
                                            processes=2, now=NOW)
    assert ran == ["ingest_files_or_plan"]
    assert (out.sources_read, out.sources_skipped, out.days) == (1, 2, (date(2024, 6, 6),))


def test_a_dead_worker_fails_the_ingest_leaves_no_scratch_and_a_rerun_completes(
        tmp_path, two_processes, monkeypatch):
    """kill -9 (crash hook) at a worker's first lake write: WorkerDied, nothing in the lake's
    readings or ledger, the scratch folder removed; the rerun gives the serial lake."""
    inbox = _inbox(tmp_path, ["2024-06-01.csv", "2024-06-02.csv", "2024-06-06.csv"])
    serial, parallel = _home(tmp_path / "serial", inbox), _home(tmp_path / "parallel", inbox)
    monkeypatch.setenv("THERMALIQ_CRASH_AT", "lake.write:1")
    with pytest.raises(WorkerDied, match="ingest_prepare_files"):
        ingest_many.ingest_files_parallel(str(parallel.root), _facility(parallel), executor=_pool(),
                                          processes=2, now=NOW)
    assert not list((parallel.lake / "_scratch").iterdir())
    assert not (parallel.lake / "ingested").exists()
    monkeypatch.delenv("THERMALIQ_CRASH_AT")
    expected = _serial(serial)
    assert ingest_many.ingest_files_parallel(str(parallel.root), _facility(parallel), executor=_pool(),
                                             processes=2, now=NOW) == expected
    assert _lake_files(parallel) == _lake_files(serial)


def test_scratch_folders_of_killed_ingests_are_removed_and_live_ones_kept(tmp_path):
    """A folder whose lock file no process holds is removed; one whose lock is held stays."""
    from filelock import FileLock

    root = tmp_path / "_scratch"
    for name in ("ingest-A-dead", "ingest-A-live"):
        (root / name / "000000").mkdir(parents=True)
        (root / f"{name}.lock").touch()
    live = FileLock(str(root / "ingest-A-live.lock"))
    live.acquire()
    try:
        assert ingest_many.remove_abandoned(root) == 1
    finally:
        live.release()
    assert sorted(p.name for p in root.iterdir()) == ["ingest-A-live", "ingest-A-live.lock"]


def _fleet_home(root: Path, inbox: Path) -> Home:
    """BOILER-1 with every file of the inbox, BOILER-2 with one, BOILER-3 with one (it fails)."""
    home = _home(root, inbox)
    for fid, names in (("BOILER-2", ["2024-06-06.csv"]), ("BOILER-3", ["2024-06-01.csv"])):
        write_facility(home.root, constant_boiler_config(fid, timezone="America/Chicago"))
        (home.root / "inbox" / fid).mkdir(parents=True)
        for name in names:
            os.link(inbox / name, home.root / "inbox" / fid / name)
    return home


class _FailingFor(Executor):
    """The worker pool, except that every job of one facility fails with an OSError."""

    def __init__(self, pool: Executor, facility_id: str):
        self.pool, self.facility_id = pool, facility_id

    def submit(self, fn, /, *args, **kwargs):
        if any(getattr(a, "facility_id", None) == self.facility_id for a in args):
            future = Future()
            future.set_exception(OSError(f"{self.facility_id}: share unreachable"))
            return future
        return self.pool.submit(fn, *args, **kwargs)


def test_a_fleet_in_one_call_gives_each_facility_its_serial_lake_and_a_failure_its_own(
        tmp_path, two_processes):
    """Many files (prepared and committed), one file (the first job) and a facility whose jobs
    fail, all in one call: the lake of the serial ingests of the first two, byte for byte, the
    same outcomes, and the third's error in its own future."""
    inbox = _inbox(tmp_path, FILES)
    serial, fleet = _fleet_home(tmp_path / "serial", inbox), _fleet_home(tmp_path / "fleet", inbox)
    expected = {fid: IngestOutcome.of(ingest.ingest_files(serial, load_facility(serial.facility_file(fid)),
                                                          now=NOW))
                for fid in ("BOILER-1", "BOILER-2")}
    facilities = {fid: load_facility(fleet.facility_file(fid))
                  for fid in ("BOILER-1", "BOILER-2", "BOILER-3")}
    got = ingest_many.ingest_fleet_files(str(fleet.root), facilities,
                                         executor=_FailingFor(_pool(), "BOILER-3"),
                                         processes=2, threads=2, now=NOW)
    assert list(got) == ["BOILER-1", "BOILER-2", "BOILER-3"] and all(f.done() for f in got.values())
    assert {fid: got[fid].result() for fid in expected} == expected
    with pytest.raises(OSError, match="BOILER-3: share unreachable"):
        got["BOILER-3"].result()
    assert _lake_files(fleet) == _lake_files(serial)
    assert not list((fleet.lake / "_scratch").iterdir())


def test_prepare_jobs_take_no_lock_on_their_scratch_lakes_and_write_the_locked_files(tmp_path):
    """A file's scratch lake is its prepare job's alone: no facility lock file is made there,
    and its partitions and quarantine files are the bytes ``ingest_file`` writes under the lock
    into a lake of its own, for each of the files (clean days, conflicts, a non-numeric value
    and an unconfigured tag, an unreadable file)."""
    inbox = _inbox(tmp_path, FILES)
    home = _home(tmp_path / "home", inbox)
    facility = _facility(home)
    plan = ingest_many.ingest_files_or_plan(str(home.root), facility, False, NOW, None)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    prepared = ingest_many.ingest_prepare_files(str(home.root), facility,
                                                ingest_many.FileBatch(plan.files), NOW, None,
                                                str(scratch))
    assert [p.kind for p in prepared.files] == [ingest_many.PREPARED] * len(FILES)
    quarantined = 0
    for p in prepared.files:
        own = Home(Path(p.scratch).parent)
        assert own.lake == Path(p.scratch) and not (own.lake / "_locks").exists()
        locked = Home(tmp_path / "locked" / own.root.name)
        ingest.ingest_file(locked, facility, Path(p.file.path), p.file.rel, NOW,
                           ingest.IngestSummary(FID), 1_000_000)
        assert (locked.lake / "_locks").exists()
        assert _lake_files(own) == _lake_files(locked) and _lake_files(own)
        quarantined += any(name.startswith("quarantine") for name in _lake_files(own))
    assert quarantined == 2
