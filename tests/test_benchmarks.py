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
