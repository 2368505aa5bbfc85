"""Worker processes of the tasks (tasks/workers.py): jobs run elsewhere, see the task's settings,
bring their errors back intact, and a dead worker fails only its own job."""
from __future__ import annotations

import os
import pickle

import pytest

from tasks import workers
from thermaliq.errors import ConfigError, ConfigErrors, DataError, HistorianError


def _pid_and_setting(name: str) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get(name)


def _raise_data_error() -> None:
    raise DataError("value 'abc' is not a number", source="inbox/a.csv", row=7)


def _die() -> None:
    os._exit(137)            # as after kill -9


@pytest.fixture()
def two_processes(monkeypatch):
    monkeypatch.setenv(workers.ENV, "2")
    yield
    workers.shutdown()


def test_jobs_run_in_a_worker_with_the_tasks_current_settings(two_processes, monkeypatch):
    monkeypatch.setenv("THERMALIQ_TEST_SETTING", "first")
    pid, seen = workers.run(_pid_and_setting, "THERMALIQ_TEST_SETTING")
    assert pid != os.getpid() and seen == "first"
    monkeypatch.setenv("THERMALIQ_TEST_SETTING", "second")       # changed after the pool started
    assert workers.run(_pid_and_setting, "THERMALIQ_TEST_SETTING")[1] == "second"
    monkeypatch.delenv("THERMALIQ_TEST_SETTING")
    assert workers.run(_pid_and_setting, "THERMALIQ_TEST_SETTING")[1] is None


def test_errors_come_back_with_their_fields(two_processes):
    with pytest.raises(DataError) as exc:
        workers.run(_raise_data_error)
    assert (exc.value.source, exc.value.row) == ("inbox/a.csv", 7)
    assert str(exc.value) == "inbox/a.csv, row 7: value 'abc' is not a number"


def test_thermaliq_errors_pickle_with_their_fields():
    errors = pickle.loads(pickle.dumps(ConfigErrors([ConfigError("unknown key", file="F.yaml",
                                                                 field="streams[0].flw")])))
    assert [(e.file, e.field, e.message) for e in errors.errors] == [("F.yaml", "streams[0].flw", "unknown key")]
    assert pickle.loads(pickle.dumps(HistorianError("401", permanent=True))).permanent is True


def test_a_dead_worker_fails_its_job_only_and_the_pool_is_replaced(two_processes):
    with pytest.raises(workers.WorkerDied, match="_die"):
        workers.run(_die)
    assert workers.run(_pid_and_setting, "X")[0] != os.getpid()     # a new pool serves the next job


def test_one_process_runs_jobs_in_the_calling_thread(monkeypatch):
    monkeypatch.setenv(workers.ENV, "1")
    assert workers.run(_pid_and_setting, "X")[0] == os.getpid()
    monkeypatch.setenv(workers.ENV, "0")
    with pytest.raises(ValueError, match="THERMALIQ_PROCESSES"):
        workers.processes()


def test_waiting_jobs_start_urgent_first_then_in_order_then_in_arrival():
    """With every process busy, the waiting jobs get the next free process: a store (urgent)
    first, then by order (a plain job has the empty order), then as they came: the
    calculation of the earlier window before the later one although it came later."""
    import threading
    import time

    slots = workers._Slots()
    started: list[str] = []
    busy = slots.taken(1, (1, ""))
    busy.__enter__()                                   # the one process is busy

    def wait_for_slot(name: str, rank: tuple) -> None:
        with slots.taken(1, rank):
            started.append(name)

    waiting = [("plain", (1, "")), ("window 2025-02-01", (1, "2025-02-01")),
               ("window 2025-01-01", (1, "2025-01-01")), ("store", (0, ""))]
    threads = []
    for name, rank in waiting:
        threads.append(threading.Thread(target=wait_for_slot, args=(name, rank)))
        threads[-1].start()
        time.sleep(0.05)                               # arrival order is the list's order
    busy.__exit__(None, None, None)
    for t in threads:
        t.join(timeout=10)
    assert started == ["store", "plain", "window 2025-01-01", "window 2025-02-01"]
