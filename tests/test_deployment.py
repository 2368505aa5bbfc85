"""The operator path of DESIGN §8 against a real Prefect server (issue #5).

``prefect server start`` → ``prefect work-pool create thermaliq --type process`` →
``prefect --no-prompt deploy --all`` (prefect.yaml at the repository root) →
``prefect worker start --pool thermaliq`` → ``prefect deployment run backfill/backfill --param ...``,
exactly as the README tells an operator, each a subprocess with its own PREFECT_HOME (a temporary
directory; the user's ~/.prefect is never touched) and PREFECT_API_URL pointing at the test server
on 127.0.0.1. The worker runs from another directory, so the flows load from the working directory
that ``prefect deploy`` recorded. Takes about 2 minutes.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
BOILER_VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
SCHEDULE_TZ = "America/Chicago"   # not UTC, so the test sees THERMALIQ_SCHEDULE_TZ reach the schedule
REPORTS_URL = "http://127.0.0.1:8765"   # only written into link artifacts; nothing listens there
SERVER_START_S, CLI_S, RUN_S = 240, 180, 240   # bounds of every wait (a cold CI machine migrates the DB)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} not written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _start(args: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    """A long-running subprocess in its own process group (so teardown ends its children too)."""
    out = log.open("wb")
    try:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        out.close()   # the child holds its own descriptor


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after a bounded wait."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


class PrefectServer:
    """A ``prefect server start`` subprocess and the environment every Prefect CLI call gets."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        self.env = {**base,
                    "PREFECT_HOME": str(workdir / "prefect-home"),
                    "PREFECT_API_URL": self.api_url,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
                    "PREFECT_LOGGING_LEVEL": "INFO",
                    # no scheduled nightly runs: one at 03:30 Chicago time would race the test's runs
                    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                    "PREFECT_WORKER_QUERY_SECONDS": "2",
                    "THERMALIQ_MAX_WORKERS": "2"}
        self.env.pop("THERMALIQ_HOME", None)
        self.env.pop("THERMALIQ_REPORTS_URL", None)
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        log = self.workdir / "server.log"
        proc = _start(PREFECT + ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                      self.env, self.workdir, log)
        self.procs.append(proc)
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"prefect server exited with {proc.returncode}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        pytest.fail(f"prefect server not healthy after {SERVER_START_S} s:\n{_tail(log)}")

    def cli(self, *args: str, cwd: Path | None = None, env: dict | None = None) -> str:
        """Run ``prefect <args>``; fail the test with its output unless it exits 0."""
        done = subprocess.run(PREFECT + list(args), env={**self.env, **(env or {})},
                              cwd=cwd or self.workdir, capture_output=True, text=True, timeout=CLI_S)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    def start_worker(self, env: dict) -> Path:
        log = self.workdir / "worker.log"
        self.procs.append(_start(PREFECT + ["worker", "start", "--pool", "thermaliq"],
                                 {**self.env, **env}, self.workdir, log))
        return log

    @contextmanager
    def client(self):
        """A synchronous Prefect client of this server (``get_client`` with its API URL)."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url}):
            with get_client(sync_client=True) as client:
                yield client

    def stop(self) -> None:
        for proc in reversed(self.procs):   # worker first, then the server
            _stop(proc)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def boiler_home(tmp_path_factory) -> Path:
    """The constant boiler of issue #2 with two local days of one-minute readings."""
    home = tmp_path_factory.mktemp("deployed") / "home"
    write_facility(home, constant_boiler_config())
    write_daily_csv(home, "BOILER-1", constant_readings(date(2024, 3, 30), date(2024, 3, 31),
                                                        "Europe/Berlin", BOILER_VALUES))
    return home


@pytest.fixture(scope="module")
def deployed(prefect_server, boiler_home):
    """Work pool, ``prefect deploy --all`` from the repository root, and a worker."""
    prefect_server.cli("work-pool", "create", "thermaliq", "--type", "process")
    prefect_server.cli("--no-prompt", "deploy", "--all", cwd=ROOT,
                       env={"THERMALIQ_SCHEDULE_TZ": SCHEDULE_TZ})
    log = prefect_server.start_worker({"THERMALIQ_HOME": str(boiler_home),
                                       "THERMALIQ_REPORTS_URL": REPORTS_URL})
    return prefect_server, log


def _run_deployment(server: PrefectServer, worker_log: Path, name: str, *params: str):
    """``prefect deployment run <name> --param k=v ...`` and wait (bounded) for a final state."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

    def runs_of(client, deployment_id) -> dict:
        return {r.id: r for r in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])))}

    with server.client() as client:
        deployment_id = client.read_deployment_by_name(name).id
        before = set(runs_of(client, deployment_id))
    args = ["deployment", "run", name]
    for p in params:
        args += ["--param", p]
    server.cli(*args)
    with server.client() as client:
        new = [i for i in runs_of(client, deployment_id) if i not in before]
        assert len(new) == 1, f"expected one new run of {name}, found {len(new)}"
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline:
            run = client.read_flow_run(new[0])
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(2)
    pytest.fail(f"{name} run not finished after {RUN_S} s (state {run.state_name}); worker log:\n"
                f"{_tail(worker_log, 80)}")


def _day_rows(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "thermaliq.duckdb"), read_only=True)   # as an engineer would
    try:
        return con.execute(
            "SELECT period_start, efficiency_percent, status, version, run_id, reason FROM calculations "
            "WHERE is_current AND granularity = 'day' AND facility_id = 'BOILER-1' "
            "ORDER BY period_start").fetchall()
    finally:
        con.close()


def test_deploy_all_creates_the_four_deployments_with_the_nightly_schedule(deployed):
    """prefect.yaml as deployed: entrypoints, pool, recorded working directory, nightly cron in
    THERMALIQ_SCHEDULE_TZ and at most one nightly run at a time."""
    server, _ = deployed
    with server.client() as client:
        for name in ("nightly", "backfill", "recalculate", "report"):
            d = client.read_deployment_by_name(f"{name}/{name}")
            assert d.entrypoint == f"flows/{name}.py:{name}"
            assert d.work_pool_name == "thermaliq"
            assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                     {"directory": str(ROOT)}}]
        nightly = client.read_deployment_by_name("nightly/nightly")
    assert len(nightly.schedules) == 1
    schedule = nightly.schedules[0]
    assert schedule.active
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 3 * * *", SCHEDULE_TZ)
    # Prefect 3.9 stores a deployment's concurrency_limit as a global concurrency limit
    assert nightly.global_concurrency_limit is not None and nightly.global_concurrency_limit.limit == 1


def test_backfill_and_recalculate_launched_from_the_cli_run_on_the_worker(deployed, boiler_home):
    """An operator's backfill of two local days through the worker: Completed, the constant boiler's
    79.87 % (issue #2: 10 000 kg/h x (2777.1 - 440.9) kJ/kg / (750 m3/h x 39 MJ/m3), ±0.03 pt) on
    both days, written by this flow run, and the run's table, markdown and link artifacts in the
    UI. Then a recalculation with its required reason adds version 2."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    server, worker_log = deployed
    run = _run_deployment(server, worker_log, "backfill/backfill", "start=2024-03-30", "end=2024-03-31")
    assert run.state.is_completed(), f"{run.state_name}: {run.state.message}\n{_tail(worker_log, 80)}"

    days = _day_rows(boiler_home)
    assert [d[0].date().isoformat() for d in days] == ["2024-03-29", "2024-03-30"]  # Berlin midnights in UTC
    for _, eff, status, version, run_id, _ in days:
        assert eff == pytest.approx(79.87, abs=0.03)
        assert (status, version, run_id) == ("ok", 1, str(run.id))

    with server.client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    by_key = {a.key: a for a in artifacts}
    # Prefect 3.9 stores link artifacts with type "markdown" and data "[text](url)"
    assert sorted(by_key) == ["thermaliq-data-docs", "thermaliq-progress", "thermaliq-report-boiler-1",
                              "thermaliq-report-fleet",
                              "thermaliq-run-report", "thermaliq-run-summary"]
    assert by_key["thermaliq-run-summary"].type == "table"
    assert "BOILER-1" in str(by_key["thermaliq-run-summary"].data)
    assert by_key["thermaliq-run-report"].type == "markdown"
    assert "| Constant test boiler (BOILER-1) | 79.9 % | HHV |" in by_key["thermaliq-run-report"].data
    assert by_key["thermaliq-data-docs"].data.endswith(f"({REPORTS_URL}/datadocs/index.html)")
    assert (boiler_home / "gx/uncommitted/data_docs/local_site/index.html").is_file()
    links = {k: a.data for k, a in by_key.items() if k.startswith("thermaliq-report-")}
    for data in links.values():   # "[text](url)" with THERMALIQ_REPORTS_URL of the worker
        match = re.fullmatch(r"\[thermaliq report: [^\]]+\]\((\S+)\)", data)
        assert match, data
        url = match.group(1)
        assert url.startswith(REPORTS_URL + "/")
        assert (boiler_home / "reports" / url[len(REPORTS_URL) + 1:]).is_file()

    recalc = _run_deployment(server, worker_log, "recalculate/recalculate", "start=2024-03-31",
                             "end=2024-03-31", "reason=meter recalibrated")
    assert recalc.state.is_completed(), f"{recalc.state_name}: {recalc.state.message}"
    last_day = _day_rows(boiler_home)[-1]
    assert last_day[1] == pytest.approx(79.87, abs=0.03)
    assert last_day[3:] == (2, str(recalc.id), "meter recalibrated")
