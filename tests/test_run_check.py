"""``thermaliq check`` and the reconciliation of dead runs with Prefect (issue #16, run records).

Against the session's real Prefect API server on 127.0.0.1 (``prefect_harness``; the CLI runs in
subprocesses that report to it): a backfill killed with ``kill -9`` stays ``running`` in ``runs``
and Running in Prefect; ``thermaliq check`` ends it as ``crashed`` (quoting Prefect's state),
sets the Prefect flow run to Crashed, rolls back what it left half-written and exits 1; run
again, it finds the home healthy and exits 0. A dead run Prefect calls Failed becomes ``failed``;
a live run Prefect calls Running is left alone.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import CLI, ROOT, run_cli, start_cli
from tests.test_crash_safety import FIRST, LAST, VALUES
from thermaliq.home import Home
from thermaliq.store import liveness
from thermaliq.store.runs import record_run

pytestmark = [pytest.mark.flow, pytest.mark.slow]

T0 = pd.Timestamp("2026-03-01 02:00", tz="UTC")


def _home(root) -> Home:
    home = Home.resolve(root)
    write_facility(home.root, constant_boiler_config())
    write_daily_csv(home.root, "BOILER-1", constant_readings(FIRST, LAST, "Europe/Berlin", VALUES, freq="5min"))
    return home


def _runs(home: Home) -> dict[str, dict]:
    rows = [pd.read_parquet(p).iloc[0].to_dict() for p in (home.lake / "runs").glob("*.parquet")]
    return {r["run_id"]: r for r in rows}


def _prefect_state(run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(uuid.UUID(run_id)).state.type.value


def _flow_run_in(state) -> str:
    """A flow run on the server in ``state`` (as a run on another worker would be); its id."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    @flow(name="thermaliq-check-test")
    def placeholder():
        """Never runs: only its flow run record is created."""

    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(placeholder, state=state).id)


def _check_without_prefect(home_dir, tmp_path) -> subprocess.CompletedProcess:
    """``thermaliq check`` in a subprocess with no Prefect server known (no PREFECT_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THERMALIQ_"))}
    env.update(PYTHONPATH=str(ROOT), PREFECT_HOME=str(tmp_path / "prefect-home"))
    return subprocess.run([*CLI, "check", "--home", str(home_dir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_without_prefect_ends_dead_runs_by_their_locks(home, tmp_path):
    """No server known (PREFECT_API_URL unset): a dead run becomes ``crashed``, a live one stays;
    exit 1 the first time, 0 once healthy; a bad facility file is a problem (exit 1)."""
    write_facility(home.root, constant_boiler_config())
    record_run(home, "local-dead", "backfill", {}, status="running", started_at=T0)
    record_run(home, "local-alive", "nightly", {}, status="running", started_at=T0)
    held = liveness.hold(home.lake, "local-alive")
    try:
        first = _check_without_prefect(home.root, tmp_path)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "crashed backfill run local-dead" in first.stdout
        assert "running nightly run local-alive" in first.stdout and "liveness locks only" in first.stdout
        assert {k: r["status"] for k, r in _runs(home).items()} == {"local-dead": "crashed",
                                                                   "local-alive": "running"}
        second = _check_without_prefect(home.root, tmp_path)
        assert second.returncode == 0 and "healthy" in second.stdout, second.stdout + second.stderr
        assert "BOILER-1: none yet" in second.stdout
    finally:
        liveness.release(home.lake, "local-alive", held)
    (home.facilities / "BAD.yaml").write_text("facility_id: BAD\nstreams: [\n")
    bad = _check_without_prefect(home.root, tmp_path)
    assert bad.returncode == 1 and "BAD.yaml" in bad.stdout, bad.stdout + bad.stderr
    assert _check_without_prefect(home.root / "nowhere", tmp_path).returncode == 2


def test_prefect_failed_makes_failed_and_a_live_running_run_is_left_alone(prefect_harness, home):
    from prefect.states import Failed, Running

    from flows.reconcile import reconcile_runs

    failed_id, live_id = _flow_run_in(Failed(message="disk full")), _flow_run_in(Running())
    for run_id in (failed_id, live_id):
        record_run(home, run_id, "backfill", {}, status="running", started_at=T0)
    held = liveness.hold(home.lake, live_id)
    try:
        done, view = reconcile_runs(home, by="test", in_flow=True)
    finally:
        liveness.release(home.lake, live_id, held)
    assert view.problem is None and view.marked_crashed == []
    by_id = {r.run_id: r for r in done}
    assert by_id[failed_id].status == "failed" and "Prefect: Failed (disk full)" in by_id[failed_id].reason
    assert by_id[live_id].status == "running" and by_id[live_id].prefect.type == "RUNNING"
    rows = _runs(home)
    assert rows[failed_id]["status"] == "failed" and rows[live_id]["status"] == "running"
    assert _prefect_state(live_id) == "RUNNING" and _prefect_state(failed_id) == "FAILED"


def _kill_when_running(home: Home, proc, after_s: float = 1.5) -> str:
    """SIGKILL ``proc`` once its ``running`` row is written (and ``after_s`` later); its run id."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        running = [k for k, r in _runs(home).items() if r["status"] == "running"] if (home.lake / "runs").is_dir() else []
        if running:
            time.sleep(after_s)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return running[0]
        time.sleep(0.1)
    pytest.fail("the backfill never wrote its running row")


def test_kill_9_then_check_reconciles_with_prefect_then_the_next_run(prefect_harness, tmp_path):
    home = _home(tmp_path / "home")
    args = ("backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(), "--home", str(home.root))
    killed = _kill_when_running(home, start_cli(*args, THERMALIQ_WINDOW_DAYS="1"))
    assert _runs(home)[killed]["status"] == "running"
    assert _prefect_state(killed) == "RUNNING"          # nobody told Prefect

    check = run_cli("check", "--home", str(home.root), timeout=120)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"crashed backfill run {killed} (Prefect: Running)" in check.stdout
    assert f"flow run {killed} set to Crashed" in check.stdout
    row = _runs(home)[killed]
    assert row["status"] == "crashed" and "Prefect: Running" in row["reason"]
    assert _prefect_state(killed) == "CRASHED"
    assert not [p for p in (home.lake / "_pending").rglob("*") if p.is_file()]

    again = run_cli("check", "--home", str(home.root), timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "healthy" in again.stdout and "BOILER-1: none yet" in again.stdout

    # killed again; this time the next run finds it (and completes)
    killed2 = _kill_when_running(home, start_cli(*args, THERMALIQ_WINDOW_DAYS="1"))
    done = run_cli(*args, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _runs(home)
    assert rows[killed2]["status"] == "crashed" and "Prefect: Running" in rows[killed2]["reason"]
    assert _prefect_state(killed2) == "CRASHED"
    last = run_cli("check", "--home", str(home.root), timeout=120)
    assert last.returncode == 0, last.stdout
    (completed,) = [k for k, r in rows.items() if r["status"] == "completed"]
    assert "BOILER-1: backfill finished" in last.stdout and completed in last.stdout
    assert json.loads(rows[completed]["parameters"])["facilities"] is None
