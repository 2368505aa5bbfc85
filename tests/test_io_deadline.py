"""Timeouts on I/O without Prefect's task timeouts (issue #16).

A Prefect ``timeout_seconds`` on a sync task runs in a worker thread, cannot interrupt a blocked
request, and logged "Timeout of 1800.0 seconds configured ... running in a worker thread" for
every ingest. The ingest and report tasks carry none; a historian ingest runs under
``io_deadline(THERMALIQ_IO_TIMEOUT_S)`` instead: no request or retry starts after it, each request
has its own (connect, read) timeouts, so the whole call ends within one request timeout of it.
Against the local historian simulator on 127.0.0.1.
"""
from __future__ import annotations

import time

import pandas as pd
import pytest

from thermaliq.errors import HistorianError
from thermaliq.sources import historian
from thermaliq.sources.retry import (RetryPolicy, Retryable, call_with_retry, breaker_for,
                                     deadline_wait_s, io_deadline)
from thermaliq.sources.simulator import HistorianSimulator

TOKEN = "deadline-test-token"
START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-02", tz="UTC")


@pytest.fixture(autouse=True)
def fresh_registry():
    historian.reset_breakers()
    historian.reset_stats()
    yield
    historian.reset_breakers()


def test_the_tasks_carry_no_prefect_timeout():
    """What made Prefect print the worker-thread warning for every ingest and report task."""
    from tasks.ingest import ingest_facility
    from tasks.report import publish_reports

    assert ingest_facility.timeout_seconds is None and publish_reports.timeout_seconds is None


def test_a_failing_historian_stops_at_the_deadline_not_after_every_retry():
    """Every request answers 500; a policy of 1000 attempts 0.05 s apart would go on for ~50 s.
    Under a 1 s deadline the call fails, permanently (task retries skip it), naming the setting,
    after far fewer requests."""
    readings = pd.DataFrame({"tag": "FT-101", "value": 1.0,
                             "ts": pd.date_range(START, END, freq="15min", inclusive="left")})
    with HistorianSimulator(readings, token=TOKEN) as sim:
        sim.set_faults(error_rate=1.0)
        started = time.monotonic()
        with io_deadline(1.0), pytest.raises(HistorianError, match="THERMALIQ_IO_TIMEOUT_S") as err:
            historian.fetch_readings(sim.url, "FAC-001", ["FT-101"], START, END, token=TOKEN,
                                     timeout_s=0.5,
                                     retry=RetryPolicy(attempts=1000, base_s=0.05, max_s=0.05))
        elapsed = time.monotonic() - started
        requests = sim.counters["requests"]
    assert err.value.permanent
    assert 1.0 <= elapsed < 20, elapsed            # never before the deadline; far from 1000 waits
    assert 1 < requests < 1000
    assert historian.stats()["connector_timeouts_total"] >= 1


def test_call_with_retry_obeys_the_deadline_and_cuts_the_last_wait():
    calls = []

    def always_busy():
        calls.append(time.monotonic())
        raise Retryable("busy")

    with io_deadline(0.3):
        assert deadline_wait_s(60.0) <= 0.3
        with pytest.raises(HistorianError, match="I/O deadline of 0.3 s"):
            call_with_retry(always_busy, RetryPolicy(attempts=10**6, base_s=10.0, max_s=10.0),
                            breaker_for("opc.tcp://127.0.0.1:1"), "OPC UA opc.tcp://127.0.0.1:1")
    assert 1 <= len(calls) <= 3      # a 10 s wait was cut to the 0.3 s left, then no new attempt
    assert deadline_wait_s(60.0) == 60.0          # outside: no deadline


def test_no_deadline_leaves_the_retry_schedule_alone():
    sleeps = []
    with pytest.raises(HistorianError, match="after 3 attempt"):
        call_with_retry(lambda: (_ for _ in ()).throw(Retryable("busy")),
                        RetryPolicy(attempts=3, base_s=0.01, sleep=sleeps.append),
                        breaker_for("opc.tcp://127.0.0.1:2"), "OPC UA opc.tcp://127.0.0.1:2")
    assert len(sleeps) == 2
