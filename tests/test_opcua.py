"""The OPC UA Historical Access source against a real asyncua server on 127.0.0.1.

The server (``thermaliq.sources.opcua_server``) historizes the readings given; faults are drawn
per node read from a seeded generator. Quality codes are OPC UA StatusCodes (IEC 62541-4 §7.39;
values as in asyncua's ``ua.StatusCodes``): Good 0, UncertainSubNormal 0x40950000,
BadSensorFailure 0x808C0000.
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
from thermaliq.sources.opcua import fetch_opcua_readings, node_for, quality_of
from thermaliq.sources.opcua_server import OpcUaTestServer
from thermaliq.sources.retry import RetryPolicy, reset_breakers
from thermaliq.store import lake

UNCERTAIN, BAD = 0x40950000, 0x808C0000
FAST = dict(attempts=8, base_s=0.01, max_s=0.05, seed=1)   # the default policy, waits shortened


@pytest.fixture(autouse=True)
def _fresh_breakers():
    reset_breakers()
    yield
    reset_breakers()


def test_quality_from_status_code_severity_bits():
    """IEC 62541-4 §7.39: bits 31..30 = 00 Good, 01 Uncertain, 1x Bad."""
    assert quality_of(0) == "Good"
    assert quality_of(UNCERTAIN) == "Uncertain"
    assert quality_of(BAD) == "Bad" and quality_of(0xC0000000) == "Bad"
    assert node_for("FT-101", {}, 3) == "ns=3;s=FT-101"
    assert node_for("FT-101", {"FT-101": "ns=2;s=B1.FT101"}) == "ns=2;s=B1.FT101"


def _with_statuses(data: pd.DataFrame) -> pd.DataFrame:
    """Every 997th reading Uncertain, every 1009th Bad (neither rule hits the same row first)."""
    status = pd.Series(0, index=data.index, dtype="int64")
    status[data.index % 997 == 5] = UNCERTAIN
    status[data.index % 1009 == 7] = BAD
    return data.assign(status=status)


def test_week_of_twenty_tags_with_faults_equals_the_same_data_as_files(home, monkeypatch):
    """A week of 1-minute readings of 20 tags (201 600 values) through OPC UA HA with service
    faults, dropped connections and slow answers: every Good/Uncertain reading is stored once
    with its quality, every Bad one is quarantined once with its code, and the lake holds what
    the same readings give as a file."""
    data = _with_statuses(week_data())
    bad = data["status"] == BAD
    monkeypatch.setenv("OPC_USER", "operator")
    monkeypatch.setenv("OPC_PASSWORD", "s3cret-opc")
    with OpcUaTestServer(data, username="operator", password="s3cret-opc", max_values=5000) as srv:
        srv.set_faults(error_rate=0.01, disconnect_rate=0.004, slow_rate=0.002, delay_s=6, seed=5)
        write_facility(home.root, twenty_tag_config("OPC-1", {
            "kind": "opcua", "endpoint": srv.endpoint, "nodes": {"FT-101": "ns=2;s=FT-101",
                                                                 "TT-202": "0:Objects/2:Plant/2:TT-202"},
            "username_env": "OPC_USER", "password_env": "OPC_PASSWORD", "timeout_s": 4,
            "batch_tags": 10}))
        facility = load_facility(home.facility_file("OPC-1"))
        start, end = periods.day_window(FIRST, LAST, TZ)
        summary = ingest_remote(home, facility, start, end,
                                credentials=source_credentials(facility.source),
                                retry=RetryPolicy(**FAST), page_values=1000)
        counters = dict(srv.counters)
    assert counters["error"] + counters["disconnect"] + counters["slow"] >= 5, counters
    assert summary.readings_read == (~bad).sum() == 201_600 - bad.sum()
    assert summary.rejected == bad.sum() > 150

    quality = data["status"].map({0: "Good", UNCERTAIN: "Uncertain"})
    ingest_as_files(home, "FILES-1", data[~bad].assign(quality=quality[~bad]))
    got, want = stored(home, "OPC-1"), stored(home, "FILES-1")
    assert len(got) == len(want) == 201_600 - bad.sum()
    pd.testing.assert_frame_equal(got, want)                       # bit-exact values, same quality
    assert (got["quality"] == "Uncertain").sum() == (data["status"] == UNCERTAIN).sum()

    q = quarantined(home, "OPC-1")
    assert len(q) == bad.sum()
    assert q["reason"].eq("OPC UA status BadSensorFailure (0x808C0000)").all()
    assert "s3cret-opc" not in q.to_string()


def test_incremental_reads_after_the_last_stored_reading_and_refills_a_missing_day(home):
    """A second run asks only for what is newer than the lake holds (nothing: 0 read); after a
    day's partition is lost, the tags are read over the whole window and the day comes back.
    (Four of the 20 tags are on the server: the others are noted as unknown nodes.)"""
    with OpcUaTestServer(week_data().query("tag in ['FT-101', 'FT-201', 'PT-201', 'TT-202']")) as srv:
        write_facility(home.root, twenty_tag_config("OPC-2", {"kind": "opcua",
                                                             "endpoint": srv.endpoint}))
        facility = load_facility(home.facility_file("OPC-2"))
        start, end = periods.day_window(FIRST, LAST, TZ)
        first = ingest_remote(home, facility, start, end, credentials=Credentials())
        reads = srv.counters["reads"]
        again = ingest_remote(home, facility, start, end, credentials=Credentials())
        assert again.readings_read == 0 and again.readings_stored == 0
        assert srv.counters["reads"] - reads == 4            # one empty page per node
        lake.readings_partition(home.lake, "OPC-2", FIRST).unlink()
        refill = ingest_remote(home, facility, start, end, credentials=Credentials())
    assert first.readings_stored == 4 * 7 * 1440
    assert refill.readings_stored == 4 * 1440                 # the lost day, every tag
    assert len(stored(home, "OPC-2")) == 4 * 7 * 1440
    assert any("EL-01: node 'ns=2;s=EL-01' not found" in n for n in first.notes)


def test_check_source_lists_missing_nodes_and_a_bad_password_is_never_shown(home, monkeypatch, caplog):
    """check_source resolves node ids and browse paths; unknown ones are listed with why. A
    wrong password fails at once (not retried) without the password in any message or log."""
    data = week_data().query("tag != 'EL-16'")
    monkeypatch.setenv("OPC_USER", "operator")
    monkeypatch.setenv("OPC_PASSWORD", "wrong-password-123")
    with OpcUaTestServer(data, username="operator", password="right") as srv:
        write_facility(home.root, twenty_tag_config("OPC-3", {
            "kind": "opcua", "endpoint": srv.endpoint, "nodes": {"EL-15": "0:Objects/2:Plant/2:NOPE"},
            "username_env": "OPC_USER", "password_env": "OPC_PASSWORD", "timeout_s": 2}))
        facility = load_facility(home.facility_file("OPC-3"))
        with caplog.at_level(logging.DEBUG):
            denied = check_source(home, facility, source_credentials(facility.source))
        assert denied.error and "wrong-password-123" not in denied.error + caplog.text
        ok = check_source(home, facility, Credentials("operator", "right"))
    assert not ok.ok and ok.error is None
    assert [t for t, _ in ok.missing] == ["EL-15", "EL-16"]
    assert "NOPE" in dict(ok.missing)["EL-15"] and "BadNodeIdUnknown" in dict(ok.missing)["EL-16"]
    assert len(ok.found) == 18 and dict(ok.found)["FT-101"] == "ns=2;s=FT-101"


def test_a_dead_endpoint_fails_after_the_policy_and_opens_the_circuit():
    """Nothing listens on the port: each call fails after its retries (HistorianError), and
    after failure_threshold (3) failed calls the next one fails fast: circuit open."""
    start = pd.Timestamp("2024-05-30", tz="UTC")
    kwargs = dict(timeout_s=0.5, retry=RetryPolicy(attempts=2, base_s=0.01))
    for _ in range(3):
        with pytest.raises(HistorianError, match="after 2 attempt"):
            fetch_opcua_readings("opc.tcp://127.0.0.1:9", ["FT-101"], start,
                                 start + pd.Timedelta(hours=1), **kwargs)
    with pytest.raises(HistorianError, match="circuit open"):
        fetch_opcua_readings("opc.tcp://127.0.0.1:9", ["FT-101"], start,
                             start + pd.Timedelta(hours=1), **kwargs)


def _self_signed(folder, name: str, uri: str) -> tuple[str, str]:
    """A self-signed application certificate (DER) and key (PEM), made with asyncua's cert_gen."""
    import asyncio

    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, cert = folder / f"{name}.pem", folder / f"{name}.der"
    asyncio.run(setup_self_signed_certificate(
        key, cert, uri, "127.0.0.1", [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
        {"commonName": name}))
    return str(cert), str(key)


def test_sign_and_encrypt_with_a_client_certificate(home):
    """A server that offers only Basic256Sha256 SignAndEncrypt is read through a facility whose
    source names a client certificate and key in the home; without them the same server
    cannot be read (no matching endpoint), and the failure is an error, not data."""
    pki = home.root / "pki"
    pki.mkdir()
    server_cert, server_key = _self_signed(pki, "server", "urn:thermaliq:opcua-test-server")
    _self_signed(pki, "client", "urn:freeopcua:client")
    data = week_data().query("tag in ['FT-101', 'FT-201']").groupby("tag").head(500)
    with OpcUaTestServer(data, certificate=server_cert, private_key=server_key) as srv:
        write_facility(home.root, twenty_tag_config("OPC-S", {
            "kind": "opcua", "endpoint": srv.endpoint, "security_mode": "SignAndEncrypt",
            "certificate": "pki/client.der", "private_key": "pki/client.pem", "timeout_s": 5}))
        facility = load_facility(home.facility_file("OPC-S"))
        start, end = periods.day_window(FIRST, LAST, TZ)
        summary = ingest_remote(home, facility, start, end, credentials=Credentials())
        with pytest.raises(HistorianError):
            fetch_opcua_readings(srv.endpoint, ["FT-101"], start, end,
                                 retry=RetryPolicy(attempts=1), timeout_s=5)
    assert summary.readings_stored == len(data)
