"""Operating states, metering conventions and the edge cases of issue #14, hand-worked.

Fuel-table numbers used below (thermaliq/physics/fuels.py, NETL QGESS natural gas):
HHV 52.295 MJ/kg, LHV 47.201 MJ/kg, HHV/LHV = 1.107922.
"""
import math

import numpy as np
import pandas as pd
import pytest

from thermaliq import config
from thermaliq.errors import ConfigErrors
from thermaliq.physics import balance, bounds, combustion, energy, fuels, metering, operating, water
from thermaliq.pipeline.calculate import period_status
from thermaliq.quality import alerts

HOUR = pd.Timedelta("1h")


def facility(streams, basis="HHV", type_="hot_water_boiler", interval="1h"):
    return config.parse_facility({
        "facility_id": "OP-1", "name": "Operating test", "type": type_, "timezone": "UTC",
        "interval": interval, "basis": basis,
        "source": {"kind": "files", "path": "inbox/OP-1/*.csv"}, "streams": streams})


GAS = {"id": "gas", "role": "input", "carrier": "natural_gas",
       "flow": {"tag": "FT-1", "unit": "m3/h", "low_flow_cutoff": 2.0}}
WATER = {"id": "heat", "role": "output", "carrier": "hot_water", "flow": {"tag": "FT-2", "unit": "t/h"},
         "supply_temperature": {"tag": "TT-1", "unit": "degC"},
         "return_temperature": {"tag": "TT-2", "unit": "degC"}}
FLUE = {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
        "temperature": {"tag": "TT-3", "unit": "degC"}, "o2": {"tag": "AT-1", "unit": "percent"},
        "air_temperature": {"value": 20, "unit": "degC"}}


def values(n=1, **tags):
    idx = pd.date_range("2026-01-05", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({k: np.broadcast_to(np.asarray(v, dtype="float64"), n) for k, v in tags.items()},
                        index=idx)


# --- metering conventions -------------------------------------------------------------------

def test_low_flow_cutoff_and_negative_readings_count_as_zero():
    """Cutoff 2.0 m3/h: -0.4 (negative) and 1.5 (below the cutoff) count as zero, 50 stays; the
    issues count both. 50 m3/h x 1 h of gas = 50 Sm3 x 52.295 MJ/kg x 0.7368 kg/Sm3 ..., so only
    its being non-zero matters here."""
    f = facility([GAS, WATER])
    e = energy.stream_energies(f, values(3, **{"FT-1": [-0.4, 1.5, 50.0], "FT-2": 1.0, "TT-1": 80,
                                               "TT-2": 60}), HOUR)
    gas = e.energy_kwh["gas"].tolist()
    assert gas[0] == 0.0 and gas[1] == 0.0 and gas[2] > 0
    text = " ".join(e.issues)
    assert "negative flow reading counted as zero in 1 interval" in text
    assert "below low_flow_cutoff 2 m3/h counted as zero in 1 interval" in text


def test_gas_at_line_conditions_292_3_standard_m3():
    """Issue #14: 100 m3/h of natural gas at 2.0 barg and 20 degC is
    100 x (3.01325 / 1.01325) x (288.15 / 293.15) / 1 = 292.31 standard m3/h."""
    assert metering.standard_volume_m3(100.0, 301325.0, 293.15) == pytest.approx(292.31, abs=0.01)
    gas = dict(GAS, flow={"tag": "FT-1", "unit": "m3/h"},
               line_pressure={"value": 2.0, "unit": "barg"}, line_temperature={"tag": "TT-9", "unit": "degC"})
    f = facility([gas, WATER])
    e = energy.stream_energies(f, values(1, **{"FT-1": 100.0, "TT-9": 20.0, "FT-2": 1, "TT-1": 80,
                                               "TT-2": 60}), HOUR)
    per_sm3_kwh = fuels.heating_value("natural_gas", "HHV", "volume") / 3.6e6
    assert e.energy_kwh["gas"].iloc[0] == pytest.approx(292.31 * per_sm3_kwh, rel=1e-4)
    # compressibility 0.99 divides by Z
    f = facility([dict(gas, compressibility=0.99), WATER])
    e2 = energy.stream_energies(f, values(1, **{"FT-1": 100.0, "TT-9": 20.0, "FT-2": 1, "TT-1": 80,
                                                "TT-2": 60}), HOUR)
    assert e2.energy_kwh["gas"].iloc[0] == pytest.approx(e.energy_kwh["gas"].iloc[0] / 0.99)


def test_energy_metered_gas_converted_from_its_basis_902_6():
    """Issue #14: 1 000 kWh(HHV)/h of gas on an LHV facility is 1 000 / 1.107922 = 902.59
    kWh(LHV)/h with the table ratio (52.295 / 47.201)."""
    gas = {"id": "gas", "role": "input", "carrier": "natural_gas",
           "flow": {"tag": "JT-1", "unit": "kW"}, "energy_basis": "HHV"}
    f = facility([gas, WATER], basis="LHV")
    e = energy.stream_energies(f, values(1, **{"JT-1": 1000.0, "FT-2": 1, "TT-1": 80, "TT-2": 60}), HOUR)
    assert e.energy_kwh["gas"].iloc[0] == pytest.approx(902.59, abs=0.01)


def test_energy_metered_fuel_without_energy_basis_is_a_config_error():
    gas = {"id": "gas", "role": "input", "carrier": "natural_gas", "counter": {"tag": "JQ-1", "unit": "MWh"}}
    with pytest.raises(ConfigErrors) as info:
        facility([gas, WATER])
    assert "streams[0].energy_basis" in str(info.value)


def test_propane_volume_needs_phase_and_gas_phase_is_vapour():
    """Issue #14: 10 m3/h of propane is 10 x 508 kg/m3 x 50.14 MJ/kg / 3.6 = 70 754 kW as a liquid
    but 10 x 93.51 MJ/Sm3 / 3.6 = 259.7 kW as vapour (44.096 g/mol x 101325 / (8.3145 x 288.15)
    = 1.865 kg/Sm3 x 50.14 MJ/kg = 93.51 MJ/Sm3, HHV)."""
    lpg = {"id": "lpg", "role": "input", "carrier": "propane", "flow": {"tag": "FT-1", "unit": "m3/h"}}
    with pytest.raises(ConfigErrors) as info:
        facility([lpg, WATER])
    assert "streams[0].phase" in str(info.value) and "'lpg'" in str(info.value)
    row = values(1, **{"FT-1": 10.0, "FT-2": 1, "TT-1": 80, "TT-2": 60})
    gas = energy.stream_energies(facility([dict(lpg, phase="gas"), WATER]), row, HOUR)
    liquid = energy.stream_energies(facility([dict(lpg, phase="liquid"), WATER]), row, HOUR)
    assert gas.energy_kwh["lpg"].iloc[0] == pytest.approx(259.7, abs=0.1)
    assert liquid.energy_kwh["lpg"].iloc[0] == pytest.approx(70754, rel=1e-3)


def test_line_conditions_need_a_plain_gas_volume():
    gas = dict(GAS, flow={"tag": "FT-1", "unit": "Nm3/h"}, line_pressure={"value": 2, "unit": "barg"},
               line_temperature={"value": 20, "unit": "degC"})
    with pytest.raises(ConfigErrors) as info:
        facility([gas, WATER])
    assert "streams[0].line_pressure" in str(info.value)


# --- steam ------------------------------------------------------------------------------------

STEAM = {"id": "steam", "role": "output", "carrier": "steam", "flow": {"tag": "FT-5", "unit": "kg/h"},
         "pressure": {"value": 10, "unit": "bar"}, "temperature": {"tag": "TT-5", "unit": "K"},
         "feedwater_temperature": {"value": 105, "unit": "degC"}}


def test_steam_slightly_below_saturation_is_saturated_and_further_is_invalid():
    """At 10 bar(a) T_sat = 453.03 K (IAPWS-IF97). 0.2 K below (default tolerance 2 K) is taken
    as saturated vapour and noted as a repair; 3 K below is NaN with its reason."""
    t_sat = float(water.t_sat_p(1e6))
    gas = dict(GAS, flow={"tag": "FT-1", "unit": "m3/h"})
    f = facility([gas, STEAM], type_="steam_boiler")
    e = energy.stream_energies(f, values(3, **{"FT-1": 100, "FT-5": 1000,
                                               "TT-5": [t_sat - 0.2, t_sat - 3.0, t_sat + 0.5]}), HOUR)
    h_g, _, _ = water.sat_props_p(1e6, 1)
    h_fw, _, _ = water.props_pt(1e6, 378.15)
    steam = e.energy_kwh["steam"].tolist()
    assert steam[0] == pytest.approx(1000 * (h_g - h_fw) / 3.6e6, rel=1e-9)
    assert math.isnan(steam[1])
    text = " ".join(e.issues)
    assert "up to 2 K below saturation taken as saturated (repaired) in 1 interval" in text
    assert "more than 2 K below saturation: NaN in 1 interval" in text


def test_steam_dryness_mixes_liquid_and_vapour_enthalpy():
    """Dryness 0.95 at 10 bar(a): h = h_f + 0.95 (h_g - h_f) (IAPWS-IF97 saturation states)."""
    steam = {k: v for k, v in STEAM.items() if k != "temperature"}
    steam["dryness"] = {"value": 95, "unit": "percent"}
    gas = dict(GAS, flow={"tag": "FT-1", "unit": "m3/h"})
    e = energy.stream_energies(facility([gas, steam], type_="steam_boiler"),
                               values(1, **{"FT-1": 100, "FT-5": 1000}), HOUR)
    h_f, _, _ = water.sat_props_p(1e6, 0)
    h_g, _, _ = water.sat_props_p(1e6, 1)
    h_fw, _, _ = water.props_pt(1e6, 378.15)
    assert e.energy_kwh["steam"].iloc[0] == pytest.approx(
        1000 * (h_f + 0.95 * (h_g - h_f) - h_fw) / 3.6e6, rel=1e-9)


# --- flue gas ---------------------------------------------------------------------------------

def test_flue_gas_zero_fuel_zero_loss_and_bounds_while_firing():
    """Fuel 0 with O2 21 %: loss 0 (standby). Firing with O2 20.95 %: NaN (air only). Firing with
    O2 20.5 % and 100 K: q = 100 x (0.66 / 0.5 + 0.009) = 132.9 % >= 100 %: NaN with its reason."""
    f = facility([GAS, WATER, FLUE])
    e = energy.stream_energies(f, values(3, **{"FT-1": [0.0, 50.0, 50.0], "FT-2": 1, "TT-1": 80,
                                               "TT-2": 60, "TT-3": [25.0, 150.0, 120.0],
                                               "AT-1": [21.0, 20.95, 20.5]}), HOUR)
    flue = e.energy_kwh["flue"].tolist()
    assert flue[0] == 0.0 and math.isnan(flue[1]) and math.isnan(flue[2])
    text = " ".join(e.issues)
    assert "O2 at or above 20.9 % while firing" in text and "at or above 100 % of the fuel input" in text


def test_wet_o2_is_converted_to_dry():
    """3.0 % wet O2 of natural gas is 3.57 % dry (issue #14: 'about 3.6 %'). Check by the inverse:
    at 3.571 % dry, flue_gas_moles gives O2 / (dry + H2O) = 3.0 %."""
    dry = combustion.o2_dry_from_wet(0.03, "natural_gas")
    assert dry == pytest.approx(0.03571, abs=2e-5)
    m = combustion.flue_gas_moles(dry, "natural_gas")
    wet_total = m["CO2"] + m["SO2"] + m["N2"] + m["O2"] + m["H2O"]
    assert float(m["O2"] / wet_total) == pytest.approx(0.03, rel=1e-6)
    flue = dict(FLUE, o2={"tag": "AT-1", "unit": "percent", "basis": "wet"})
    row = values(1, **{"FT-1": 50, "FT-2": 1, "TT-1": 80, "TT-2": 60, "TT-3": 150, "AT-1": 3.0})
    wet = energy.stream_energies(facility([GAS, WATER, flue]), row, HOUR).energy_kwh["flue"].iloc[0]
    row["AT-1"] = dry * 100
    as_dry = energy.stream_energies(facility([GAS, WATER, FLUE]), row, HOUR).energy_kwh["flue"].iloc[0]
    assert wet == pytest.approx(as_dry, rel=1e-9)


# --- efficiency bounds by basis ---------------------------------------------------------------

def _rows(eff, f, gas_kwh=100.0):
    e = pd.DataFrame({"gas": [gas_kwh], "heat": [gas_kwh * eff / 100]})
    return pd.DataFrame({"period_start": [pd.Timestamp("2026-01-05", tz="UTC")],
                         "period_end": [pd.Timestamp("2026-01-06", tz="UTC")], "basis": [f.basis],
                         "efficiency_percent": [eff], "balance_error_percent": [np.nan],
                         "data_quality_score": [1.0], "valid_intervals": [24], "firing_hours": [24.0],
                         "max_efficiency_percent": bounds.max_efficiency_percent(f, e)})


def test_condensing_boiler_104_percent_lhv_is_ok_and_bound_is_110_8():
    """Natural gas on LHV: bound = 100 x 52.295 / 47.201 = 110.79 %. 104 % is ok (condensing),
    112 % is invalid_efficiency with the bound as threshold; on HHV 101 % is invalid."""
    lhv = facility([GAS, WATER], basis="LHV")
    assert bounds.max_efficiency_percent(lhv, pd.DataFrame({"gas": [1.0]}))[0] == pytest.approx(110.79, abs=0.01)
    assert period_status(_rows(104.0, lhv), lhv).tolist() == ["ok"]
    assert period_status(_rows(112.0, lhv), lhv).tolist() == ["invalid_efficiency"]
    hhv = facility([GAS, WATER])
    assert period_status(_rows(101.0, hhv), hhv).tolist() == ["invalid_efficiency"]
    empty = pd.Series(dtype="float64")
    assert not (alerts.day_alerts(lhv, _rows(104.0, lhv), empty)["kind"] == "invalid_efficiency").any()
    high = alerts.day_alerts(lhv, _rows(112.0, lhv), empty)
    assert high.loc[high["kind"] == "invalid_efficiency", "threshold"].iloc[0] == pytest.approx(110.79, abs=0.01)


def test_bound_weights_electricity_with_ratio_one():
    """LHV facility, 90 kWh gas + 10 kWh power: 100 x (90 x 1.107922 + 10) / 100 = 109.71 %."""
    power = {"id": "power", "role": "input", "carrier": "electricity", "flow": {"tag": "JT-1", "unit": "kW"}}
    f = facility([GAS, power, WATER], basis="LHV")
    e = pd.DataFrame({"gas": [90.0], "power": [10.0], "heat": [0.0]})
    assert bounds.max_efficiency_percent(f, e)[0] == pytest.approx(109.713, abs=1e-3)


# --- operating states -------------------------------------------------------------------------

def _day(firing_hours: int):
    """A day of hourly values: gas 80 m3/h while firing, 0.3 m3/h (below the 2.0 cutoff) after;
    the O2 analyser holds its value, which the aligner excludes as frozen (NaN here) when off."""
    n = 24
    on = np.arange(n) < firing_hours
    v = values(n, **{"FT-1": np.where(on, 80.0, 0.3), "FT-2": 3.0, "TT-1": np.where(on, 80.0, 55.0),
                     "TT-2": np.where(on, 60.0, 55.0), "TT-3": np.where(on, 140.0, 60.0),
                     "AT-1": np.where(on, 3.0, np.nan)})
    tag_valid = v.notna()
    return v, tag_valid, tag_valid.all(axis=1)


def _results(f, v, tag_valid, valid, granularity="day"):
    e = energy.stream_energies(f, v, HOUR)
    states = operating.operating_states(f, e.energy_kwh, tag_valid)
    e, ok = operating.with_standby(e, valid, states)
    rows = balance.period_results(f, e, ok, granularity, states)
    rows["max_efficiency_percent"] = 100.0
    rows["status"] = period_status(rows, f)
    return states, rows


def test_half_day_standby_leaves_score_at_one_and_firing_hours_12():
    """Issue #14: 12 h firing + 12 h standby (gas below the cutoff, O2 frozen) -> 24 valid
    intervals of 24: score 1.0, firing_hours 12, standby_hours 12, status ok; the efficiency is that
    of the firing hours: 3 t/h x (h(80 degC) - h(60 degC)) over 80 m3/h of gas."""
    f = facility([GAS, WATER, FLUE])
    v, tag_valid, valid = _day(12)
    assert valid.sum() == 12          # without operating states half the day would be invalid
    states, rows = _results(f, v, tag_valid, valid)
    assert states.value_counts().to_dict() == {"firing": 12, "standby": 12}
    row = rows.iloc[0]
    assert row["data_quality_score"] == 1.0 and row["firing_hours"] == 12 and row["standby_hours"] == 12
    assert row["status"] == "ok"
    firing_only = _results(f, v.iloc[:12], tag_valid.iloc[:12], valid.iloc[:12])[1].iloc[0]
    assert row["efficiency_percent"] == pytest.approx(firing_only["efficiency_percent"], rel=1e-12)
    assert row["losses_kwh"] == pytest.approx(firing_only["losses_kwh"], rel=1e-12)


def test_day_without_firing_is_standby_without_efficiency():
    f = facility([GAS, WATER, FLUE])
    v, tag_valid, valid = _day(0)
    _, rows = _results(f, v, tag_valid, valid)
    row = rows.iloc[0]
    assert row["status"] == "standby" and math.isnan(row["efficiency_percent"])
    assert row["data_quality_score"] == 1.0 and row["standby_hours"] == 24 and row["firing_hours"] == 0


def test_missing_gas_meter_is_unknown_not_standby():
    """Standby needs the data that says so: a missing input quantity leaves the interval invalid."""
    f = facility([GAS, WATER, FLUE])
    v, tag_valid, valid = _day(0)
    v.iloc[:6, v.columns.get_loc("FT-1")] = np.nan
    tag_valid = v.notna()
    states, rows = _results(f, v, tag_valid, tag_valid.all(axis=1))
    assert (states.iloc[:6] == "unknown").all()
    assert rows.iloc[0]["data_quality_score"] == pytest.approx(18 / 24)


def test_offline_while_off_raises_no_meter_offline():
    """The O2 tag is silent 10 h: 8 h in standby then 2 h firing (limit 1 h) -> one alert of 2 h;
    silent 8 h in standby + 30 min firing -> none."""
    f = facility([GAS, WATER, FLUE])
    day = pd.Timestamp("2026-01-05", tz="UTC")
    days = pd.DataFrame({"period_start": [day], "period_end": [day + pd.Timedelta("1D")], "basis": ["HHV"],
                         "efficiency_percent": [np.nan], "balance_error_percent": [np.nan],
                         "data_quality_score": [1.0]})
    standby = pd.date_range(day, periods=8, freq="1h")

    def offline(hours):
        return pd.DataFrame({"tag": ["AT-1"], "kind": ["offline"], "start": [day],
                             "end": [day + pd.Timedelta(hours=hours)], "detail": [""]})
    empty = pd.Series(dtype="float64")
    got = alerts.day_alerts(f, days, empty, offline(10), standby)
    got = got[got["kind"] == "meter_offline"]
    assert len(got) == 1 and got["value"].iloc[0] == pytest.approx(2.0)
    assert not (alerts.day_alerts(f, days, empty, offline(8.5), standby)["kind"] == "meter_offline").any()
    assert (alerts.day_alerts(f, days, empty, offline(8.5))["kind"] == "meter_offline").any()


def test_calculations_view_reads_files_written_before_firing_hours(tmp_path):
    """Lake files of older versions have no firing_hours/standby_hours: the relation has the
    columns, NULL there."""
    import duckdb

    from thermaliq.store.catalog import RELATIONS, view_sql

    folder = tmp_path / "calculations" / "facility_id=OP-1" / "month=2026-01"
    folder.mkdir(parents=True)
    old = {c: None for c, _ in RELATIONS["calculations"]
           if c not in ("is_current", "firing_hours", "standby_hours")}
    old.update(facility_id="OP-1", granularity="day", period_start=pd.Timestamp("2026-01-05", tz="UTC"),
               period_end=pd.Timestamp("2026-01-06", tz="UTC"), calculated_at=pd.Timestamp("2026-01-06", tz="UTC"),
               efficiency_percent=90.0, status="ok", version=1, write_seq=1)
    pd.DataFrame([old]).to_parquet(folder / "00000000000000000001.parquet")
    df = duckdb.connect().execute(view_sql(tmp_path, "calculations", {"calculations"})).df()
    assert list(df.columns) == [c for c, _ in RELATIONS["calculations"]]
    assert df["firing_hours"].isna().all() and df["standby_hours"].isna().all()


def test_unconfigured_column_is_kept_and_a_later_stream_needs_only_a_recalculation(tmp_path):
    """Issue #14: a wide CSV with a column no stream uses (PT-202) is ingested without rejects;
    a configuration that later reads the steam pressure from PT-202 computes from the lake
    without a new ingest: the constant boiler of issue #2 (10 000 kg/h saturated at 1.0 MPa,
    feedwater 105 degC, 750 m3/h at 39.0 MJ/m3) gives 79.87 %."""
    from datetime import date

    from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
    from thermaliq.home import Home
    from thermaliq.pipeline import calculate, ingest

    home = Home(tmp_path)
    day = date(2024, 6, 3)
    cfg = constant_boiler_config(timezone="UTC")
    write_facility(tmp_path, cfg)
    frame = constant_readings(day, day, "UTC", {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0,
                                                "TT-202": 105.0, "PT-202": 1.0})
    write_daily_csv(tmp_path, "BOILER-1", frame)
    summary = ingest.ingest_files(home, config.parse_facility(cfg))
    assert summary.rejected == 0 and summary.unconfigured == 1440
    assert any("no stream uses were kept (PT-202)" in n for n in summary.notes)
    cfg["streams"][1]["pressure"]["tag"] = "PT-202"
    later = config.parse_facility(cfg)
    result = calculate.compute_window(home, later, day, day)
    assert result.days["efficiency_percent"].iloc[0] == pytest.approx(79.87, abs=0.01)
