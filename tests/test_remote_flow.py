"""OPC UA and PI Web API facilities through the backfill flow and the CLI (faults on).

A week of 1-minute readings of the 20 tags (issue #20's "Done when"), one facility per source
beside a files facility given the same readings: the backfill stores every reading once, the three facilities' readings
and day results are equal, and ``thermaliq check-source`` lists what a server lacks.
"""
from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.helpers import write_facility
from tests.remote_home import FIRST, LAST, TZ, stored, twenty_tag_config, week_data
from thermaliq.sources.opcua_server import OpcUaTestServer
from thermaliq.sources.pi_simulator import PiWebApiSimulator
from thermaliq.sources.retry import reset_breakers
from thermaliq.store import catalog

pytestmark = pytest.mark.flow
DAYS = (FIRST, LAST)
N_DAYS = (LAST - FIRST).days + 1


def test_backfill_from_opcua_and_piwebapi_equals_files(prefect_harness, home, monkeypatch):
    from flows.backfill import backfill

    data = week_data(seed=21)
    folder = home.root / "inbox" / "FILES-3"
    folder.mkdir(parents=True)
    data.assign(timestamp=data["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), value=data["value"].map(repr)
                )[["timestamp", "tag", "value"]].to_csv(folder / "week.csv", index=False)
    write_facility(home.root, twenty_tag_config("FILES-3", {"kind": "files", "format": "long",
                                                            "path": "inbox/FILES-3/*.csv"}))
    monkeypatch.setenv("PI_TOKEN", "tok-pi-flow")
    reset_breakers()
    with OpcUaTestServer(data) as opc, PiWebApiSimulator(data, token="tok-pi-flow", max_count=2000) as pi:
        opc.set_faults(error_rate=0.04, disconnect_rate=0.02, seed=3)
        pi.set_faults(error_rate=0.05, rate_limit_rate=0.05, truncate_rate=0.03, seed=2)
        write_facility(home.root, twenty_tag_config("OPC-F", {"kind": "opcua", "endpoint": opc.endpoint,
                                                              "timeout_s": 10}))
        write_facility(home.root, twenty_tag_config("PI-F", {
            "kind": "piwebapi", "url": pi.url, "data_server": "PISRV01", "auth": "bearer",
            "token_env": "PI_TOKEN", "max_count": 2000}))
        summary = backfill(start=DAYS[0].isoformat(), end=DAYS[1].isoformat(), home=str(home.root))
        counters = (dict(opc.counters), dict(pi.counters))
        cli = CliRunner().invoke(__import__("flows.cli", fromlist=["app"]).app,
                                 ["check-source", "-f", "OPC-F", "-f", "PI-F", "--home", str(home.root)])
    reset_breakers()
    assert summary["failures"] == []
    assert counters[0]["error"] + counters[0]["disconnect"] >= 1 and counters[1]["error"] >= 1, counters

    files = stored(home, "FILES-3")[["tag", "ts", "value"]]
    assert N_DAYS == 7 and len(files) == len(data) == 20 * N_DAYS * 1440
    for fid in ("OPC-F", "PI-F"):
        pd.testing.assert_frame_equal(stored(home, fid)[["tag", "ts", "value"]], files)
    con = catalog.memory_connection(home)
    days = con.execute("SELECT facility_id, period_start, energy_input_kwh, useful_output_kwh, "
                       "data_quality_score FROM calculations WHERE is_current AND granularity = 'day' "
                       "ORDER BY facility_id, period_start").df()
    con.close()
    by = {fid: part.drop(columns="facility_id").reset_index(drop=True)
          for fid, part in days.groupby("facility_id")}
    assert len(by["FILES-3"]) == N_DAYS
    pd.testing.assert_frame_equal(by["OPC-F"], by["FILES-3"])
    pd.testing.assert_frame_equal(by["PI-F"], by["FILES-3"])

    assert cli.exit_code == 0, cli.output
    assert "20 found, 0 missing" in cli.output and "tok-pi-flow" not in cli.output
