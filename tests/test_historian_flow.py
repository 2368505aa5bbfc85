"""Historian faults at scale through the flows: ~30 % of requests fail at random (HTTP 500,
429, truncated JSON), and every reading of the window is still stored exactly once."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.historian_home import DAY, TZ, simulator_data, write_historian_facility
from thermaliq.store import catalog
from thermaliq.sources import historian
from thermaliq.sources.simulator import HistorianSimulator

pytestmark = pytest.mark.flow


def test_thirty_percent_failures_every_reading_exactly_once(prefect_harness, home, monkeypatch):
    from flows.backfill import backfill

    data = simulator_data()
    monkeypatch.setenv("HIST_TOKEN_FLOW", "tok-flow-123")
    historian.reset_breakers()
    with HistorianSimulator(data, token="tok-flow-123", page_size=300) as sim:
        # P(no fault) = 0.9 x 0.9 x 0.87 = 0.705: 29.5 % of requests fail; Retry-After 0 s
        sim.set_faults(error_rate=0.1, rate_limit_rate=0.1, truncate_rate=0.13, retry_after_s=0,
                       seed=3)
        write_historian_facility(home, sim.url, "HIST_TOKEN_FLOW")
        summary = backfill(start=DAY.isoformat(), end=DAY.isoformat(), home=str(home.root))
        counters = dict(sim.counters)
    historian.reset_breakers()

    failed = counters["error"] + counters["rate_limit"] + counters["truncate"]
    assert failed >= 5 and 0.15 < failed / counters["requests"] < 0.45, counters
    assert summary["failures"] == []

    start = pd.Timestamp(DAY).tz_localize(TZ)
    end = start + pd.Timedelta(days=1)
    want = data[(data["ts"] >= start) & (data["ts"] < end)]
    want = want.sort_values(["tag", "ts"]).reset_index(drop=True)
    con = catalog.memory_connection(home)
    got = con.execute("SELECT tag, ts, value FROM readings WHERE facility_id = 'HIST-1' "
                      "ORDER BY tag, ts").df()
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    day = con.execute("SELECT data_quality_score FROM calculations WHERE is_current "
                      "AND granularity = 'day'").fetchone()[0]
    con.close()
    assert len(got) == len(want) == 4 * 24 * 60
    pd.testing.assert_series_equal(got["tag"], want["tag"].astype(got["tag"].dtype), check_names=False)
    assert (got["ts"].dt.tz_convert("UTC").to_numpy() == want["ts"].to_numpy()).all()
    assert (got["value"].to_numpy() == want["value"].to_numpy()).all()     # bit-exact floats
    assert quarantined == 0 and day == 1.0
