"""Benchmark table and placement."""
import pytest

from thermaliq.physics import efficiency_ranges, fuels


def test_steam_boiler_range_is_the_doe_tip_sheet_4_table():
    """DOE Steam Tip Sheet #4 natural-gas table: 68.2 % (worst cell) .. 85.4 % (best cell);
    typical = 15 % excess air at 400 degF, 80.4 %."""
    b = efficiency_ranges.BENCHMARKS["steam_boiler"]
    assert (b.minimum, b.typical, b.best, b.basis) == (68.2, 80.4, 85.4, "HHV")
    assert "Tip Sheet #4" in b.source


def test_chp_range_is_epa_60_to_80():
    """EPA CHP Partnership: total system efficiencies of 60 to 80 percent."""
    b = efficiency_ranges.BENCHMARKS["chp"]
    assert (b.minimum, b.best) == (60.0, 80.0) and "EPA" in b.source


@pytest.mark.parametrize("eff, position", [(60.0, "below_minimum"), (75.0, "below_typical"),
                                           (80.4, "typical_to_best"), (86.0, "above_best")])
def test_positions(eff, position):
    placement = efficiency_ranges.compare("steam_boiler", eff, "HHV")
    assert placement.position == position and placement.note is None


def test_lhv_comparison_converts_the_range():
    """Hand-worked: on LHV the range is multiplied by HHV/LHV of natural gas (52.295/47.201)."""
    p = efficiency_ranges.compare("steam_boiler", 90.0, "LHV")
    ratio = fuels.get_fuel("natural_gas").hhv_lhv_ratio
    assert p.minimum == pytest.approx(68.2 * ratio) and p.best == pytest.approx(85.4 * ratio)
    assert p.position == "typical_to_best" and "HHV to LHV" in p.note


def test_types_without_published_range_raise_a_value_error():
    for t in ("process_heater", "furnace", "dryer"):
        with pytest.raises(efficiency_ranges.NoBenchmarkError, match=t):
            efficiency_ranges.compare(t, 50.0, "HHV")
        with pytest.raises(ValueError):
            efficiency_ranges.compare(t, 50.0, "HHV")
    with pytest.raises(ValueError):
        efficiency_ranges.compare("chp", 70.0, "gross")


def test_combustion_table_and_measured_range_are_kept_apart():
    """Issue #14: the DOE Tip Sheet #4 table is combustion efficiency (flue-gas loss only), so it
    places the indirect efficiency; the EPA CHP range is measured fuel to output, so it places the
    direct efficiency. The EPA source states no typical value: none is invented."""
    import math

    assert efficiency_ranges.BENCHMARKS["steam_boiler"].measure == "combustion"
    chp = efficiency_ranges.BENCHMARKS["chp"]
    assert chp.measure == "fuel_to_output" and math.isnan(chp.typical)
    assert efficiency_ranges.compare("chp", 70.0, "HHV").position == "within_range"
    assert efficiency_ranges.compare("chp", 55.0, "HHV").position == "below_minimum"
    assert efficiency_ranges.benchmarked_value("hot_water_boiler", 60.0, 84.0) == 84.0
    assert efficiency_ranges.benchmarked_value("chp", 71.0, 90.0) == 71.0
    assert math.isnan(efficiency_ranges.benchmarked_value("dryer", 71.0, 90.0))


def test_below_benchmark_alert_uses_the_efficiency_its_table_measures():
    """A steam boiler at 60 % direct (fuel to steam, shell and blowdown included) but 84 %
    indirect (flue-gas only) is inside the DOE combustion range 68.2..85.4 %: no alert; at 65 %
    indirect it is below 68.2 % and the alert carries 65. Without a flue-gas stream (indirect
    NaN) there is nothing to place."""
    import pandas as pd

    from thermaliq.quality import alerts
    from tests.test_balance import boiler

    f = boiler()

    def kinds(eff, indirect):
        day = pd.Timestamp("2026-01-05", tz="UTC")
        row = pd.DataFrame({"period_start": [day], "period_end": [day + pd.Timedelta("1D")],
                            "basis": ["HHV"], "efficiency_percent": [eff],
                            "indirect_efficiency_percent": [indirect],
                            "balance_error_percent": [float("nan")], "data_quality_score": [1.0]})
        out = alerts.day_alerts(f, row, pd.Series(dtype="float64"))
        return out[out["kind"] == "below_benchmark"]

    assert kinds(60.0, 84.0).empty
    low = kinds(80.0, 65.0)
    assert low["value"].tolist() == [65.0] and "indirect (combustion) efficiency" in low["message"].iloc[0]
    assert kinds(50.0, float("nan")).empty
