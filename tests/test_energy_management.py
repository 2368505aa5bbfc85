"""Emissions, baselines and savings: published values and hand-worked cases (issue #18)."""
import math

import numpy as np
import pytest

from thermaliq.physics import baseline, costs, emissions


def test_natural_gas_one_mmscf():
    """EPA 40 CFR 98 Subpart C: 1 MMscf of pipeline gas at the Table C-1 default HHV 1 026 Btu/scf
    is 1 026 MMBtu; CO2 = 1 026 × 53.06 kg/MMBtu (Table C-1) = 54 439.56 kg; CH4 = 1 026 × 1.0e-3
    = 1.026 kg and N2O = 1 026 × 1.0e-4 = 0.1026 kg (Table C-2, natural gas)."""
    mmbtu = 1e6 * 1026 / 1e6
    e = emissions.fuel_emissions(mmbtu, "natural_gas")
    assert round(e.co2_kg) == 54440
    assert e.ch4_kg == pytest.approx(1.026, rel=1e-12)
    assert e.n2o_kg == pytest.approx(0.1026, rel=1e-12)
    # CO2e with AR5 GWPs: 54 439.56 + 28 × 1.026 + 265 × 0.1026 = 54 439.56 + 28.728 + 27.189
    assert e.co2e_kg == pytest.approx(54439.56 + 28.728 + 27.189, rel=1e-12)


def test_fuel_oil_no2_thousand_gallons():
    """EPA Table C-1: distillate fuel oil No. 2, 0.138 MMBtu/gal and 73.96 kg CO2/MMBtu:
    1 000 gal = 138 MMBtu; 138 × 73.96 = 10 206.48 kg CO2."""
    e = emissions.fuel_emissions(1000 * 0.138, "fuel_oil_no2")
    assert round(e.co2_kg) == 10206
    # Table C-2 petroleum products: CH4 3.0e-3, N2O 6.0e-4 kg/MMBtu
    assert e.ch4_kg == pytest.approx(0.414) and e.n2o_kg == pytest.approx(0.0828)


@pytest.mark.parametrize("report,ch4,n2o", [("AR4", 25, 298), ("AR5", 28, 265), ("AR6", 29.8, 273)])
def test_gwp_choices(report, ch4, n2o):
    """IPCC AR4 Table 2.14, AR5 Table 8.7, AR6 Table 7.15 (fossil CH4): 1 kg each of CO2, CH4
    and N2O weigh 1 + GWP_CH4 + GWP_N2O kg CO2e."""
    assert emissions.co2e_of(1.0, 1.0, 1.0, report) == pytest.approx(1 + ch4 + n2o)


def test_unknown_gwp_names_argument():
    with pytest.raises(ValueError, match="gwp"):
        emissions.gwp_of("AR3")


def test_grid_electricity_and_intensity():
    """Hand-worked: 2 500 kWh at 400 kg/MWh = 2.5 × 400 = 1 000 kg CO2e; per 5 MWh of useful
    output that is 200 kg/MWh; zero output gives NaN, not infinity."""
    e = emissions.electricity_emissions(2500.0, 400.0, "grid")
    assert e.co2e_kg == pytest.approx(1000.0)
    assert math.isnan(e.co2_kg)
    assert emissions.intensity_kg_per_mwh([1000.0, 5.0], [5000.0, 0.0])[0] == pytest.approx(200.0)
    assert np.isnan(emissions.intensity_kg_per_mwh([5.0], [0.0])[0])


def test_ols_hand_worked():
    """Hand-worked OLS: x = 1..5, y = 2.1, 3.9, 6.2, 7.8, 10.1. x̄ = 3, ȳ = 6.02,
    Sxx = 10, Sxy = 19.9 → b1 = 1.99, b0 = 6.02 − 3 × 1.99 = 0.05. Residuals 0.06, −0.13, 0.18,
    −0.21, 0.10: SSE = 0.107, SST = 39.708, R² = 1 − 0.107/39.708 = 0.99731;
    CV(RMSE) = sqrt(0.107/3)/6.02 = 3.137 % (n − p = 3); NMBE = 0/(3 × 6.02) = 0;
    se(b1) = sqrt(0.107/3 / 10) = 0.05972."""
    fit = baseline.fit_ols(np.arange(1, 6).reshape(-1, 1), [2.1, 3.9, 6.2, 7.8, 10.1], ["x"])
    assert fit.coefficients == pytest.approx((0.05, 1.99), abs=1e-12)
    assert round(fit.r_squared, 4) == 0.9973
    assert round(fit.cv_rmse_percent, 2) == 3.14
    assert fit.n - fit.p == 3
    assert fit.nmbe_percent == pytest.approx(0.0, abs=1e-10)
    assert fit.std_errors[1] == pytest.approx(math.sqrt(0.107 / 3 / 10), rel=1e-9)
    assert fit.meets_guideline14("month") and fit.meets_guideline14("day")
    assert fit.in_range([[0.5], [3.0], [5.0], [5.1]]).tolist() == [False, True, True, False]
    assert fit.predict([[6.0]])[0] == pytest.approx(0.05 + 1.99 * 6)


def test_guideline14_limits():
    """ASHRAE Guideline 14-2014: monthly CV(RMSE) <= 15 %; a model with y = x plus ±20 % noise
    alternating (hand-built) has CV(RMSE) well above 15 % and fails the monthly criterion."""
    x = np.arange(1.0, 13.0)
    y = x * np.where(np.arange(12) % 2 == 0, 1.4, 0.6) + 5
    fit = baseline.fit_ols(x.reshape(-1, 1), y, ["x"])
    assert fit.cv_rmse_percent > 15 and not fit.meets_guideline14("month")


def test_ols_too_few_points_names_argument():
    with pytest.raises(ValueError, match="complete periods"):
        baseline.fit_ols([[1.0], [2.0]], [1.0, 2.0], ["x"])


def test_cusum_hand_worked():
    """expected 100, 100, 100; actual 90, 110, 120 → savings 10, −10, −20; CUSUM 10, 0, −20;
    EnPI 0.9, 1.1, 1.2."""
    ratio, savings, cum = baseline.cusum([100, 100, 100], [90, 110, 120])
    assert ratio.tolist() == pytest.approx([0.9, 1.1, 1.2])
    assert savings.tolist() == [10, -10, -20]
    assert cum.tolist() == [10, 0, -20]


def test_hdd():
    """HDD = max(15.5 − T, 0): 10 °C → 5.5, 20 °C → 0."""
    assert baseline.heating_degree_days([10.0, 20.0], 15.5).tolist() == [5.5, 0.0]


def test_doe_steam_tip_sheet_4():
    """U.S. DOE Steam Tip Sheet #4: 500 000 MMBtu × (1 − 78.2/83.1) = 29 482.55 MMBtu (the sheet
    states 29 482), × $8/MMBtu = $235 856 (29 482 × 8)."""
    saved = costs.savings_to_target(500000.0, 78.2, 83.1)
    assert int(saved) == 29482
    assert int(saved) * 8 == 235856
    price = costs.price_per_kwh(8.0, "MMBtu")
    # rel 1e-6: pint's Btu and KWH_PER_MMBTU's IT Btu differ in the 7th digit
    assert costs.cost_of(saved * emissions.KWH_PER_MMBTU, price) == pytest.approx(saved * 8, rel=1e-6)


def test_annualised_and_volume_price():
    """73 days are a fifth of a year: 10 → 50 per year. A price of $0.30 per m3 of natural gas
    (standard m3) is 0.30 / (HHV per m3 in kWh) per kWh."""
    from thermaliq.physics import fuels
    assert costs.annualised(10.0, 73.0) == 50.0
    kwh_per_m3 = fuels.heating_value("natural_gas", "HHV", "m3") / 3.6e6
    assert costs.price_per_kwh(0.30, "m3", fuel="natural_gas") == pytest.approx(0.30 / kwh_per_m3)
    with pytest.raises(ValueError, match="per_unit"):
        costs.price_per_kwh(0.30, "m3")


def _facility(**extra):
    from tests.helpers import constant_boiler_config
    from thermaliq.config import parse_facility
    return parse_facility({**constant_boiler_config(), **extra})


def test_config_fields_and_prices_on_the_facility_basis():
    """A price of 45 EUR/MWh (gross, HHV) on an LHV facility: a kWh on the LHV basis is worth
    HHV/LHV kWh of gas, so 0.045 × 52.295/47.201 EUR (fuel table HHV/LHV of natural gas)."""
    from thermaliq.physics import fuels
    from thermaliq.report.savings import stream_price_per_kwh
    f = _facility(basis="LHV", prices={"natural_gas": {"value": 45, "unit": "EUR/MWh"}},
                  emission_factors={"gwp": "AR6", "electricity": {"value": 0.4, "unit": "kg/kWh"}},
                  baseline={"start": "2026-01-01", "end": "2026-01-31",
                            "regressors": ["useful_output", {"kind": "hdd", "temperature": {"value": 5, "unit": "degC"}}]},
                  target={"efficiency_percent": 88})
    price, currency = stream_price_per_kwh(f, "gas", "natural_gas")
    assert currency == "EUR"
    assert price == pytest.approx(0.045 * fuels.get_fuel("natural_gas").hhv_lhv_ratio)
    assert f.emission_factors.electricity.kg_per_mwh == 400.0       # 0.4 kg/kWh × 1000
    assert [r.name for r in f.baseline.regressors] == ["useful_output_kwh", "hdd_k_day"]
    assert stream_price_per_kwh(f, "steam", "steam") is None


@pytest.mark.parametrize("bad,field", [
    ({"prices": {"natural_gas": {"value": 8, "unit": "dollars"}}}, "prices"),
    ({"baseline": {"start": "2026-02-01", "end": "2026-01-01", "regressors": ["useful_output"]}}, "baseline"),
    ({"baseline": {"start": "2026-01-01", "end": "2026-02-01", "regressors": [{"kind": "hdd"}]}}, "baseline"),
    ({"emission_factors": {"gwp": "AR3"}}, "emission_factors"),
])
def test_bad_energy_management_fields_name_the_field(bad, field):
    from thermaliq.config.load import ConfigErrors
    with pytest.raises(ConfigErrors, match=field):
        _facility(**bad)
