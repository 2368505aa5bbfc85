"""Flows end to end in one session-scoped Prefect harness (DESIGN §5, §6, §8)."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.store import catalog

pytestmark = pytest.mark.flow

BOILER_VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}


@pytest.fixture
def boiler_home(home):
    write_facility(home.root, constant_boiler_config())
    write_daily_csv(home.root, "BOILER-1",
                    constant_readings(date(2024, 3, 30), date(2024, 4, 1), "Europe/Berlin", BOILER_VALUES))
    return home


def _count(home, sql: str, params=()) -> int:
    con = catalog.memory_connection(home)
    return con.execute(sql, list(params)).fetchall()[0][0]


def test_backfill_constant_boiler_gives_7987_percent_and_is_idempotent(prefect_harness, boiler_home):
    """Issue #2 acceptance: the constant boiler's day efficiency is 79.87 % (±0.03 pt) through the
    whole pipeline; hand calculation: 10 000 kg/h x (2777.1 - 440.9) kJ/kg / (750 m3/h x 39 MJ/m3).
    2024-03-31 is the spring-forward day in Europe/Berlin (23 h, 92 quarter hours)."""
    from flows.backfill import backfill

    home = boiler_home
    summary = backfill(start="2024-03-30", end="2024-04-01", home=str(home.root))
    assert summary["windows_calculated"] == 1 and summary["windows_changed"] == 1
    assert home.catalog.exists()
    con = duckdb.connect(str(home.catalog), read_only=True)   # as a user would
    days = con.execute(
        "SELECT period_start, efficiency_percent, data_quality_score, status, basis, version "
        "FROM calculations WHERE is_current AND granularity = 'day' ORDER BY period_start").fetchall()
    con.close()
    assert len(days) == 3
    for _, eff, score, status, basis, version in days[1:]:
        assert eff == pytest.approx(79.87, abs=0.03)     # issue #2 tolerance
        assert (score, status, basis, version) == (1.0, "ok", "HHV", 1)
    intervals = _count(home, "SELECT count(*) FROM calculations WHERE is_current AND granularity = 'interval' "
                             "AND period_start >= TIMESTAMPTZ '2024-03-30 23:00:00+00' "
                             "AND period_start < TIMESTAMPTZ '2024-03-31 22:00:00+00'")
    assert intervals == 92                               # the 23-hour DST day
    before = _count(home, "SELECT count(*) FROM calculations")

    again = backfill(start="2024-03-30", end="2024-04-01", home=str(home.root))
    assert again["windows_changed"] == 0
    assert _count(home, "SELECT count(*) FROM calculations") == before   # nothing new written
    assert _count(home, "SELECT count(*) FROM runs WHERE flow = 'backfill' AND status = 'completed'") == 2


def test_recalculate_adds_a_version_with_its_reason(prefect_harness, boiler_home):
    from flows.backfill import backfill
    from flows.recalculate import recalculate

    home = boiler_home
    backfill(start="2024-03-30", end="2024-04-01", home=str(home.root))
    recalculate(start="2024-03-31", end="2024-03-31", reason="meter recalibrated", home=str(home.root))
    con = catalog.memory_connection(home)
    rows = con.execute(
        "SELECT version, is_current, reason FROM calculations WHERE granularity = 'day' "
        "AND period_start = TIMESTAMPTZ '2024-03-30 23:00:00+00' ORDER BY version").fetchall()
    assert rows == [(1, False, None), (2, True, "meter recalibrated")]
    runs = con.execute("SELECT parameters FROM runs WHERE flow = 'recalculate'").fetchall()
    assert "meter recalibrated" in runs[0][0]


def test_failing_facility_does_not_stop_the_others(prefect_harness, boiler_home):
    from flows.backfill import backfill

    home = boiler_home
    broken = constant_boiler_config("BROKEN-1")
    write_facility(home.root, broken)
    (home.root / "inbox" / "BROKEN-1").mkdir(parents=True)
    (home.root / "inbox" / "BROKEN-1" / "bad.csv").write_text("no_time_here,FT-101\n1,2\n")
    state = backfill(start="2024-03-30", end="2024-04-01", home=str(home.root), return_state=True)
    assert state.is_failed()
    assert "BROKEN-1" in state.message and "BOILER-1" not in state.message
    assert _count(home, "SELECT count(*) FROM calculations WHERE facility_id = 'BOILER-1' "
                        "AND granularity = 'day' AND status = 'ok'") == 3
    con = catalog.memory_connection(home)
    status, reason = con.execute("SELECT status, reason FROM runs").fetchall()[0]
    assert status == "failed" and "BROKEN-1" in reason and "bad.csv" in reason


def test_cli_backfill_from_a_csv_export_and_a_yaml(prefect_harness, boiler_home):
    """Issue #3/#5: a user with one YAML and CSV exports gets `readings` and results with one
    command; exit 0; a second identical run writes no new version and still exits 0."""
    from typer.testing import CliRunner

    from flows.cli import app

    home = boiler_home
    args = ["backfill", "--home", str(home.root), "--start", "2024-03-30", "--end", "2024-04-01"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "BOILER-1" in first.output and "79.87" in first.output
    assert _count(home, "SELECT count(*) FROM readings") == 4 * (24 + 23 + 24) * 60
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and "with new results: 0" in second.output


def test_cli_exit_codes_for_usage_and_config_errors(prefect_harness, boiler_home):
    """DESIGN §8: 2 for usage or configuration errors, with a message naming the problem."""
    from typer.testing import CliRunner

    from flows.cli import app

    home = boiler_home
    bad_date = CliRunner().invoke(app, ["backfill", "--home", str(home.root), "--start", "2024-13-01",
                                        "--end", "2024-04-01"])
    assert bad_date.exit_code == 2 and "start='2024-13-01' is not an ISO date" in bad_date.output
    (home.facilities / "BAD.yaml").write_text("facility_id: BAD\nname: x\n")
    check = CliRunner().invoke(app, ["check-config", "--home", str(home.root)])
    assert check.exit_code == 2 and "BAD.yaml: type: required field is missing" in check.output


def test_nightly_processes_the_given_day(prefect_harness, boiler_home):
    """The nightly flow with an explicit date (as a retried or late run passes it) calculates
    exactly that local day and records the run."""
    from flows.nightly import nightly

    home = boiler_home
    summary = nightly(date="2024-04-01", home=str(home.root))
    assert (summary["first"], summary["last"]) == ("2024-04-01", "2024-04-01")
    con = catalog.memory_connection(home)
    days = con.execute("SELECT period_start FROM calculations WHERE granularity = 'day'").fetchall()
    assert [d[0].isoformat() for d in days] == ["2024-03-31T22:00:00+00:00"]   # local midnight, CEST
    assert con.execute("SELECT status FROM runs WHERE flow = 'nightly'").fetchall() == [("completed",)]


def test_yesterday_is_taken_in_each_facility_time_zone():
    """A run scheduled at 2024-03-10 07:30 UTC processes 2024-03-09 in Chicago (01:30 CST) and
    2024-03-09 in Tokyo too (16:30 JST on the 10th → yesterday is the 9th)."""
    import pandas as pd

    from flows.params import yesterday_in

    now = pd.Timestamp("2024-03-10 07:30", tz="UTC")
    assert yesterday_in("America/Chicago", now) == date(2024, 3, 9)
    assert yesterday_in("Asia/Tokyo", now) == date(2024, 3, 9)
    assert yesterday_in("Asia/Tokyo", pd.Timestamp("2024-03-10 16:00", tz="UTC")) == date(2024, 3, 10)
