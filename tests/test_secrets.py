"""Historian tokens never leave the Authorization header: not in logs (Python and the Prefect API),
artifacts, reports, metrics, GX results, the lake, the catalog, run records or exception texts.

One backfill with two historian facilities on the same local simulator: HIST-OK whose token is
right, HIST-DENIED whose token is wrong (401, a permanent error: not retried). Both token values
are searched for in every output.
"""
from __future__ import annotations

import logging

import pytest

from tests.historian_home import DAY, simulator_data, write_historian_facility
from thermaliq.store import catalog
from thermaliq.sources import historian
from thermaliq.sources.simulator import HistorianSimulator

pytestmark = pytest.mark.flow

RIGHT = "tq-RIGHT-7f3a9c2e51d04b8e"
WRONG = "tq-WRONG-0b1e6d5a9c8f7e2d"


def _api_text(flow_run_id) -> str:
    """Every log line and artifact the Prefect API holds for the run (what the UI shows)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, LogFilter,
                                                LogFilterFlowRunId)
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    assert logs, "the run should have sent logs to the API"
    return "\n".join([log.message for log in logs] + [repr(a.data) + str(a.description) for a in artifacts])


def _write_block_facility(home, url: str) -> None:
    """HIST-BLOCK takes its token from the Prefect Secret block 'hist-token' (source.token_block)."""
    from prefect.blocks.system import Secret

    from tests.helpers import constant_boiler_config, write_facility

    Secret(value=RIGHT).save("hist-token", overwrite=True)
    config = constant_boiler_config("HIST-BLOCK", "Europe/Berlin")
    config["source"] = {"kind": "historian", "url": url, "token_block": "hist-token", "timeout_s": 5}
    write_facility(home.root, config)


@pytest.mark.parametrize("source, text", [
    ({"token_env": "A", "token_block": "b"}, "either token_env or token_block"),
    ({"token_block": RIGHT}, "NAME of a Prefect Secret block"),
    ({"token_env": RIGHT}, "NAME of an environment variable"),
])
def test_config_refuses_a_token_in_place_of_its_name(tmp_path, source, text):
    """A token pasted into the YAML is refused, and the error does not repeat it."""
    from tests.helpers import constant_boiler_config, write_facility
    from thermaliq.config import load_facility
    from thermaliq.errors import ConfigError, ConfigErrors

    config = constant_boiler_config("F1")
    config["source"] = {"kind": "historian", "url": "http://127.0.0.1:9", **source}
    path = write_facility(tmp_path, config)
    with pytest.raises((ConfigError, ConfigErrors)) as err:
        load_facility(path)
    assert text in str(err.value)
    assert RIGHT not in str(err.value) and RIGHT not in repr(err.value)


def test_token_appears_in_no_output(prefect_harness, home, monkeypatch, caplog):
    from flows.backfill import backfill

    monkeypatch.setenv("HIST_TOKEN_OK", RIGHT)
    monkeypatch.setenv("HIST_TOKEN_DENIED", WRONG)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="thermaliq")
    caplog.set_level(logging.DEBUG, logger="prefect")          # INFO run logs reach the API too
    historian.reset_breakers()
    with HistorianSimulator(simulator_data(), token=RIGHT, page_size=2000) as sim:
        write_historian_facility(home, sim.url, "HIST_TOKEN_OK", "HIST-OK")
        write_historian_facility(home, sim.url, "HIST_TOKEN_DENIED", "HIST-DENIED")
        _write_block_facility(home, sim.url)
        state = backfill(start=DAY.isoformat(), end=DAY.isoformat(), home=str(home.root),
                         return_state=True)
        unauthorized = sim.counters["unauthorized"]
    historian.reset_breakers()

    assert state.is_failed()
    assert unauthorized == 1                                   # a 401 is never retried
    exc_text = ""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the text of the run's exception is what we check
        exc_text = f"{type(exc).__name__}: {exc!r} {exc}"
    assert "HIST-DENIED" in exc_text and "HTTP 401" in exc_text and "check the token" in exc_text

    con = catalog.memory_connection(home)
    ok_readings = con.execute("SELECT count(*) FROM readings WHERE facility_id = 'HIST-OK'").fetchone()[0]
    block_readings = con.execute(
        "SELECT count(*) FROM readings WHERE facility_id = 'HIST-BLOCK'").fetchone()[0]
    run_reason = con.execute("SELECT string_agg(reason, ' ') FROM runs").fetchone()[0]
    con.close()
    assert ok_readings == 4 * 24 * 60                          # the right token worked
    assert block_readings == 4 * 24 * 60                       # ... also from a Secret block
    assert "HTTP 401" in run_reason

    outputs = {
        "python logs": caplog.text + "\n".join(str(r.args) for r in caplog.records),
        "prefect API logs and artifacts": _api_text(state.state_details.flow_run_id),
        "exception": exc_text + (state.message or ""),
        "run records": run_reason,
    }
    for path in home.root.rglob("*"):
        if path.is_file():
            outputs[str(path.relative_to(home.root))] = path.read_bytes().decode("latin-1")
    assert any(k.startswith("reports/") for k in outputs) and any(k.startswith("lake/") for k in outputs)
    assert any(k.startswith("metrics/") for k in outputs) and any(k.startswith("gx/") for k in outputs)
    for where, text in outputs.items():
        for token in (RIGHT, WRONG):
            assert token not in text, f"token found in {where}"
            assert token[8:] not in text, f"part of a token found in {where}"
