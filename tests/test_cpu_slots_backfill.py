"""Two concurrent ``thermaliq backfill`` processes never have more live worker processes than the
machine has cores (issue #16, Done when).

Two real CLI backfills run at once on one home (``tests/runs.py``: subprocesses reporting to the
session's Prefect API on 127.0.0.1), each asking for as many worker processes as there are cores
(``THERMALIQ_PROCESSES``), so that together they would start twice that many. A sampler thread
walks ``/proc`` every few milliseconds and counts each CLI's worker processes (the children of
the multiprocessing fork server the CLI started). Both runs must finish with the hand-worked
results of issue #2, never with more live workers than cores, and each with at least one worker
(so the count is of something real). The control run gives the machine twice as many CPU slots as
cores: then the same sampler sees more workers than cores, so the limit is what keeps them down.
"""
from __future__ import annotations

import os
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_no_duplicates, snapshot, start_cli
from thermaliq.home import Home

pytestmark = [pytest.mark.flow, pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]

VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FIRST, LAST = date(2024, 5, 31), date(2024, 6, 2)       # three days across a month boundary
CORES = os.cpu_count() or 1


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process readable in /proc."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":                # a zombie is no live process
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue                             # ended while we looked
        out[int(entry.name)] = (int(fields[1]), cmd)
    return out


def worker_counts(cli_pids: list[int]) -> list[int]:
    """Live worker processes of each CLI: children of a fork server that is the CLI's child."""
    procs = _processes()
    servers = {pid: parent for pid, (parent, cmd) in procs.items()
               if parent in cli_pids and "multiprocessing.forkserver" in cmd}
    counts = dict.fromkeys(cli_pids, 0)
    for parent, _ in procs.values():
        if parent in servers:
            counts[servers[parent]] += 1
    return [counts[p] for p in cli_pids]


class Sampler(threading.Thread):
    """Counts the CLIs' worker processes until stopped: most at once, in total and per CLI."""

    def __init__(self, cli_pids: list[int]):
        super().__init__(daemon=True)
        self.cli_pids, self.samples = cli_pids, []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append(worker_counts(self.cli_pids))
            time.sleep(0.005)

    def most(self) -> tuple[int, list[int]]:
        total = max(sum(s) for s in self.samples)
        each = [max(s[i] for s in self.samples) for i in range(len(self.cli_pids))]
        return total, each


def _home(root: Path) -> Home:
    home = Home.resolve(root)
    for fid in ("BOILER-1", "BOILER-2"):
        write_facility(home.root, constant_boiler_config(fid))
        write_daily_csv(home.root, fid, constant_readings(FIRST, LAST, "Europe/Berlin", VALUES,
                                                          freq="5min"))
    return home


def _two_backfills(home: Home, slots_dir: Path, cpu_slots: int) -> tuple[int, list[int]]:
    """Backfill BOILER-1 and BOILER-2 over every day, and BOILER-2 over the last two, at once;
    return the most worker processes seen at once (all, and per run)."""
    env = dict(THERMALIQ_PROCESSES=str(CORES), THERMALIQ_CPU_SLOTS=str(cpu_slots),
               THERMALIQ_SLOTS_DIR=str(slots_dir))
    h = str(home.root)
    procs = [start_cli("backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(),
                       "--home", h, **env),
             start_cli("backfill", "--start", "2024-06-01", "--end", LAST.isoformat(), "--home", h,
                       "--facility", "BOILER-2", **env)]
    sampler = Sampler([p.pid for p in procs])
    sampler.start()
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        sampler.done.set()
        sampler.join()
        for p in procs:
            if p.poll() is None:
                p.kill()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{proc.args}: {err[-3000:]}"
    print("most worker processes at once (all, per run):", *sampler.most())
    return sampler.most()


def _assert_results(home: Home) -> None:
    """Issue #2's hand-worked boiler: every day 79.87 %, every reading stored once."""
    snap = snapshot(home)
    assert_no_duplicates(snap)
    days = 3
    assert len(snap["readings"]) == 2 * 4 * days * 288
    calc = snap["calculations"]
    day_rows = calc[calc["granularity"] == "day"]
    assert sorted(day_rows.groupby("facility_id").size().items()) == [("BOILER-1", days), ("BOILER-2", days)]
    assert day_rows["efficiency_percent"].to_numpy() == pytest.approx(79.87, abs=0.03)
    assert (day_rows["data_quality_score"] == 1.0).all()


def test_worker_counts_finds_the_fork_server_children_of_a_process():
    """The sampler's rule on this test process: a pool of two started here shows two workers."""
    from tasks.pool.slots import CpuSlots, SlottedProcessPool
    import multiprocessing
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        pool = SlottedProcessPool(2, multiprocessing.get_context("forkserver"), CpuSlots(Path(folder), 2))
        try:
            list(pool.map(time.sleep, [0.3, 0.3]))
            assert worker_counts([os.getpid()]) == [len(pool.worker_pids())] == [2]
        finally:
            pool.shutdown(wait=True)
        assert worker_counts([os.getpid()]) == [0]


def test_two_backfills_never_have_more_worker_processes_than_cores(prefect_harness, tmp_path):
    home = _home(tmp_path / "home")
    most, each = _two_backfills(home, tmp_path / "slots", CORES)
    assert most <= CORES, f"{most} worker processes at once on {CORES} cores"
    assert all(n >= 1 for n in each), f"each run should have had a worker: {each}"
    _assert_results(home)


def test_without_the_limit_the_same_backfills_start_more_workers_than_cores(prefect_harness, tmp_path):
    """Control: twice as many slots as cores, so the limit does not bind."""
    home = _home(tmp_path / "home")
    most, each = _two_backfills(home, tmp_path / "slots", 2 * CORES)
    assert most > CORES, f"{most} worker processes at once ({each}); the control should exceed {CORES}"
    _assert_results(home)
