"""Worker processes of the tasks (tasks/pool): an Executor whose jobs run elsewhere with the flow
run's settings, bring their errors back intact, and a dead worker fails only its own job."""
from __future__ import annotations

import os
import pickle
import time
from concurrent.futures import Executor, Future

import pytest

from tasks.pool import WorkerDied, WorkerPool, shutdown, worker_pool
from tasks.pool import workers
from thermaliq.errors import ConfigError, ConfigErrors, DataError, HistorianError
from thermaliq.settings import load_settings


def _pid_and_settings() -> tuple[int, int, str | None]:
    settings = load_settings()
    return os.getpid(), settings.ingest_batch_rows, settings.crash_at


def _raise_data_error() -> None:
    raise DataError("value 'abc' is not a number", source="inbox/a.csv", row=7)


def _die() -> None:
    os._exit(137)            # as after kill -9


def _pool(**settings) -> WorkerPool:
    return worker_pool(load_settings(processes=2, **settings))


@pytest.fixture()
def two_processes():
    yield
    shutdown()


def test_jobs_run_in_a_worker_with_the_flow_runs_settings(two_processes, monkeypatch):
    """Each job carries the settings of its pool (its flow run), not those of the worker's start."""
    pool = _pool(ingest_batch_rows=7, crash_at="nowhere:1")
    assert isinstance(pool, Executor)
    pid, rows, crash_at = pool.submit(_pid_and_settings).result()
    assert pid != os.getpid() and (rows, crash_at) == (7, "nowhere:1")
    assert _pool(ingest_batch_rows=8).submit(_pid_and_settings).result()[1:] == (8, None)
    monkeypatch.setenv("THERMALIQ_INGEST_BATCH_ROWS", "9")                # read by load_settings()
    assert list(_pool().map(lambda *_: None, [])) == []
    assert _pool().submit(_pid_and_settings).result()[1:] == (9, None)


def test_errors_come_back_with_their_fields(two_processes):
    with pytest.raises(DataError) as exc:
        _pool().submit(_raise_data_error).result()
    assert (exc.value.source, exc.value.row) == ("inbox/a.csv", 7)
    assert str(exc.value) == "inbox/a.csv, row 7: value 'abc' is not a number"


def test_thermaliq_errors_pickle_with_their_fields():
    errors = pickle.loads(pickle.dumps(ConfigErrors([ConfigError("unknown key", file="F.yaml",
                                                                 field="streams[0].flw")])))
    assert [(e.file, e.field, e.message) for e in errors.errors] == [("F.yaml", "streams[0].flw", "unknown key")]
    assert pickle.loads(pickle.dumps(HistorianError("401", permanent=True))).permanent is True


def test_a_dead_worker_fails_its_job_only_and_the_pool_is_replaced(two_processes):
    with pytest.raises(WorkerDied, match="_die"):
        _pool().submit(_die).result()
    assert _pool().submit(_pid_and_settings).result()[0] != os.getpid()   # new processes serve the next job


def test_one_process_runs_jobs_in_the_calling_thread():
    pool = worker_pool(load_settings(processes=1))
    assert pool.submit(_pid_and_settings).result()[0] == os.getpid()
    with pytest.raises(DataError):
        pool.submit(_raise_data_error).result()        # the error is the future's, as in a process
    with pytest.raises(ConfigError, match="THERMALIQ_PROCESSES"):
        load_settings(processes=0)


def test_waiting_jobs_start_urgent_first_then_in_order_then_in_arrival():
    """With every process busy, the waiting jobs get the next free process: a store (urgent)
    first, then by order (a plain job has the empty order), then as they came: the
    calculation of the earlier window before the later one although it came later."""
    started: list[str] = []
    busy = Future()

    def start(job) -> Future:
        started.append(job.fn)
        if job.fn == "busy":
            return busy
        done = Future()
        done.set_result(job.fn)
        return done

    queue = workers._Queue(1, start)
    first = queue.put(workers.PLAIN, workers._Job(None, "busy", (), {}))
    deadline = time.monotonic() + 10
    while started != ["busy"] and time.monotonic() < deadline:   # the one process is busy
        time.sleep(0.01)
    waiting = [("plain", workers.PLAIN), ("window 2025-02-01", (1, "2025-02-01")),
               ("window 2025-01-01", (1, "2025-01-01")), ("store", workers.URGENT)]
    futures = [queue.put(rank, workers._Job(None, name, (), {})) for name, rank in waiting]
    busy.set_result("busy")                            # the one process is free again
    assert first.result(timeout=10) == "busy"
    assert [f.result(timeout=10) for f in futures] == [name for name, _ in waiting]
    assert started == ["busy", "store", "plain", "window 2025-01-01", "window 2025-02-01"]
