"""Flue-gas loss: Siegert worked examples and the DOE Steam Tip Sheet #4 table."""
import numpy as np
import pandas as pd
import pytest

from thermaliq.physics import combustion
from thermaliq import units
from thermaliq.errors import ConfigError

# DOE Steam Tip Sheet #4 (2012), "Combustion Efficiency for Natural Gas" [%, HHV]:
# rows O2 in the dry flue gas [%], columns flue gas minus combustion air temperature [degF].
DOE_TS4 = {2.0: [85.4, 83.1, 80.8, 78.4, 76.0], 3.0: [85.2, 82.8, 80.4, 77.9, 75.4],
           5.0: [84.7, 82.1, 79.5, 76.7, 74.0], 7.0: [84.1, 81.2, 78.2, 75.2, 72.1],
           10.0: [82.8, 79.3, 75.6, 71.9, 68.2]}
DT_F = np.array([200.0, 300, 400, 500, 600])
T_AIR_K = float(units.to_si(70.0, "degF", "temperature"))  # boiler-room air; the table gives dT only


@pytest.mark.parametrize("o2_pct", sorted(DOE_TS4))
def test_stoichiometric_reproduces_doe_tip_sheet_4(o2_pct):
    """DOE Steam Tip Sheet #4 natural-gas table, every point within +-0.5 percentage points."""
    t_flue = T_AIR_K + DT_F / 1.8
    loss = combustion.stoichiometric_loss_fraction(t_flue, T_AIR_K, o2_pct / 100, "natural_gas", "HHV")
    # +-0.5 pt: the brief's acceptance band; the table is printed to 0.1 pt.
    np.testing.assert_allclose(100 * (1 - loss), DOE_TS4[o2_pct], atol=0.5)


def test_excess_air_matches_doe_table():
    """DOE Steam Tip Sheet #4 lists excess air 9.5 % at 2 % O2 and 81.6 % at 10 % O2."""
    ea = combustion.flue_gas_moles(np.array([0.02, 0.10]), "natural_gas")["excess_air"]
    # 1 point of excess air: the DOE gas composition is not published.
    np.testing.assert_allclose(100 * ea, [9.5, 81.6], atol=1.0)


def test_siegert_converted_to_hhv_misses_doe_table_by_up_to_1_3_points():
    """Siegert on HHV (1 - (1-q) LHV/HHV) deviates from DOE TS#4 by up to ~1.3 pt (brief)."""
    worst = 0.0
    for o2_pct, row in DOE_TS4.items():
        q = combustion.siegert_loss_fraction(T_AIR_K + DT_F / 1.8, T_AIR_K, o2_pct / 100,
                                             "natural_gas")
        eff = 100 * (1 - combustion.siegert_loss_on_basis(q, "natural_gas", "HHV"))
        worst = max(worst, float(np.max(np.abs(eff - row))))
    assert 1.0 < worst < 1.5   # 1.3 +- rounding of the table


@pytest.mark.parametrize("fuel, t_flue_c, t_air_c, o2_pct, expected_pct", [
    # hand-worked: 160 K * (0.66 / 18 + 0.009) = 7.3067 %
    ("natural_gas", 180.0, 20.0, 3.0, 160 * (0.66 / 18 + 0.009)),
    # hand-worked: 190 K * (0.68 / 17 + 0.007) = 8.93 %
    ("fuel_oil", 210.0, 20.0, 4.0, 190 * (0.68 / 17 + 0.007)),
    # hand-worked: 130 K * (0.63 / 16 + 0.008) = 6.1588 %
    ("lpg", 150.0, 20.0, 5.0, 130 * (0.63 / 16 + 0.008)),
])
def test_siegert_worked_examples(fuel, t_flue_c, t_air_c, o2_pct, expected_pct):
    """Siegert formula of the 1. BImSchV, Anlage 2, with its coefficients, worked by hand."""
    q = combustion.siegert_loss_fraction(t_flue_c + 273.15, t_air_c + 273.15, o2_pct / 100, fuel)
    assert q * 100 == pytest.approx(expected_pct, rel=1e-12)


def test_siegert_series_and_invalid_o2():
    """Series keep their index; O2 >= 21 % gives NaN; fuels without coefficients raise."""
    idx = pd.RangeIndex(3)
    q = combustion.siegert_loss_fraction(pd.Series([450.0, 450.0, 450.0], index=idx), 293.15,
                                         pd.Series([0.03, 0.21, np.nan], index=idx), "natural_gas")
    assert list(q.index) == list(idx) and np.isfinite(q.iloc[0]) and q.iloc[1:].isna().all()
    with pytest.raises(ConfigError, match="coal"):
        combustion.siegert_loss_fraction(450.0, 293.15, 0.05, "coal")


def test_stoichiometric_lhv_below_hhv_and_coal_runs():
    """On LHV the loss excludes the latent heat: LHV-basis loss is smaller; coal works too."""
    hhv = combustion.stoichiometric_loss_fraction(450.0, 293.15, 0.03, "natural_gas", "HHV")
    lhv = combustion.stoichiometric_loss_fraction(450.0, 293.15, 0.03, "natural_gas", "LHV")
    assert 0 < lhv < hhv
    # hand check: HHV loss - latent share ~ (HHV-LHV)/HHV = 9.7 % (NETL gas) within 1.5 pt
    assert hhv - lhv * 47.201 / 52.295 == pytest.approx(1 - 47.201 / 52.295, abs=0.015)
    assert 0 < combustion.stoichiometric_loss_fraction(430.0, 293.15, 0.05, "coal", "HHV") < 0.2
    assert np.isnan(combustion.stoichiometric_loss_fraction(1500.0, 293.15, 0.03, "natural_gas"))


@pytest.mark.parametrize("t_k", [400.0, 600.0, 800.0, 1000.0])
def test_janaf_n2_o2_heat_capacities_agree_with_lemmon_air(t_k):
    """Cross-check of the JANAF cp table: dry air (78.08 % N2, 20.95 % O2, 0.93 % Ar with
    cp(Ar) = 5/2 R) against the Lemmon et al. (2000) air equation of state in ``iapws``."""
    from iapws.humidAir import Air
    cp_n2 = np.interp(t_k, combustion._T_GRID, combustion._CP["N2"])
    cp_o2 = np.interp(t_k, combustion._T_GRID, combustion._CP["O2"])
    mix = 0.7808 * cp_n2 + 0.2095 * cp_o2 + 0.0093 * 2.5 * 8.314462618
    lemmon = Air(T=t_k, P=0.101325).cp * 28.96546     # kJ/(kg K) x g/mol = J/(mol K)
    # 0.5 %: real-gas effects at 1 atm and linear interpolation of the table are below 0.2 %.
    assert mix == pytest.approx(lemmon, rel=5e-3)
