"""Period results through the library: stream_energies -> period_results."""
import numpy as np
import pandas as pd
import pytest

from thermaliq.physics import balance, energy, water
from thermaliq import config

INTERVAL = pd.Timedelta("15min")


def boiler(tz="America/Chicago", losses=False):
    streams = [
        {"id": "gas", "role": "input", "carrier": "natural_gas",
         "flow": {"tag": "FT-101", "unit": "m3/h"},
         "heating_value": {"value": 39.0, "unit": "MJ/m3"}},
        {"id": "steam", "role": "output", "carrier": "steam",
         "flow": {"tag": "FT-201", "unit": "kg/h"},
         "pressure": {"tag": "PT-201", "unit": "MPa"},
         "feedwater_temperature": {"tag": "TT-202", "unit": "degC"}},
    ]
    if losses:
        streams.append({"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}})
    return config.parse_facility({
        "facility_id": "BOILER-1", "name": "Test boiler", "type": "steam_boiler",
        "timezone": tz, "interval": "15min", "basis": "HHV",
        "source": {"kind": "files", "path": "inbox/BOILER-1/*.csv"}, "streams": streams})


def day_values(day, tz="America/Chicago", **tags):
    start = pd.Timestamp(day, tz=tz)
    idx = pd.date_range(start, start + pd.DateOffset(days=1), freq=INTERVAL, inclusive="left")
    values = {"FT-101": 750.0, "FT-201": 10000.0, "PT-201": 1.0, "TT-202": 105.0}
    values.update(tags)
    return pd.DataFrame(values, index=idx.tz_convert("UTC"))


def test_constant_boiler_day_efficiency_79_87():
    """Brief: 10 000 kg/h saturated steam at 1.0 MPa(a), feedwater 105 degC, gas 750 m3/h at
    39.0 MJ/m3 -> 79.87 % over a full local day of 96 intervals.
    Hand check: (2777.12 - 440.86) kJ/kg x 10 000/3600 kg/s = 6489.6 kW; 750 x 39/3.6 = 8125 kW."""
    fac = boiler()
    vals = day_values("2026-03-10")
    assert len(vals) == 96
    se = energy.stream_energies(fac, vals, INTERVAL)
    res = balance.period_results(fac, se, pd.Series(True, index=vals.index), "day")
    assert len(res) == 1
    row = res.iloc[0]
    assert row.efficiency_percent == pytest.approx(79.87, abs=0.03)   # brief's tolerance
    assert row.intervals == 96 and row.valid_intervals == 96 and row.data_quality_score == 1.0
    assert row.period_start == pd.Timestamp("2026-03-10", tz="America/Chicago")
    assert row.energy_input_kwh == pytest.approx(8125.0 * 24, rel=1e-12)
    assert np.isnan(row.balance_error_percent) and np.isnan(row.indirect_efficiency_percent)
    # hand-worked exergy: steam m[(h-h_fw) - T0 (s-s_fw)] over fuel 1.04 x LHV
    p, t_fw = 1.0e6, 378.15
    ex_steam = (water.h_sat_vapour_p(p) - water.h_pt(p, t_fw)
                - 298.15 * (water.s_sat_vapour_p(p) - water.s_pt(p, t_fw))) * 10000 / 3600
    ex_fuel = 8125e3 * 47.201 / 52.295 * 1.04
    assert row.exergy_efficiency_percent == pytest.approx(100 * ex_steam / ex_fuel, rel=1e-9)


def test_dst_days_have_23_and_25_hours_and_missing_rows_count():
    """US DST 2026: Mar 8 has 23 h (92 intervals), Nov 1 has 25 h (100 intervals). Missing rows
    still count in the denominator of the data quality score."""
    fac = boiler(losses=True)
    for day, n in (("2026-03-08", 92), ("2026-11-01", 100)):
        vals = day_values(day)
        assert len(vals) == n
        valid = pd.Series(True, index=vals.index)
        valid.iloc[:4] = False                       # 1 h invalid
        vals = vals.iloc[:-8]                        # last 2 h without rows at all
        se = energy.stream_energies(fac, vals, INTERVAL)
        row = balance.period_results(fac, se, valid, "day").iloc[0]
        assert row.intervals == n
        assert row.valid_intervals == n - 12
        assert row.data_quality_score == pytest.approx((n - 12) / n)
        assert row.efficiency_percent == pytest.approx(79.87, abs=0.03)
        # losses declared (1 % of input): balance error = 100 - 79.87 - 1; indirect = 99
        assert row.indirect_efficiency_percent == pytest.approx(99.0)
        assert row.balance_error_percent == pytest.approx(100 - row.efficiency_percent - 1.0)
        assert row.unaccounted_kwh == pytest.approx(
            row.energy_input_kwh - row.useful_output_kwh - row.losses_kwh)


def test_interval_and_month_granularity_and_no_valid_intervals():
    fac = boiler(tz="Europe/Berlin")
    vals = pd.concat([day_values("2026-03-31", tz="Europe/Berlin"),
                      day_values("2026-04-01", tz="Europe/Berlin")])
    se = energy.stream_energies(fac, vals, INTERVAL)
    valid = pd.Series(True, index=vals.index)
    valid.loc[vals.index[vals.index >= pd.Timestamp("2026-04-01", tz="Europe/Berlin")]] = False
    months = balance.period_results(fac, se, valid, "month")
    assert list(months.period_start) == [pd.Timestamp("2026-03-01", tz="Europe/Berlin"),
                                        pd.Timestamp("2026-04-01", tz="Europe/Berlin")]
    # March 2026 in Berlin: 31 days minus the 1 h DST jump = 743 h = 2972 intervals
    assert months.intervals.tolist() == [2972, 2880]
    assert months.efficiency_percent.iloc[0] == pytest.approx(79.87, abs=0.03)
    assert np.isnan(months.efficiency_percent.iloc[1]) and months.valid_intervals.iloc[1] == 0
    inter = balance.period_results(fac, se, valid, "interval")
    assert len(inter) == 192 and set(inter.intervals) == {1}
    for rows in (months, inter):                  # the relation's columns, in order, rows 0..n-1
        assert list(rows.columns) == balance.COLUMNS
        assert rows.index.equals(pd.RangeIndex(len(rows)))
    assert (inter.period_end - inter.period_start == INTERVAL).all()
    with pytest.raises(ValueError, match="granularity"):
        balance.period_results(fac, se, valid, "week")


def test_uncomputable_interval_is_not_counted_valid():
    """A steam pressure outside IAPWS-IF97 in one interval: NaN energy, interval not valid."""
    fac = boiler()
    vals = day_values("2026-03-10")
    vals.iloc[5, vals.columns.get_loc("PT-201")] = -1.0
    se = energy.stream_energies(fac, vals, INTERVAL)
    assert np.isnan(se.energy_kwh["steam"].iloc[5])
    assert any("IAPWS" in i for i in se.issues)
    row = balance.period_results(fac, se, pd.Series(True, index=vals.index), "day").iloc[0]
    assert row.valid_intervals == 95 and row.efficiency_percent == pytest.approx(79.87, abs=0.03)


def test_each_streams_own_total_runs_over_its_own_valid_intervals():
    """Issue #21: a flue-gas loss needs its own tags and the fuel's; the gas stream only its own.
    Four intervals of 10 kWh of gas; the O2 tag is missing in two, the gas in one: gas 30 kWh over
    3 of 4 intervals; the flue loss (1 kWh per interval) 1 kWh over the 1 interval where both are
    valid; a standby interval counts for every stream whose energy is known."""
    from tests.helpers import constant_boiler_config
    from thermaliq.config import parse_facility
    from thermaliq.physics.balance import stream_tags, stream_totals, stream_validity

    config = constant_boiler_config()
    config["streams"].append({"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
                              "temperature": {"tag": "TT-501", "unit": "degC"},
                              "o2": {"tag": "AT-501", "unit": "percent"}})
    config["streams"].append({"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}})
    facility = parse_facility(config)
    tags = stream_tags(facility)
    assert tags["gas"] == ["FT-101"] and tags["flue"] == ["TT-501", "AT-501", "FT-101"]
    assert tags["shell"] == ["FT-101"]
    index = pd.date_range("2024-06-04", periods=4, freq="15min", tz="UTC")
    ok = pd.DataFrame(True, index=index, columns=["FT-101", "FT-201", "PT-201", "TT-202", "TT-501", "AT-501"])
    ok.loc[index[[0, 1]], "AT-501"] = False
    ok.loc[index[2], "FT-101"] = False
    energy = pd.DataFrame({"gas": [10.0, 10.0, np.nan, 10.0], "steam": 8.0, "flue": [1.0, 1.0, np.nan, 1.0],
                           "shell": [0.1, 0.1, np.nan, 0.1]}, index=index)
    own = stream_validity(facility, ok, energy)
    assert own["gas"].tolist() == [True, True, False, True]
    assert own["flue"].tolist() == [False, False, False, True]
    totals = stream_totals(energy, own, index[:1], [4])
    assert totals.energy_kwh.iloc[0].to_dict() == pytest.approx({"gas": 30.0, "steam": 32.0, "flue": 1.0,
                                                                 "shell": 0.3})
    assert totals.valid_intervals.iloc[0].to_dict() == {"gas": 3, "steam": 4, "flue": 1, "shell": 3}
    standby = pd.Series([True, False, False, False], index=index)
    assert stream_validity(facility, ok, energy, standby)["flue"].tolist() == [True, False, False, True]
