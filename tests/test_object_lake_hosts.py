"""Issue #19's Done when: writers on two hosts against one S3 lake and one Prefect server.

Each "host" is a CLI subprocess with its own working directory, home (facility files, inbox and
working copy of the lake) and PREFECT_HOME; they share only moto's S3 server and a real
``prefect server start``, both on 127.0.0.1. The two run overlapping backfills of the same two
facilities at the same time; a kill -9 between a commit's uploads and its commit object is
followed by a rerun. Both must equal one uninterrupted local run.
"""
from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_no_duplicates, assert_same_results, snapshot
from tests.s3server import aws_env, moto_s3, new_bucket
from tests.test_deployment import PrefectServer
from thermaliq.home import Home
from thermaliq.store import lake

pytestmark = [pytest.mark.flow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FACILITIES = ("BOILER-1", "BOILER-2")
FIRST, LAST = date(2024, 5, 29), date(2024, 6, 2)
RANGES = [("2024-05-29", "2024-06-01"), ("2024-05-31", "2024-06-02")]   # overlapping backfills


def _make_home(root: Path) -> Home:
    home = Home.resolve(root)
    for fid in FACILITIES:
        write_facility(home.root, constant_boiler_config(fid))
        frame = constant_readings(FIRST, LAST, "Europe/Berlin", VALUES, freq="15min")
        frame["FT-101"] = frame["FT-101"].astype(object)
        frame.loc[frame.index[9], "FT-101"] = "n/a"       # one reject per facility
        if fid == "BOILER-2":
            frame.loc[frame.index[200:260], "FT-201"] = 12_000.0   # so the facilities differ
        write_daily_csv(home.root, fid, frame)
    return home


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    srv.env["PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS"] = "2"   # expired leases freed soon
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def _host_env(server: PrefectServer, endpoint: str, url: str, workdir: Path, **extra) -> dict:
    env = {k: v for k, v in server.env.items() if not k.startswith("THERMALIQ_")}
    env.update(aws_env(endpoint), PREFECT_HOME=str(workdir / "prefect-home"), PYTHONPATH=str(ROOT),
               THERMALIQ_LAKE_URL=url, THERMALIQ_LAKE_LOCK="prefect", THERMALIQ_WINDOW_DAYS="2",
               THERMALIQ_MAX_WORKERS="2", THERMALIQ_PROCESSES="2",
               THERMALIQ_SLOTS_DIR=str(workdir / "cpu-slots"))
    env.update(extra)
    return env


def _start_backfill(home: Home, start: str, end: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "backfill", "--start", start,
                             "--end", end, "--home", str(home.root)], cwd=home.root.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 600) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def reference(prefect_harness, tmp_path_factory):
    """One local run (no THERMALIQ_LAKE_URL) of both backfills, one after the other."""
    from flows.backfill import backfill

    home = _make_home(tmp_path_factory.mktemp("ref") / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("THERMALIQ_LAKE_URL", raising=False)
        mp.setenv("THERMALIQ_WINDOW_DAYS", "2")
        for start, end in RANGES:
            backfill(start=start, end=end, home=str(home.root))
    snap = snapshot(home)
    assert len(snap["calculations"].query("granularity == 'day'")) == 2 * 5
    assert len(snap["quarantine"]) == 2
    return snap, _all_versions(home)


def _all_versions(home: Home) -> pd.DataFrame:
    from thermaliq.store import catalog

    con = catalog.memory_connection(home)
    try:
        return con.execute("SELECT facility_id, granularity, period_start, version, is_current "
                           "FROM calculations ORDER BY ALL").df()
    finally:
        con.close()


def _remote_view(tmp_path: Path, url: str, endpoint: str, monkeypatch) -> Home:
    """A fresh working copy of the remote lake (a third host that only reads)."""
    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THERMALIQ_LAKE_URL", url)
    home = Home.resolve(tmp_path / "reader")
    assert sorted(lake.refresh_all(home.lake)) == list(FACILITIES)
    return home


def _assert_versions_consecutive(versions: pd.DataFrame) -> None:
    for key, group in versions.groupby(["facility_id", "granularity", "period_start"]):
        assert group["version"].tolist() == list(range(1, len(group) + 1)), key
        assert group["is_current"].sum() == 1, key


def test_two_hosts_overlapping_backfills_equal_one_local_run(s3, server, reference, tmp_path,
                                                             monkeypatch):
    url = f"s3://{new_bucket(s3)}/lake"
    procs = []
    for i, (start, end) in enumerate(RANGES):
        workdir = tmp_path / f"host{i}"
        home = _make_home(workdir / "home")
        procs.append(_start_backfill(home, start, end, _host_env(server, s3, url, workdir)))
    for proc in procs:
        done = _finish(proc)
        assert done.returncode == 0, done.stderr[-4000:]
    reader = _remote_view(tmp_path, url, s3, monkeypatch)
    snap = snapshot(reader)
    want, want_versions = reference
    assert_same_results(snap, want)
    assert_no_duplicates(snap)
    versions = _all_versions(reader)
    _assert_versions_consecutive(versions)
    pd.testing.assert_frame_equal(versions, want_versions)
    with server.client() as client:      # the hosts excluded each other through the server
        for fid in FACILITIES:
            limit = client.read_global_concurrency_limit_by_name(f"thermaliq-lake-{fid}")
            assert limit.limit == 1 and limit.active_slots == 0
    for i in range(2):   # each host's own working copy agrees after a refresh too
        host_home = Home.resolve(tmp_path / f"host{i}" / "home")
        lake.refresh_all(host_home.lake)
        assert_same_results(snapshot(host_home), want)


@pytest.mark.parametrize("point", ["lake.commit:3", "lake.write:12"])
def test_kill_9_mid_commit_then_rerun_equals_uninterrupted(s3, server, reference, tmp_path,
                                                          monkeypatch, point):
    url = f"s3://{new_bucket(s3)}/lake"
    workdir = tmp_path / "host"
    home = _make_home(workdir / "home")
    env = _host_env(server, s3, url, workdir, THERMALIQ_PROCESSES="1")   # one process counts
    start, end = RANGES[0]
    killed = _finish(_start_backfill(home, start, end, {**env, "THERMALIQ_CRASH_AT": point}))
    assert killed.returncode == 137, f"the crash point {point} was not reached: {killed.stderr[-3000:]}"
    for start, end in RANGES:     # the rerun (it waits for the killed run's lease to run out)
        done = _finish(_start_backfill(home, start, end, env))
        assert done.returncode == 0, done.stderr[-4000:]
    reader = _remote_view(tmp_path, url, s3, monkeypatch)
    want, want_versions = reference
    snap = snapshot(reader)
    assert_same_results(snap, want)
    assert_no_duplicates(snap)
    pd.testing.assert_frame_equal(_all_versions(reader), want_versions)
