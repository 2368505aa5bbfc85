"""Fleets in few task runs (issue #15): one calculation task run per window for every facility,
a facility that fails inside it still has its own failed task run, and baselines are fitted once
per run after the last window, not after every store."""
from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.store import catalog

pytestmark = pytest.mark.flow

VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FIRST, LAST = date(2024, 3, 30), date(2024, 4, 1)


@pytest.fixture
def two_boilers(home):
    for fid in ("BOILER-1", "BOILER-2"):
        write_facility(home.root, constant_boiler_config(fid))
        write_daily_csv(home.root, fid, constant_readings(FIRST, LAST, "Europe/Berlin", VALUES))
    return home


def _task_runs(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {r.name: r for r in runs}


def test_a_facility_failing_in_a_batched_calculation_has_its_own_failed_task_run(
        prefect_harness, two_boilers, monkeypatch):
    from flows.backfill import backfill
    from thermaliq.pipeline import jobs

    monkeypatch.setenv("THERMALIQ_PROCESSES", "1")          # jobs in the task's thread: patchable
    real = jobs.compute_window_job

    def compute(home, facility, *args):
        if facility.facility_id == "BOILER-2":
            raise RuntimeError("meter table unreadable")
        return real(home, facility, *args)

    monkeypatch.setattr(jobs, "compute_window_job", compute)
    state = backfill(start=FIRST.isoformat(), end=LAST.isoformat(), home=str(two_boilers.root),
                     return_state=True)
    assert state.is_failed()
    assert "BOILER-2" in state.message and "meter table unreadable" in state.message
    assert "BOILER-1" not in state.message
    con = catalog.memory_connection(two_boilers)
    assert con.execute("SELECT facility_id, count(*) FROM calculations WHERE granularity = 'day' "
                       "GROUP BY ALL").fetchall() == [("BOILER-1", 3)]
    runs = _one_failure_in_a_batch(state, "calculate", "meter table unreadable")
    assert f"calculate-BOILER-1-{FIRST}-{LAST}" not in runs


def test_baselines_are_fitted_once_per_run_after_the_last_window(prefect_harness, two_boilers,
                                                                 monkeypatch):
    """Three one-day windows: one baseline version, written by the run, from all three days (the
    same fit as refitting after the run)."""
    from flows.backfill import backfill
    from thermaliq.config import load_facility
    from thermaliq.pipeline import baselines

    config = constant_boiler_config("BOILER-1")
    config["baseline"] = {"start": FIRST.isoformat(), "end": LAST.isoformat(),
                          "regressors": ["useful_output"]}
    write_facility(two_boilers.root, config)
    monkeypatch.setenv("THERMALIQ_WINDOW_DAYS", "1")
    state = backfill(start=FIRST.isoformat(), end=LAST.isoformat(), home=str(two_boilers.root),
                     return_state=True)
    assert state.is_completed(), state.message
    con = catalog.memory_connection(two_boilers)
    assert con.execute("SELECT DISTINCT facility_id, version FROM baselines").fetchall() == [("BOILER-1", 1)]
    assert con.execute("SELECT count(*) FROM baseline_results WHERE is_current").fetchall() == [(3,)]
    refit = baselines.update_baseline(two_boilers, load_facility(two_boilers.facility_file("BOILER-1")),
                                      run_id="check")
    assert not refit.written and refit.version == 1
    runs = _task_runs(state.state_details.flow_run_id)
    assert sum(name.startswith("baselines-") for name in runs) == 1
    assert sum(name.startswith("store-") for name in runs) == 3


def test_a_facility_failing_in_the_batched_file_ingest_has_its_own_failed_task_run(
        prefect_harness, two_boilers, monkeypatch):
    """One ingest task run for both file-sourced facilities; BOILER-2's failure is its own failed
    task run and its "<fid> ingest" failure, BOILER-1 is ingested and calculated. An I/O failure
    is tried again twice (as a facility's own task run was), a facility at a time."""
    import tasks.ingest
    from flows.backfill import backfill
    from thermaliq.pipeline import jobs

    monkeypatch.setenv("THERMALIQ_PROCESSES", "1")          # jobs in the task's thread: patchable
    monkeypatch.setattr(tasks.ingest, "RETRY_DELAYS_S", (0, 0))
    real = jobs.ingest_files_job
    attempts = []

    def ingest_files(home, facility, *args, **kwargs):
        attempts.append(facility.facility_id)
        if facility.facility_id == "BOILER-2":
            raise OSError("inbox share unreachable")
        return real(home, facility, *args, **kwargs)

    monkeypatch.setattr(jobs, "ingest_files_job", ingest_files)
    state = backfill(start=FIRST.isoformat(), end=LAST.isoformat(), home=str(two_boilers.root),
                     return_state=True)
    assert state.is_failed()
    assert sorted(attempts) == ["BOILER-1"] + ["BOILER-2"] * 3     # BOILER-1 once, BOILER-2 three times
    assert "BOILER-2 ingest" in state.message and "inbox share unreachable" in state.message
    assert "BOILER-1" not in state.message
    con = catalog.memory_connection(two_boilers)
    assert con.execute("SELECT DISTINCT facility_id FROM readings").fetchall() == [("BOILER-1",)]
    assert con.execute("SELECT facility_id, count(*) FROM calculations WHERE granularity = 'day' "
                       "GROUP BY ALL").fetchall() == [("BOILER-1", 3)]
    _one_failure_in_a_batch(state, "ingest", "inbox share unreachable")


def _one_failure_in_a_batch(state, step: str, why: str) -> dict:
    """The flow run's task runs (name -> run), after checking that ``step`` ran as one completed
    task run for both boilers and BOILER-2's failure (``why``) as its own failed task run."""
    runs = _task_runs(state.state_details.flow_run_id)
    assert runs[f"{step}-2-facilities-{FIRST}-{LAST}"].state.is_completed()   # one task run for both
    failed = runs[f"{step}-BOILER-2-{FIRST}-{LAST}"]
    assert failed.state.is_failed() and why in failed.state.message
    assert sum(name.startswith(f"{step}-") for name in runs) == 2
    return runs

