"""One machine, several runs: live worker processes never exceed the machine's CPU slots (issue #16).

Two processes stand for two concurrent flow runs (each with its own
:class:`tasks.pool.WorkerPool` wanting as many worker processes as there are cores, as the CLI or
a Prefect worker's flow-run subprocess has). Each submits sleeping jobs that record when they ran;
together they would run twice as many jobs at once as there are cores, and the shared CPU slots
(``Settings.cpu_slots``, default ``os.cpu_count()``), each held by one live worker process, keep
them at the number of cores. The slot pool itself is tested below; two real ``thermaliq
backfill`` processes are in tests/test_cpu_slots_backfill.py.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tasks.pool.slots import PARENT_POLL_S, CpuSlots, SlottedProcessPool

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys
from tasks.pool import worker_pool, shutdown
from thermaliq.settings import load_settings
from tests.cpu_slot_job import timed_sleep
pool = worker_pool(load_settings(processes={cores}, cpu_slots={slots}, slots_dir=sys.argv[1]))
futures = [pool.submit(timed_sleep, sys.argv[2], 0.6) for _ in range({jobs})]
[f.result() for f in futures]
shutdown()
"""


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an end before a start at the same instant)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def test_max_overlap_hand_worked():
    """[0,2] [1,3] [2.5,4]: two open at t=1..2 and t=2.5..3, never three."""
    assert _max_overlap([(0, 2), (1, 3), (2.5, 4)]) == 2


def _two_runs(tmp_path: Path, cores: int, slots: int) -> list[tuple[float, float]]:
    """Start two runs at once, each with ``cores`` worker processes and ``2 * cores`` jobs."""
    jobs = 2 * cores
    records, folder = tmp_path / f"records-{slots}", tmp_path / f"slots-{slots}"
    records.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = RUN.format(cores=cores, slots=slots, jobs=jobs)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(folder), str(records)], cwd=ROOT,
                              env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    intervals = [tuple(map(float, p.read_text().split())) for p in records.iterdir()]
    assert len(intervals) == 2 * jobs
    return intervals


def test_two_runs_never_run_more_jobs_than_cores(tmp_path):
    """With the default (one slot per core) at most ``cores`` jobs run at once; the control with
    twice the slots shows that the two runs do overlap beyond that when nothing stops them."""
    cores = os.cpu_count() or 1
    assert _max_overlap(_two_runs(tmp_path, cores, cores)) <= cores
    assert _max_overlap(_two_runs(tmp_path, cores, 2 * cores)) > cores


def test_a_slot_is_free_again_when_its_holder_releases_it(tmp_path):
    slots = CpuSlots(tmp_path, 1)
    fd = slots.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire()))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not got, "a second holder of the only slot"
    CpuSlots.release(fd)
    waiter.join(5)
    assert got
    CpuSlots.release(got[0])


def test_slots_need_at_least_one(tmp_path):
    with pytest.raises(ValueError, match="n must be"):
        CpuSlots(tmp_path, 0)


def _pool(folder: Path, processes: int, slots: int) -> SlottedProcessPool:
    return SlottedProcessPool(processes, multiprocessing.get_context("forkserver"), CpuSlots(folder, slots))


def test_a_pool_starts_a_worker_only_for_a_free_slot(tmp_path):
    """Another process's worker holds one of two slots: a pool of two starts one worker, runs all
    its jobs on it, and grows to two once the slot is free; its workers hold the slots until they
    end (shutdown), not the pool's process."""
    slots = CpuSlots(tmp_path, 2)
    other = slots.acquire()
    pool = _pool(tmp_path, 2, 2)
    try:
        assert list(pool.map(abs, [-1, -2, -3, -4])) == [1, 2, 3, 4]
        assert len(pool.worker_pids()) == 1 and slots.held() == 2
        CpuSlots.release(other)
        assert slots.held() == 1                       # the pool's worker holds its own
        futures = [pool.submit(time.sleep, 0.3) for _ in range(2)]
        [f.result() for f in futures]
        assert len(pool.worker_pids()) == 2 and slots.held() == 2
    finally:
        pool.shutdown(wait=True)
    assert slots.held() == 0


KILLED_RUN = """
import sys, time, multiprocessing
from pathlib import Path
from tasks.pool.slots import CpuSlots, SlottedProcessPool
pool = SlottedProcessPool(2, multiprocessing.get_context("forkserver"), CpuSlots(Path(sys.argv[1]), 2))
[f.result() for f in [pool.submit(time.sleep, 0.3) for _ in range(2)]]
print(*pool.worker_pids(), flush=True)
time.sleep(600)
"""


def test_the_workers_of_a_killed_run_end_and_free_their_slots(tmp_path):
    """kill -9 of a flow-run process: its workers (which would live on, idle) end within the
    parent poll and the kernel frees their slots, so the next run gets them."""
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and CpuSlots(tmp_path, 2).held() == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20 * PARENT_POLL_S + 5
        while time.monotonic() < deadline and any(_runs(pid) for pid in workers):
            time.sleep(0.05)
        assert not any(_runs(pid) for pid in workers), "a worker outlived its killed run"
        assert CpuSlots(tmp_path, 2).held() == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _runs(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def test_an_idle_run_gives_its_slots_back(tmp_path):
    """A run whose jobs are done ends its workers after IDLE_S, so a run started later is not
    kept waiting by a process that merely lives on (a test session, a served flow's process)."""
    from tasks.pool import shutdown, worker_pool
    from tasks.pool.slots import IDLE_S
    from tests.cpu_slot_job import timed_sleep
    from thermaliq.settings import load_settings

    slots = CpuSlots(tmp_path / "slots", 2)
    pool = worker_pool(load_settings(processes=2, cpu_slots=2, slots_dir=tmp_path / "slots"))
    records = tmp_path / "records"
    records.mkdir()
    try:
        [f.result() for f in [pool.submit(timed_sleep, str(records), 0.3) for _ in range(2)]]
        assert slots.held() >= 1
        deadline = time.monotonic() + IDLE_S + 10
        while time.monotonic() < deadline and slots.held():
            time.sleep(0.05)
        assert slots.held() == 0
        assert pool.submit(abs, -3).result(timeout=60) == 3       # new workers on demand
    finally:
        shutdown()
