"""What an operator sees in the Prefect UI (issue #16), against a real ``prefect server``.

The server, work pool, ``prefect deploy --all`` and worker are started exactly as in
``tests/test_deployment.py`` (its :class:`PrefectServer`; everything on 127.0.0.1, a temporary
PREFECT_HOME). The home has one facility read from a local :class:`HistorianSimulator` whose
requests fail at random (HTTP 500, 429, truncated JSON), so the connector retries and warns.
Checked through the Prefect API, as the UI reads it: the run form's parameter schema, the run's
name, its progress artifact and its logs. Takes about 2 minutes.
"""
from __future__ import annotations

import time

import pytest

from tests.historian_home import DAY, simulator_data, write_historian_facility
from tests.test_deployment import ROOT, PrefectServer, _run_deployment, _tail
from thermaliq.home import Home
from thermaliq.sources.simulator import HistorianSimulator

pytestmark = pytest.mark.slow

TOKEN_ENV, TOKEN = "THERMALIQ_TEST_HIST_TOKEN", "tok-ui-16"


@pytest.fixture(scope="module")
def simulator():
    with HistorianSimulator(simulator_data(), token=TOKEN, page_size=300) as sim:
        # as tests/test_historian_flow.py: ~30 % of requests fail, so several retries happen
        sim.set_faults(error_rate=0.1, rate_limit_rate=0.1, truncate_rate=0.13, retry_after_s=0, seed=3)
        yield sim


@pytest.fixture(scope="module")
def operated(tmp_path_factory, simulator):
    """A server with the deployments of prefect.yaml and a worker for a historian home."""
    workdir = tmp_path_factory.mktemp("operator-ui")
    home = Home.resolve(workdir / "home")
    home.facilities.mkdir(parents=True)
    write_historian_facility(home, simulator.url, TOKEN_ENV)
    server = PrefectServer(workdir)
    try:
        server.start()
        server.cli("work-pool", "create", "thermaliq", "--type", "process")
        server.cli("--no-prompt", "deploy", "--all", cwd=ROOT, env={"THERMALIQ_SCHEDULE_TZ": "UTC"})
        log = server.start_worker({"THERMALIQ_HOME": str(home.root), TOKEN_ENV: TOKEN})
        yield server, log, home
    finally:
        server.stop()


def test_run_form_has_date_pickers_and_a_description_for_every_parameter(operated):
    """The backfill deployment's parameter schema (what the UI's run form renders): ``start`` and
    ``end`` are strings of ``format: date`` (a date picker) and every parameter of every
    deployment has a description."""
    server, _, _ = operated
    with server.client() as client:
        schemas = {name: client.read_deployment_by_name(f"{name}/{name}").parameter_openapi_schema
                   for name in ("backfill", "nightly", "recalculate", "report")}
    backfill = schemas["backfill"]["properties"]
    assert backfill["start"]["type"] == "string" and backfill["start"]["format"] == "date"
    assert backfill["end"]["type"] == "string" and backfill["end"]["format"] == "date"
    assert set(schemas["backfill"]["required"]) == {"start", "end"}
    for name, schema in schemas.items():
        for param, spec in schema["properties"].items():
            assert len(spec.get("description") or "") > 20, f"{name}.{param} has no description"


def test_a_bad_date_is_rejected_before_anything_runs(operated):
    """2024-02-30 is no date: the run form's date picker cannot produce it, and a run given it
    through the API fails on parameter validation before any task runs (no task run, no row in
    ``runs``)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    server, worker_log, home = operated
    run = _run_deployment(server, worker_log, "backfill/backfill", "start=2024-02-30", "end=2024-03-01")
    assert run.state.is_failed(), run.state_name
    assert "start" in (run.state.message or ""), run.state.message
    with server.client() as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    assert tasks == []
    assert not list((home.lake / "runs").glob(f"{run.id}.parquet"))


def test_backfill_run_is_named_by_its_dates_reports_progress_and_forwards_retry_warnings(operated):
    """A backfill launched with parameters: its name says ``backfill 2024-05-30..2024-05-30
    (HIST-1)``; its progress artifact ends at 100 %; the historian connector's retry warnings
    (logger ``thermaliq.sources.historian``, not a Prefect run logger) are in its logs."""
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, LogFilter,
                                                LogFilterFlowRunId)

    server, worker_log, _ = operated
    day = DAY.isoformat()
    run = _run_deployment(server, worker_log, "backfill/backfill", f"start={day}", f"end={day}",
                          'facilities=["HIST-1"]')
    assert run.state.is_completed(), f"{run.state_name}: {run.state.message}\n{_tail(worker_log, 80)}"
    assert run.name == f"backfill {day}..{day} (HIST-1)"

    with server.client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
        progress = [a for a in artifacts if a.type == "progress"]
        assert len(progress) == 1 and progress[0].key == "thermaliq-progress"
        assert float(progress[0].data) == 100.0
        deadline = time.monotonic() + 30       # logs are sent in batches: wait for the last one
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            retries = [entry for entry in logs if entry.name == "thermaliq.sources.historian"
                       and "retry" in entry.message]
            if retries or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert retries, [f"{e.name}: {e.message}" for e in logs][-30:]
    assert TOKEN not in " ".join(entry.message for entry in logs)


def test_the_run_form_screenshot_matches_the_readme():
    """The README shows the run form (docs/img/run-form.png, taken by scripts/screenshot_run_form)."""
    assert (ROOT / "docs" / "img" / "run-form.png").is_file()
    assert "docs/img/run-form.png" in (ROOT / "README.md").read_text()




def test_alerts_install_creates_then_updates_the_shipped_automation(operated):
    """``thermaliq alerts install --block slack-webhook/ops-alerts`` against the server: the
    automation of ops/prefect/thermaliq-alerts.yaml exists once, reacting to ``thermaliq.alert.*``
    and notifying through that block; a second install updates it (still one), a block that does
    not exist is a usage error (exit 2) naming it."""
    import subprocess
    import sys

    from prefect.blocks.notifications import SlackWebhook
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server, _, _ = operated
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        block_id = SlackWebhook(url="http://127.0.0.1:9/hook").save("ops-alerts", overwrite=True)
    cli = [sys.executable, "-m", "flows.cli", "alerts", "install"]
    env = {**server.env, "PYTHONPATH": str(ROOT)}
    outputs = []
    for _ in range(2):
        done = subprocess.run(cli + ["--block", "slack-webhook/ops-alerts"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    assert outputs[0].startswith("created") and outputs[1].startswith("updated")
    with server.client() as client:
        (automation,) = client.read_automations_by_name("thermaliq alerts")
    assert automation.trigger.expect == {"thermaliq.alert.*"}
    assert [str(a.block_document_id) for a in automation.actions] == [str(block_id)]

    bad = subprocess.run(cli + ["--block", "slack-webhook/nope"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "nope" in bad.stdout + bad.stderr
