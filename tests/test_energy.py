"""Stream energies per interval: fuels, electricity, steam, hot water, losses."""
import numpy as np
import pandas as pd
import pytest

from thermaliq.physics import balance, combustion, energy, fuels, water
from thermaliq import config
from thermaliq.errors import ConfigError, ConfigErrors

H = pd.Timedelta("1h")
IDX = pd.date_range("2026-06-01", periods=3, freq="1h", tz="UTC")


def facility(streams, basis="HHV", ftype="steam_boiler"):
    return config.parse_facility({
        "facility_id": "E1", "name": "e", "type": ftype, "basis": basis, "interval": "1h",
        "source": {"kind": "files", "path": "inbox/*.csv"}, "streams": streams})


STEAM_OUT = {"id": "steam", "role": "output", "carrier": "steam",
             "flow": {"tag": "FS", "unit": "t/h"}, "pressure": {"value": 10, "unit": "barg"},
             "feedwater_temperature": {"value": 105, "unit": "degC"}}


def test_epa_chp_total_system_efficiency():
    """EPA CHP Partnership, 'Methods for Calculating CHP Efficiency': a CHP system using 100
    units of fuel to make 30 units of electricity and 45 units of useful heat has a total
    system efficiency (W_E + sum Q_TH) / Q_FUEL of 75 %."""
    fac = facility([
        {"id": "fuel", "role": "input", "carrier": "natural_gas", "counter": {"tag": "FQ", "unit": "MWh"},
         "energy_basis": "HHV"},   # on the facility's basis: taken as metered
        {"id": "power", "role": "output", "carrier": "electricity", "counter": {"tag": "EQ", "unit": "MWh"}},
        {"id": "heat", "role": "output", "carrier": "heat", "counter": {"tag": "HQ", "unit": "MWh"}},
    ], ftype="chp")
    vals = pd.DataFrame({"FQ": 100.0, "EQ": 30.0, "HQ": 45.0}, index=IDX)
    se = energy.stream_energies(fac, vals, H)
    assert se.energy_kwh["fuel"].tolist() == [100e3] * 3
    res = balance.period_results(fac, se, pd.Series(True, index=IDX), "interval")
    assert res.efficiency_percent.tolist() == pytest.approx([75.0] * 3, rel=1e-12)
    assert se.exergy_kwh["power"].iloc[0] == pytest.approx(30e3)      # electricity exergy = energy
    assert res.exergy_efficiency_percent.isna().all()                 # heat without temperature


def test_fuel_table_value_and_configured_basis_conversion():
    """Table HHV per Nm3 (hand: 1000 Nm3 x HHV/Nm3); a configured LHV on an HHV facility is
    multiplied by the fuel's HHV/LHV ratio."""
    fac = facility([
        {"id": "g1", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        {"id": "g2", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F2", "unit": "Nm3/h"},
         "heating_value": {"value": 10.0, "unit": "kWh/Nm3", "basis": "LHV"}},
        STEAM_OUT])
    vals = pd.DataFrame({"F1": 1000.0, "F2": 1000.0, "FS": 1.0}, index=IDX)
    e = energy.stream_energies(fac, vals, H).energy_kwh
    assert e["g1"].iloc[0] == pytest.approx(1000 * fuels.heating_value("natural_gas", "HHV", "Nm3") / 3.6e6)
    assert e["g2"].iloc[0] == pytest.approx(1000 * 10.0 * 52.295 / 47.201)


def test_hot_water_volume_metered_on_return():
    """Hand-worked: m = V rho(p, T_return); Q = m (h(p, T_s) - h(p, T_r))."""
    fac = facility([
        {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        {"id": "dh", "role": "output", "carrier": "hot_water", "flow": {"tag": "FV", "unit": "m3/h"},
         "meter_on": "return", "supply_temperature": {"tag": "TS", "unit": "degC"},
         "return_temperature": {"tag": "TR", "unit": "degC"}, "pressure": {"value": 3, "unit": "bar"}},
    ], ftype="hot_water_boiler")
    vals = pd.DataFrame({"F1": 100.0, "FV": 36.0, "TS": 90.0, "TR": 60.0}, index=IDX)
    e = energy.stream_energies(fac, vals, H).energy_kwh["dh"]
    m = 36.0 * water.rho_pt(3e5, 333.15)
    expected = m * (water.h_pt(3e5, 363.15) - water.h_pt(3e5, 333.15)) / 3.6e6
    assert e.iloc[0] == pytest.approx(expected, rel=1e-12)
    assert 1200 < e.iloc[0] < 1300       # ~36 t/h x 4.19 kJ/(kg K) x 30 K = 1250 kW


def test_superheated_steam_and_losses():
    """Superheated steam uses h(p, T); Siegert loss on HHV adds the latent heat; estimate =
    share of total input."""
    steam = dict(STEAM_OUT, temperature={"value": 250, "unit": "degC"})
    fac = facility([
        {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        steam,
        {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
         "temperature": {"tag": "TF", "unit": "degC"}, "o2": {"tag": "O2", "unit": "percent"},
         "air_temperature": {"value": 20, "unit": "degC"}},
        {"id": "flue_st", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
         "method": "stoichiometric", "temperature": {"tag": "TF", "unit": "degC"},
         "o2": {"tag": "O2", "unit": "percent"}, "air_temperature": {"value": 20, "unit": "degC"}},
        {"id": "shell", "role": "loss", "estimate": {"percent_of_input": 2.0}},
    ])
    vals = pd.DataFrame({"F1": 1000.0, "FS": 10.0, "TF": 180.0, "O2": 3.0}, index=IDX)
    se = energy.stream_energies(fac, vals, H)
    e = se.energy_kwh.iloc[0]
    p = 10e5 + 101325
    assert e["steam"] == pytest.approx(10000 * (water.h_pt(p, 523.15) - water.h_pt(p, 378.15)) / 3.6e6)
    e_hhv = e["gas"]
    e_lhv = e_hhv * 47.201 / 52.295
    q = combustion.siegert_loss_fraction(453.15, 293.15, 0.03, "natural_gas")
    assert e["flue"] == pytest.approx(q * e_lhv + e_hhv - e_lhv)
    assert e["flue_st"] == pytest.approx(
        combustion.stoichiometric_loss_fraction(453.15, 293.15, 0.03, "natural_gas", "HHV") * e_hhv)
    assert e["shell"] == pytest.approx(0.02 * e_hhv)


def test_missing_tag_gives_nan_and_issue_and_unknown_fuel_raises():
    fac = facility([
        {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        STEAM_OUT])
    se = energy.stream_energies(fac, pd.DataFrame({"F1": [1.0, np.nan, 3.0]}, index=IDX), H)
    assert se.energy_kwh["steam"].isna().all() and np.isnan(se.energy_kwh["gas"].iloc[1])
    assert any("FS" in i for i in se.issues)
    # an unknown fuel is refused when the configuration is loaded (issue #21), naming the field
    with pytest.raises(ConfigErrors, match=r"streams\[0\]\.carrier.*unobtainium"):
        facility([{"id": "x", "role": "input", "carrier": "unobtainium", "flow": {"tag": "F1", "unit": "kg/h"}},
                  STEAM_OUT])


def test_a_temperature_without_readings_is_missing_data_not_a_state_outside_iapws():
    """Issue #21: a configured feedwater-temperature tag with no readings made every interval
    'state outside IAPWS-IF97': it is missing data (the tag is named), not a state problem; a
    pressure really outside the formulation is still noted as one."""
    fac = facility([
        {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        dict(STEAM_OUT, feedwater_temperature={"tag": "TFW", "unit": "degC"},
             pressure={"tag": "PS", "unit": "barg"})])
    vals = pd.DataFrame({"F1": 1.0, "FS": 1.0, "PS": [10.0, 10.0, 200_000.0],
                         "TFW": [np.nan, 105.0, 105.0]}, index=IDX)
    se = energy.stream_energies(fac, vals, H)
    assert se.energy_kwh["steam"].isna().tolist() == [True, False, True]
    iapws = [i for i in se.issues if "IAPWS" in i]
    assert len(iapws) == 1 and "in 1 interval(s)" in iapws[0], se.issues


def test_feedwater_above_saturation_is_nan_with_issue():
    fac = facility([
        {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "F1", "unit": "Nm3/h"}},
        dict(STEAM_OUT, feedwater_temperature={"tag": "TFW", "unit": "degC"})])
    vals = pd.DataFrame({"F1": 1.0, "FS": 1.0, "TFW": [105.0, 200.0, 105.0]}, index=IDX)
    se = energy.stream_energies(fac, vals, H)
    assert np.isnan(se.energy_kwh["steam"].iloc[1]) and se.energy_kwh["steam"].notna().sum() == 2
    assert any("saturation" in i for i in se.issues)


def test_flue_gas_of_a_fuel_without_siegert_coefficients_names_the_stream():
    """1. BImSchV gives no Siegert coefficients for coal: a configuration error, with the field."""
    fac = facility([
        {"id": "coal", "role": "input", "carrier": "coal", "flow": {"tag": "F1", "unit": "t/h"}},
        STEAM_OUT,
        {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "coal",
         "temperature": {"value": 160, "unit": "degC"}, "o2": {"value": 6, "unit": "percent"}}])
    vals = pd.DataFrame({"F1": 1.0, "FS": 5.0}, index=IDX)
    with pytest.raises(ConfigError, match=r"streams\[2\].*coal"):
        energy.stream_energies(fac, vals, H)
    stoich = facility([fac.streams[0].model_dump(exclude_none=True), STEAM_OUT,
                       dict(fac.streams[2].model_dump(exclude_none=True), method="stoichiometric")])
    e = energy.stream_energies(stoich, vals, H).energy_kwh
    assert 0 < e["flue"].iloc[0] < 0.2 * e["coal"].iloc[0]


def test_tag_values_are_the_numbers_of_a_column_whatever_its_type():
    """A float column as it is, text and objects through ``pandas.to_numeric`` (NaN where not a
    number): the same floats either way, read-only."""
    values = pd.DataFrame({"F": [1.5, np.nan, -2.0], "T": ["1.5", "x", "-2"],
                           "O": pd.Series([1.5, None, -2], dtype=object), "I": [1, 2, 3]})
    for tag in ("F", "T", "O"):
        got = energy.tag_values(values, tag)
        np.testing.assert_array_equal(got, [1.5, np.nan, -2.0])
        assert got.dtype == np.float64 and not got.flags.writeable
    np.testing.assert_array_equal(energy.tag_values(values, "I"), [1.0, 2.0, 3.0])
