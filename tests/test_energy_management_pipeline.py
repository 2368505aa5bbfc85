"""Emissions, CO2e columns and baselines through the library pipeline (issue #18), no Prefect."""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.config import load_facility
from thermaliq.pipeline import baselines, calculate, ingest, results
from thermaliq.report.em_metrics import em_gauges
from thermaliq.store import catalog

TZ = "Europe/Berlin"
D0 = date(2024, 6, 3)
STEAM_KG_H = [8000.0, 9000.0, 10000.0, 11000.0, 9500.0]


def _config(**extra) -> dict:
    config = constant_boiler_config(timezone=TZ)
    config["streams"].append({"id": "power_in", "role": "input", "carrier": "electricity",
                              "flow": {"tag": "JT-301", "unit": "kW"}})
    config["emission_factors"] = {"electricity": {"value": 400, "unit": "kg/MWh"}}
    config["prices"] = {"natural_gas": {"value": 8.0, "unit": "USD/MMBtu"}}
    config["thresholds"] = {"frozen_after": "0"}      # constant test readings are not a frozen meter
    config.update(extra)
    return config


def _gas_m3_h(steam_kg_h: float) -> float:
    return 300.0 + 0.06 * steam_kg_h


def _readings(days: int, degrade_last: float = 1.0) -> pd.DataFrame:
    frames = []
    for i in range(days):
        d = D0 + timedelta(days=i)
        gas = _gas_m3_h(STEAM_KG_H[i]) * (degrade_last if i == days - 1 else 1.0)
        frames.append(constant_readings(d, d, TZ, {"FT-101": gas, "FT-201": STEAM_KG_H[i],
                                                   "PT-201": 1.0, "TT-202": 105.0, "JT-301": 100.0}))
    return pd.concat(frames, ignore_index=True)


def _run(home, config: dict, frame: pd.DataFrame, days: int):
    write_facility(home.root, config)
    write_daily_csv(home.root, "BOILER-1", frame)
    facility = load_facility(home.facility_file("BOILER-1"))
    ingest.ingest_files(home, facility)
    result = calculate.calculate_window(home, facility, D0, D0 + timedelta(days=days - 1))
    results.store_window(home, facility, result, run_id="test")
    return facility, result


def test_day_emissions_and_co2e_columns(home):
    """Hand-worked, one day of the constant boiler plus 100 kW of grid power:
    gas 750 m3/h × 24 h × 39.0 MJ/m3 (HHV) = 702 000 MJ = 195 000 kWh = 665.367 MMBtu
    (195 000 / 293.0711 kWh/MMBtu). EPA Table C-1/C-2: CO2 = 665.367 × 53.06 = 35 304.4 kg,
    CH4 = 0.665 kg, N2O = 0.0665 kg; AR5 CO2e = 35 304.4 + 28 × 0.6654 + 265 × 0.06654
    = 35 340.6 kg. Power 2 400 kWh × 400 kg/MWh = 960 kg. Day CO2e = 36 300.6 kg."""
    config = constant_boiler_config(timezone=TZ)
    frame = constant_readings(D0, D0, TZ, {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0,
                                           "TT-202": 105.0, "JT-301": 100.0})
    facility, result = _run(home, _config(streams=config["streams"] + _config()["streams"][2:]),
                            frame, 1)
    con = catalog.memory_connection(home)
    em = con.execute("SELECT stream_id, scope, co2_kg, ch4_kg, n2o_kg, co2e_kg, factor_source "
                     "FROM emissions WHERE granularity = 'day' AND is_current ORDER BY stream_id").df()
    gas = em.set_index("stream_id").loc["gas"]
    assert gas["co2_kg"] == pytest.approx(35304.4, rel=1e-4)    # 1e-4: the worked value's 6 digits
    assert gas["ch4_kg"] == pytest.approx(0.665367, rel=1e-4)
    assert gas["co2e_kg"] == pytest.approx(35340.6, rel=1e-4)
    assert "Table C-1" in gas["factor_source"] and "AR5" in gas["factor_source"]
    power = em.set_index("stream_id").loc["power_in"]
    assert (power["scope"], power["co2e_kg"]) == ("indirect", pytest.approx(960.0))
    day = con.execute("SELECT co2e_kg, co2e_intensity_kg_per_mwh, useful_output_kwh FROM calculations "
                      "WHERE granularity = 'day' AND is_current").fetchall()[0]
    assert day[0] == pytest.approx(36300.6, rel=1e-4)
    assert day[1] == pytest.approx(day[0] / (day[2] / 1000.0))
    month = con.execute("SELECT co2e_kg FROM calculations WHERE granularity = 'month' AND is_current").fetchall()
    assert month[0][0] == pytest.approx(day[0])      # one day so far: month to date = the day
    # an identical rerun writes nothing (the month row compares its CO2e too)
    assert not results.store_window(home, facility, result, run_id="again").changed


def test_calculations_files_without_co2e_read_null(home):
    """A lake written before the CO2e columns (files without them) still reads: NULL there."""
    _run(home, _config(), _readings(1), 1)
    for path in (home.lake / "calculations").rglob("*.parquet"):
        frame = pd.read_parquet(path).drop(columns=["co2e_kg", "co2e_intensity_kg_per_mwh"])
        frame.to_parquet(path, index=False)
    con = catalog.memory_connection(home)
    rows = con.execute("SELECT count(*), count(co2e_kg) FROM calculations").fetchall()[0]
    assert rows[0] > 0 and rows[1] == 0


def test_no_grid_factor_gives_nan_not_a_silent_zero(home):
    """Electricity without emission_factors.electricity: its CO2e is unknown, so is the day's."""
    config = _config()
    config.pop("emission_factors")
    _run(home, config, _readings(1), 1)
    con = catalog.memory_connection(home)
    src, co2e = con.execute("SELECT factor_source, co2e_kg FROM emissions WHERE stream_id = 'power_in' "
                            "AND granularity = 'day'").fetchall()[0]
    assert "no grid factor" in src and co2e is None or co2e != co2e
    day = con.execute("SELECT co2e_kg FROM calculations WHERE granularity = 'day'").fetchall()[0][0]
    assert day is None or day != day


def test_baseline_fit_cusum_and_versions(home):
    """Hand-worked: gas = 300 + 0.06 × steam [m3/h] on the baseline days (steam 8 000..11 000
    kg/h), so daily input is exactly linear in the useful output: R² = 1, NMBE = 0. Day 5 (steam
    9 500 kg/h, inside the range) burns 10 % more gas: expected gas = (300 + 570) m3/h × 24 h ×
    39 MJ/m3 / 3.6 = 226 200 kWh, plus 2 400 kWh of power; actual = 1.1 × 226 200 + 2 400;
    savings = −22 620 kWh, CUSUM = −22 620 kWh, EnPI = 251 220 / 228 600 = 1.0989."""
    baseline = {"start": D0.isoformat(), "end": (D0 + timedelta(days=3)).isoformat(),
                "regressors": ["useful_output"]}
    facility, _ = _run(home, _config(baseline=baseline), _readings(5, degrade_last=1.1), 5)
    first = baselines.update_baseline(home, facility, run_id="t1")
    assert (first.written, first.version, first.status) == (True, 1, "fitted"), first.reason
    con = catalog.memory_connection(home)
    model = con.execute("SELECT term, n, p, r_squared, nmbe_percent, meets_guideline14 FROM baselines "
                        "WHERE is_current ORDER BY term").df()
    assert list(model["term"]) == ["intercept", "useful_output_kwh"]
    assert (model["n"].iloc[0], model["p"].iloc[0]) == (4, 2)
    assert model["r_squared"].iloc[0] == pytest.approx(1.0, abs=1e-6)   # 1e-6: interval sums round
    assert bool(model["meets_guideline14"].iloc[0])
    last = con.execute("SELECT expected_input_kwh, actual_input_kwh, savings_kwh, cusum_kwh, enpi_ratio, "
                       "in_range FROM baseline_results WHERE is_current ORDER BY period_start DESC "
                       "LIMIT 1").fetchall()[0]
    # rel 1e-4 (2e-3 on the difference): the rates step at midnight and the interval grid meets
    # the step a few kWh off a day's exact 24 h x rate
    assert last[0] == pytest.approx(226200 + 2400, rel=1e-4)
    assert last[1] == pytest.approx(1.1 * 226200 + 2400, rel=1e-4)
    assert last[2] == pytest.approx(-22620, rel=2e-3) and last[3] == pytest.approx(-22620, rel=2e-3)
    assert last[4] == pytest.approx(251220 / 228600, rel=1e-4) and last[5]
    again = baselines.update_baseline(home, facility, run_id="t2")
    assert not again.written and again.version == 1           # nothing changed: no new version
    # the metrics file's gauges: the same numbers (issue #18 metrics)
    gauges = {name: value for name, value, _ in em_gauges(con, ["BOILER-1"])}
    assert gauges["thermaliq_baseline_cusum_kwh"] == pytest.approx(last[3])
    assert gauges["thermaliq_baseline_enpi_ratio"] == pytest.approx(last[4])
    assert "thermaliq_co2e_kg" in gauges
    # a changed baseline period is a new version; the old one stays queryable
    shorter = dict(baseline, end=(D0 + timedelta(days=2)).isoformat())
    write_facility(home.root, _config(baseline=shorter))
    changed = baselines.update_baseline(home, load_facility(home.facility_file("BOILER-1")), run_id="t3")
    assert (changed.written, changed.version) == (True, 2)
    con = catalog.memory_connection(home)
    assert con.execute("SELECT DISTINCT version FROM baselines WHERE is_current").fetchall() == [(2,)]
    assert con.execute("SELECT count(DISTINCT version) FROM baseline_results").fetchall()[0][0] == 2


def test_day_outside_the_regressor_range_is_flagged(home):
    """Steam 8 000..10 000 kg/h in the baseline (days 1-3); day 4's 11 000 kg/h lies outside:
    no expected input, flag outside_range, not extrapolated."""
    baseline = {"start": D0.isoformat(), "end": (D0 + timedelta(days=2)).isoformat(),
                "regressors": ["useful_output"]}
    facility, _ = _run(home, _config(baseline=baseline), _readings(4), 4)
    baselines.update_baseline(home, facility, run_id="t")
    con = catalog.memory_connection(home)
    row = con.execute("SELECT expected_input_kwh, in_range, flag FROM baseline_results "
                      "ORDER BY period_start DESC LIMIT 1").fetchall()[0]
    assert row[0] is None or row[0] != row[0]
    assert (row[1], row[2]) == (False, "outside_range")


def test_a_failed_fit_alone_still_reads_through_the_catalog(home):
    """The baseline period (2 days) has fewer days than a fit needs: the stored model is one
    'failed' row with its reason, and the catalog's views read it (every column, NULL where no fit;
    found by a 4-day demo backfill, whose report failed on the missing `coefficient` column)."""
    baseline = {"start": D0.isoformat(), "end": (D0 + timedelta(days=1)).isoformat(),
                "regressors": ["useful_output"]}
    facility, _ = _run(home, _config(baseline=baseline), _readings(2), 2)
    outcome = baselines.update_baseline(home, facility, run_id="t1")
    assert (outcome.written, outcome.status) == (True, "failed") and outcome.reason
    con = catalog.memory_connection(home)
    rows = con.execute("SELECT status, reason, term, coefficient, n, meets_guideline14 FROM baselines "
                       "WHERE is_current").fetchall()
    assert rows == [("failed", outcome.reason, None, None, None, None)]
