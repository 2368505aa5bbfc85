"""Uncertainty, budget, blowdown and CHP columns through ingest → calculate → store → catalog."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.config import load_facility
from thermaliq.pipeline import calculate, ingest, results
from thermaliq.store import catalog

TZ = "Europe/Berlin"
VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
DAY = date(2024, 6, 4)
DAY2 = date(2024, 6, 5)


def _config():
    """The issue-2 boiler with the issue-17 standard uncertainties and 5 % blowdown."""
    cfg = constant_boiler_config(timezone=TZ)
    gas, steam = cfg["streams"]
    gas["flow"]["accuracy"] = {"percent_of_reading": 1.0}
    gas["heating_value"]["accuracy"] = {"percent_of_reading": 0.5}
    steam["flow"]["accuracy"] = {"percent_of_reading": 1.0}
    steam["pressure"]["accuracy"] = {"absolute": 0.01}
    steam["feedwater_temperature"]["accuracy"] = {"absolute": 1.0, "unit": "K"}
    cfg["streams"].append({"id": "blowdown", "role": "loss", "carrier": "blowdown", "of": "steam",
                           "percent_of_feedwater": 5.0})
    return cfg


def test_day_and_interval_rows_carry_uncertainty_and_the_budget_is_a_relation(home):
    """Issue #17: U (k = 2) = 2.41 pt on the issue-2 boiler for each of two days, each interval and
    the month (systematic errors: the month's effects are the days' effects added, so the relative
    uncertainty stays that of one interval); the blowdown loss is 0.58 % of input, so indirect efficiency = 99.42 %;
    `uncertainty_budget` lists the five inputs per quantity; not a CHP: the CHP columns are NULL."""
    write_facility(home.root, _config())
    write_daily_csv(home.root, "BOILER-1", constant_readings(DAY, DAY2, TZ, VALUES))
    facility = load_facility(home.facility_file("BOILER-1"))
    ingest.ingest_files(home, facility)
    result = calculate.calculate_window(home, facility, DAY, DAY2)
    results.store_window(home, facility, result, run_id="test")
    con = catalog.memory_connection(home)
    rows = con.execute(
        "SELECT granularity, efficiency_uncertainty_points, indirect_efficiency_percent, "
        "indirect_efficiency_uncertainty_points, purpa_efficiency_percent FROM calculations "
        "WHERE is_current").fetchall()
    assert {r[0] for r in rows} == {"day", "interval", "month"}
    for _, u, indirect, u_indirect, purpa in rows:
        assert u == pytest.approx(2.41, abs=0.01)
        assert indirect == pytest.approx(100 - 0.579, abs=0.01)
        assert 0 < u_indirect < 0.05      # the blowdown share moves little with the inputs
        assert purpa is None
    budget = con.execute(
        "SELECT source, round(contribution_points, 3) FROM uncertainty_budget "
        "WHERE quantity = 'efficiency' AND period_start = ? ORDER BY source",
        [pd.Timestamp(DAY, tz=TZ)]).fetchall()
    assert [b[0] for b in budget] == ["FT-101", "FT-201", "PT-201", "TT-202", "gas.heating_value"]
    assert dict(budget)["FT-201"] == pytest.approx(0.799, abs=0.002)    # η · 1 %


def test_chp_columns_in_calculations(home):
    """A gas engine CHP: fuel 1000 kW (given as power on the facility basis), electricity 300 kW
    and heat 450 kW: the issue's F = 100, E = 30, Q = 45 scaled by 10, so PURPA 52.5 %, EPA 68.57 %,
    PES 5.23 % (natural gas references 53 / 92 %), for the day and the month."""
    cfg = {
        "facility_id": "CHP-1", "name": "Gas engine", "type": "chp", "timezone": TZ,
        "interval": "15min", "basis": "LHV",
        "source": {"kind": "files", "path": "inbox/CHP-1/*.csv"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "JT-1", "unit": "kW"},
             "energy_basis": "LHV"},
            {"id": "power", "role": "output", "carrier": "electricity", "flow": {"tag": "JT-2", "unit": "kW"}},
            {"id": "heat", "role": "output", "carrier": "heat", "flow": {"tag": "JT-3", "unit": "kW"}}],
    }
    write_facility(home.root, cfg)
    write_daily_csv(home.root, "CHP-1",
                    constant_readings(DAY, DAY, TZ, {"JT-1": 1000.0, "JT-2": 300.0, "JT-3": 450.0}))
    facility = load_facility(home.facility_file("CHP-1"))
    ingest.ingest_files(home, facility)
    results.store_window(home, facility, calculate.calculate_window(home, facility, DAY, DAY),
                         run_id="test")
    con = catalog.memory_connection(home)
    for granularity in ("day", "month"):
        row = con.execute(
            "SELECT efficiency_percent, electrical_efficiency_percent, thermal_efficiency_percent, "
            "purpa_efficiency_percent, effective_electrical_efficiency_percent, "
            "primary_energy_savings_percent FROM calculations WHERE is_current AND granularity = ?",
            [granularity]).fetchone()
        assert row == pytest.approx((75.0, 30.0, 45.0, 52.5, 68.571, 5.229), abs=0.001), granularity
