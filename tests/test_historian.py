"""Tests of thermaliq.sources.historian (REST connector, DESIGN §5) against thermaliq.sources.simulator on 127.0.0.1.

The simulator draws its faults from a seeded generator, so each run sees the same sequence of
faults; the tests assert that every kind of fault actually happened (counters) before trusting
that the connector survived it. Backoff waits are recorded instead of slept (``RetryPolicy.sleep``),
so nothing here depends on timing except the read timeouts, which use a 0.3 s limit against a
1.5 s server delay (a 5x margin on a loaded 2-core machine). A normal answer that is slower than
0.3 s on a loaded machine is one more timeout and retry, so those counters are checked as lower
bounds; the readings themselves must come out exactly once whatever happens.
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from thermaliq.sources import historian
from thermaliq.errors import ConfigError, HistorianError
from thermaliq.sources.historian import (CircuitBreaker, RetryPolicy, breaker_for, fetch_readings,
                                 token_from_env)
from thermaliq.sources.simulator import HistorianSimulator

TOKEN = "s3cr3t-t0ken-XYZ"
START = pd.Timestamp("2024-01-15 00:00", tz="UTC")
END = pd.Timestamp("2024-01-16 00:00", tz="UTC")


def plant_data(tags=("FT-101", "TT-201", "PT-201", "JT-301", "AT-501"), step="15min"):
    """Readings of several tags over 2024-01-14 .. 2024-01-16 (the query takes the middle day)."""
    ts = pd.date_range("2024-01-14", "2024-01-17", freq=step, tz="UTC", inclusive="left")
    frames = [pd.DataFrame({"tag": t, "ts": ts, "value": np.round(np.arange(len(ts)) * 0.5 + k, 3),
                            "unit": "kW"}) for k, t in enumerate(tags)]
    return pd.concat(frames, ignore_index=True)


def expected_set(df, tags):
    sel = df[df["tag"].isin(tags) & (df["ts"] >= START) & (df["ts"] < END)]
    return set(zip(sel["tag"], sel["ts"], sel["value"]))


@pytest.fixture(autouse=True)
def fresh_registry():
    historian.reset_breakers()
    historian.reset_stats()
    yield
    historian.reset_breakers()


class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def test_every_reading_exactly_once_through_faults(caplog):
    """500s, 429 with Retry-After, slow answers (> read timeout) and truncated JSON pages: the
    connector retries each and returns every reading of the window exactly once."""
    df = plant_data()
    tags = ["FT-101", "TT-201", "PT-201", "JT-301", "AT-501"]
    sleeps = Sleeps()
    caplog.set_level(logging.DEBUG)
    with HistorianSimulator(df, token=TOKEN, page_size=40) as sim:
        sim.set_faults(error_rate=0.15, rate_limit_rate=0.1, retry_after_s=2, truncate_rate=0.1,
                       slow_rate=0.08, delay_s=1.5, seed=5)
        r = fetch_readings(sim.url, "FAC-001", tags, START, END, token=TOKEN, timeout_s=0.3,
                           batch_tags=2, retry=RetryPolicy(attempts=12, base_s=0.01, sleep=sleeps),
                           breaker=CircuitBreaker(sim.url, failure_threshold=3))
        counters = dict(sim.counters)
        body = sim.last_body
    for fault in ("error", "rate_limit", "truncate", "slow"):
        assert counters[fault] > 0, f"the seeded fault sequence injected no {fault}"
    got = list(zip(r.readings["tag"], r.readings["ts"], r.readings["value"]))
    assert len(got) == len(set(got)) == 5 * 96  # exactly once: 5 tags x 96 quarter hours
    assert set(got) == expected_set(df, tags)
    assert r.rejects.empty
    assert set(r.readings["source"]) == {"historian:" + sim.url}
    assert sorted(r.readings["row"]) == list(range(1, 481))
    assert str(r.readings["ts"].dtype) == "datetime64[ns, UTC]"
    # every 429 made the connector wait exactly Retry-After; other waits are jittered backoff
    assert sleeps.count(2.0) == counters["rate_limit"]
    s = historian.stats()
    assert s["connector_timeouts_total"] >= counters["slow"]
    assert s["retries"] >= sum(counters[f] for f in ("error", "rate_limit", "truncate", "slow"))
    print("faults injected:", counters, "connector stats:", s)
    assert s["circuit_state"][sim.url] == 0
    assert body["start_time"] == "2024-01-15T00:00:00Z" and body["end_time"] == "2024-01-16T00:00:00Z"
    assert body["facility_id"] == "FAC-001" and len(body["tags"]) == 1  # last batch: 5th tag
    assert TOKEN not in caplog.text


def test_random_failures_with_default_breaker_registry():
    """fail_rate draws any fault at random; fetching through the module registry still succeeds."""
    df = plant_data(tags=("A", "B"))
    with HistorianSimulator(df, token=TOKEN, page_size=25) as sim:
        sim.set_faults(fail_rate=0.3, delay_s=1.5, retry_after_s=0, seed=2)
        r = fetch_readings(sim.url, "FAC-001", ["A", "B"], START, END, token=TOKEN, timeout_s=0.3,
                           retry=RetryPolicy(attempts=10, base_s=0.001, sleep=Sleeps()))
        faults = sum(sim.counters[f] for f in ("error", "rate_limit", "truncate", "slow"))
    assert faults > 0
    got = set(zip(r.readings["tag"], r.readings["ts"], r.readings["value"]))
    assert len(r.readings) == len(got) and got == expected_set(df, ["A", "B"])
    assert breaker_for(sim.url).state == "closed"


def test_401_is_not_retried_and_token_stays_secret(caplog):
    caplog.set_level(logging.DEBUG)
    with HistorianSimulator(plant_data(), token=TOKEN) as sim:
        with pytest.raises(HistorianError, match="HTTP 401") as err:
            fetch_readings(sim.url, "FAC-001", ["FT-101"], START, END, token="wrong-" + TOKEN,
                           retry=RetryPolicy(attempts=5, sleep=Sleeps()))
        assert sim.counters["requests"] == 1
    assert historian.stats()["retries"] == 0
    assert "token" in str(err.value)  # the hint says what to check
    for text in (str(err.value), repr(err.value), caplog.text):
        assert TOKEN not in text


def test_token_echoed_by_a_server_is_masked():
    """A (badly behaved) server that echoes the Authorization header in a 403 body: the error
    message quotes the body, but with the token replaced by ***."""
    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"error": "denied for " + self.headers["Authorization"]}).encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(HistorianError, match="HTTP 403") as err:
            fetch_readings(url, "F", ["T"], START, END, token=TOKEN)
    finally:
        server.shutdown()
        server.server_close()
    assert TOKEN not in str(err.value) and "***" in str(err.value)


def test_circuit_opens_after_consecutive_failures_and_fails_fast():
    with HistorianSimulator(plant_data(), token=TOKEN) as sim:
        sim.set_faults(error_rate=1.0)
        breaker_for(sim.url, failure_threshold=2)
        retry = RetryPolicy(attempts=2, base_s=0.001, sleep=Sleeps())
        for _ in range(2):
            with pytest.raises(HistorianError, match="HTTP 500 after 2 attempt"):
                fetch_readings(sim.url, "F", ["FT-101"], START, END, token=TOKEN, retry=retry)
        assert sim.counters["requests"] == 4
        with pytest.raises(HistorianError, match="circuit open"):
            fetch_readings(sim.url, "F", ["FT-101"], START, END, token=TOKEN, retry=retry)
        assert sim.counters["requests"] == 4  # failed fast: no request sent
    assert historian.stats()["circuit_state"][sim.url] == 1


def test_breaker_half_open_after_cooldown():
    """With a cooldown, one trial call is let through; its success closes the circuit, its
    failure opens it again at once."""
    now = [0.0]
    b = CircuitBreaker("http://h", failure_threshold=1, cooldown_s=60.0, clock=lambda: now[0])
    b.record_failure()
    with pytest.raises(HistorianError, match="circuit open"):
        b.before_call()
    now[0] = 61.0
    b.before_call()
    assert b.state == "half_open"
    b.record_failure()
    assert b.state == "open"
    now[0] = 122.0
    b.before_call()
    b.record_success()
    assert b.state == "closed" and b.failures == 0


def test_non_numeric_values_become_rejects():
    df = pd.DataFrame({"tag": ["FT-101"] * 3, "ts": pd.date_range(START, periods=3, freq="1h"),
                       "value": [1.0, "n/a", 3.0]})
    with HistorianSimulator(df) as sim:
        r = fetch_readings(sim.url, "F", ["FT-101"], START, END, token=None)
    assert r.readings["value"].tolist() == [1.0, 3.0]
    assert r.readings["row"].tolist() == [1, 3]
    assert list(zip(r.rejects["row"], r.rejects["reason"])) == [(2, "non-numeric value")]
    assert '"n/a"' in r.rejects["raw"].item()


def test_token_from_env(monkeypatch):
    monkeypatch.setenv("THERMALIQ_TEST_TOKEN", TOKEN)
    assert token_from_env("THERMALIQ_TEST_TOKEN") == TOKEN
    assert token_from_env(None) is None
    monkeypatch.delenv("THERMALIQ_TEST_TOKEN")
    with pytest.raises(ConfigError, match="THERMALIQ_TEST_TOKEN") as err:
        token_from_env("THERMALIQ_TEST_TOKEN")
    assert err.value.field == "source.token_env"


def test_naive_window_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_readings("http://127.0.0.1:9", "F", ["T"], pd.Timestamp("2024-01-15"), END, token=None)


def test_simulator_directory_source(tmp_path):
    """The simulator serves a directory of long CSV files (naive times read in its tz)."""
    (tmp_path / "a.csv").write_text("timestamp,tag,value,unit\n2024-01-15T06:00:00,FT-101,5,kW\n")
    with HistorianSimulator(tmp_path, tz="America/Chicago") as sim:
        r = fetch_readings(sim.url, "F", ["FT-101"], START, END, token=None)
    # 06:00 CST = 12:00 UTC (America/Chicago standard time is UTC-6)
    assert r.readings[["tag", "value", "unit"]].values.tolist() == [["FT-101", 5.0, "kW"]]
    assert r.readings["ts"].tolist() == [pd.Timestamp("2024-01-15 12:00", tz="UTC")]
