"""The PI Web API source against the local simulator (``thermaliq.sources.pi_simulator``) on 127.0.0.1.

The simulator answers as the PI Web API reference documents: ``points?path=``,
``streams/{webId}/recorded`` and ``streamsets/recorded`` with ``maxCount``, values with ``Good``
and ``Questionable`` flags, digital states as ``{"Name", "Value", "IsSystem"}`` (system states
Shutdown 254, I/O Timeout 246, Bad Input 307), errors as ``{"Errors": [...]}``.
"""
from __future__ import annotations

import logging

import pandas as pd
import pytest

from tests.helpers import write_facility
from tests.remote_home import (FIRST, LAST, TZ, ingest_as_files, quarantined, stored,
                               twenty_tag_config, week_data)
from thermaliq import periods
from thermaliq.config import load_facility
from thermaliq.errors import HistorianError
from thermaliq.pipeline.ingest_remote import ingest_remote
from thermaliq.sources.check import check_source
from thermaliq.sources.credentials import Credentials, source_credentials
from thermaliq.sources.pi_simulator import PiWebApiSimulator
from thermaliq.sources.piwebapi import fetch_pi_readings
from thermaliq.sources.retry import RetryPolicy, reset_breakers

FAST = dict(attempts=8, base_s=0.01, max_s=0.05, seed=1)   # the default policy, waits shortened
STATES = ("Shutdown", "I/O Timeout", "Bad Input")


@pytest.fixture(autouse=True)
def _fresh_breakers():
    reset_breakers()
    yield
    reset_breakers()


def _with_flags(data: pd.DataFrame) -> pd.DataFrame:
    """Every 1013th reading a digital state (cycling through STATES), every 991st Questionable."""
    idx = pd.Series(data.index, index=data.index)
    state = pd.Series(None, index=data.index, dtype="object")
    hit = idx % 1013 == 3
    state[hit] = [STATES[i % 3] for i in range(hit.sum())]
    return data.assign(state=state, questionable=(idx % 991 == 2) & ~hit)


def test_week_of_twenty_tags_with_faults_equals_the_same_data_as_files(home, monkeypatch):
    """A week of 1-minute readings of 20 PI points (201 600 values), 1 000 values per request
    (so every stream is paged), with HTTP 5xx, 429, dropped connections, truncated JSON and slow
    answers: every value is stored once with its flag (Good / Questionable), every digital state
    is quarantined once with its name, and the lake holds what the same readings give as a file."""
    data = _with_flags(week_data(seed=12))
    states = data["state"].notna()
    monkeypatch.setenv("PI_USER", "svc-thermaliq")
    monkeypatch.setenv("PI_PASSWORD", "s3cret-pi")
    with PiWebApiSimulator(data, data_server="PISRV01", basic=("svc-thermaliq", "s3cret-pi"),
                           max_count=1000) as sim:
        sim.set_faults(error_rate=0.04, rate_limit_rate=0.04, disconnect_rate=0.02,
                       truncate_rate=0.02, slow_rate=0.01, delay_s=3, seed=4)
        write_facility(home.root, twenty_tag_config("PI-1", {
            "kind": "piwebapi", "url": sim.url, "data_server": "PISRV01", "auth": "basic",
            "username_env": "PI_USER", "password_env": "PI_PASSWORD", "max_count": 1000,
            "batch_tags": 8, "timeout_s": 2}))
        facility = load_facility(home.facility_file("PI-1"))
        start, end = periods.day_window(FIRST, LAST, TZ)
        summary = ingest_remote(home, facility, start, end,
                                credentials=source_credentials(facility.source),
                                retry=RetryPolicy(**FAST))
        counters = dict(sim.counters)
    faults = sum(counters[k] for k in ("error", "rate_limit", "disconnect", "truncate", "slow"))
    assert faults >= 10 and counters["requests"] > 200, counters    # 20 x ~11 pages at least
    assert summary.readings_read == (~states).sum()
    assert summary.rejected == states.sum() > 150

    quality = data["questionable"].map({True: "Questionable", False: "Good"})
    ingest_as_files(home, "FILES-2", data[~states].assign(quality=quality[~states]))
    got, want = stored(home, "PI-1"), stored(home, "FILES-2")
    assert len(got) == len(want) == 201_600 - states.sum()
    pd.testing.assert_frame_equal(got, want)                       # bit-exact values, same flags
    assert (got["quality"] == "Questionable").sum() == data["questionable"].sum()

    q = quarantined(home, "PI-1")
    assert sorted(q["reason"].unique()) == sorted(f"PI digital state {s}" for s in STATES)
    assert len(q) == states.sum() and "s3cret-pi" not in q.to_string()


def test_incremental_second_run_reads_nothing_old(home):
    """After a full read, a second run starts each point after its last stored value: nothing
    is read again and only one streamset request per batch is made (no paging)."""
    data = week_data(seed=13).query("tag in ['FT-101', 'FT-201', 'PT-201', 'TT-202']")
    with PiWebApiSimulator(data, max_count=5000) as sim:
        write_facility(home.root, twenty_tag_config("PI-2", {
            "kind": "piwebapi", "url": sim.url, "data_server": "PISRV01", "max_count": 5000}))
        facility = load_facility(home.facility_file("PI-2"))
        start, end = periods.day_window(FIRST, LAST, TZ)
        first = ingest_remote(home, facility, start, end, credentials=Credentials())
        before = sim.counters["requests"]
        again = ingest_remote(home, facility, start, end, credentials=Credentials())
        requests_again = sim.counters["requests"] - before
    assert first.readings_stored == 4 * 7 * 1440
    assert again.readings_read == 0 and again.readings_stored == 0
    assert requests_again == 20 + 1        # 20 point look-ups, one streamset of the 4 found
    assert sum("not found" in n for n in first.notes) == 16


def test_check_source_lists_missing_points_and_a_bad_password_is_never_shown(home, monkeypatch, caplog):
    """check_source resolves every tag to a WebId and lists the points the server lacks; a wrong
    password is a 401, not retried, and appears in no message or log."""
    data = week_data().query("tag not in ['EL-15', 'EL-16']").groupby("tag").head(100)
    monkeypatch.setenv("PI_USER", "svc")
    monkeypatch.setenv("PI_PASSWORD", "wrong-pw-987")
    with PiWebApiSimulator(data, basic=("svc", "right")) as sim:
        write_facility(home.root, twenty_tag_config("PI-3", {
            "kind": "piwebapi", "url": sim.url, "data_server": "PISRV01", "auth": "basic",
            "username_env": "PI_USER", "password_env": "PI_PASSWORD"}))
        facility = load_facility(home.facility_file("PI-3"))
        with caplog.at_level(logging.DEBUG):
            denied = check_source(home, facility, source_credentials(facility.source))
        ok = check_source(home, facility, Credentials("svc", "right"))
        assert sim.counters["unauthorized"] == 1
    assert "401" in denied.error and "wrong-pw-987" not in denied.error + caplog.text
    assert [t for t, _ in ok.missing] == ["EL-15", "EL-16"] and len(ok.found) == 18
    assert "PI Point not found" in dict(ok.missing)["EL-15"]


def test_naive_times_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        fetch_pi_readings("http://127.0.0.1:9/piwebapi", "S", ["T"], pd.Timestamp("2024-05-30"),
                          pd.Timestamp("2024-05-31", tz="UTC"))
    with pytest.raises(ValueError, match="max_count"):
        fetch_pi_readings("http://127.0.0.1:9/piwebapi", "S", ["T"], pd.Timestamp("2024-05-30", tz="UTC"),
                          pd.Timestamp("2024-05-31", tz="UTC"), max_count=0)


def test_an_unreachable_server_fails_after_the_policy():
    with pytest.raises(HistorianError, match="after 2 attempt"):
        fetch_pi_readings("http://127.0.0.1:9/piwebapi", "S", ["T"], pd.Timestamp("2024-05-30", tz="UTC"),
                          pd.Timestamp("2024-05-31", tz="UTC"), retry=RetryPolicy(attempts=2, base_s=0.01))
