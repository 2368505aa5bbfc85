"""The CPU-heavy jobs on a Dask cluster (issue #19): ``THERMALIQ_EXECUTOR=dask://host:port``.

A real ``distributed.LocalCluster`` on 127.0.0.1 (worker processes, one thread each) stands in for
a cluster; the backfill's results through it must equal those of the local worker processes,
relation by relation, and the window and store jobs must really have run on the cluster.
"""
from __future__ import annotations

import shutil
from datetime import date

import distributed
import pytest

from tasks.pool import worker_pool
from tasks.pool.cluster import ClusterPool, close_clients, order_priority, scheduler_address
from tests.runs import assert_no_duplicates, assert_same_results, run_cli, snapshot
from thermaliq.demo.build import make_demo_home
from thermaliq.errors import ConfigError
from thermaliq.home import Home
from thermaliq.settings import load_settings



@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local
        close_clients()           # before the scheduler goes: no reconnect attempts


def _dask(cluster) -> str:
    return "dask://" + cluster.scheduler_address.removeprefix("tcp://")


def _window_days() -> int:
    return load_settings().window_days


def _fail(message: str):
    raise ValueError(message)


def test_executor_setting_names_a_scheduler_or_local():
    assert load_settings().executor == "local"
    assert scheduler_address("dask://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    with pytest.raises(ConfigError, match="THERMALIQ_EXECUTOR"):
        load_settings(executor="http://10.0.0.5:8786")


def test_earlier_windows_rank_before_later_ones_and_all_below_store_jobs():
    assert order_priority("2025-01-01") > order_priority("2025-01-02") > 0
    assert order_priority("not a day") == 0


def test_jobs_run_on_the_cluster_with_the_flow_runs_settings(cluster):
    pool = worker_pool(load_settings(executor=_dask(cluster), window_days=5))
    assert isinstance(pool, ClusterPool)
    # the job reads its settings in the worker process, as the library does
    assert pool.submit(_window_days).result(timeout=60) == 5
    assert pool.urgent().submit(_window_days).result(timeout=60) == 5
    with pytest.raises(ValueError, match="bad row 7"):
        pool.in_order("2025-03-01").submit(_fail, "bad row 7").result(timeout=60)


def test_no_scheduler_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        worker_pool(load_settings(executor="dask://127.0.0.1:9")).submit(_window_days)


@pytest.mark.flow
@pytest.mark.slow
def test_backfill_on_a_local_cluster_equals_the_local_pool(prefect_harness, cluster, tmp_path):
    """Three demo facilities (faults, a DST-free week in May), four days in windows of two days:
    every relation equal to the run on this machine's worker processes."""
    local, on_cluster = tmp_path / "local", tmp_path / "cluster"
    make_demo_home(local, end_date=date(2026, 5, 20), days=4)
    shutil.copytree(local, on_cluster)
    args = ("backfill", "--start", "2026-05-17", "--end", "2026-05-20")
    done = run_cli(*args, "--home", str(local), THERMALIQ_WINDOW_DAYS="2", THERMALIQ_PROCESSES="2")
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_cli(*args, "--home", str(on_cluster), THERMALIQ_WINDOW_DAYS="2",
                   THERMALIQ_EXECUTOR=_dask(cluster))
    assert done.returncode == 0, done.stderr[-3000:]

    ran = cluster.get_client().run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert {"compute_window_job", "store_window_job"} <= set(ran), ran
    want, got = snapshot(Home.resolve(local)), snapshot(Home.resolve(on_cluster))
    assert len(want["calculations"]) > 0 and len(want["readings"]) > 0
    assert_no_duplicates(got)
    assert_same_results(got, want)
