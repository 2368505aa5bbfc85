"""IAPWS-IF97 water/steam properties against the IAPWS verification tables and DOE data."""
import numpy as np
import pandas as pd
import pytest

from thermaliq import units
from thermaliq.physics import water

# Relative tolerance 1e-6: the tables print 9 significant digits, so a correct implementation
# agrees to better than 1e-8; 1e-6 is the tolerance the IAPWS release asks of implementations.
RTOL = 1e-6


@pytest.mark.parametrize("t_k, p_mpa, h_kj, s_kj", [
    (300.0, 3.0, 0.115331273e3, 0.392294792),
    (300.0, 80.0, 0.184142828e3, 0.368563852),
    (500.0, 3.0, 0.975542239e3, 0.258041912e1),
])
def test_region1_table5(t_k, p_mpa, h_kj, s_kj):
    """IAPWS R7-97(2012) Table 5: region 1 verification values (exact, unrounded path)."""
    assert water.h_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(h_kj * 1e3, rel=RTOL)
    assert water.s_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(s_kj * 1e3, rel=RTOL)


@pytest.mark.parametrize("t_k, p_mpa, h_kj, s_kj", [
    (300.0, 0.0035, 0.254991145e4, 0.852238967e1),
    (700.0, 0.0035, 0.333568375e4, 0.101749996e2),
    (700.0, 30.0, 0.263149474e4, 0.517540298e1),
])
def test_region2_table15(t_k, p_mpa, h_kj, s_kj):
    """IAPWS R7-97(2012) Table 15: region 2 verification values."""
    assert water.h_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(h_kj * 1e3, rel=RTOL)
    assert water.s_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(s_kj * 1e3, rel=RTOL)


@pytest.mark.parametrize("rho, t_k, p_mpa, h_kj, s_kj", [
    (500.0, 650.0, 0.255837018e2, 0.186343019e4, 0.405427273e1),
    (200.0, 650.0, 0.222930643e2, 0.237512401e4, 0.485438792e1),
    (500.0, 750.0, 0.783095639e2, 0.225868845e4, 0.446971906e1),
])
def test_region3_table33(rho, t_k, p_mpa, h_kj, s_kj):
    """IAPWS R7-97(2012) Table 33: region 3 at (rho, T), and the (p, T) path at the table's p."""
    assert water.p_rho_t(rho, t_k) == pytest.approx(p_mpa * 1e6, rel=RTOL)
    assert water.h_rho_t(rho, t_k) == pytest.approx(h_kj * 1e3, rel=RTOL)
    assert water.s_rho_t(rho, t_k) == pytest.approx(s_kj * 1e3, rel=RTOL)
    # (p, T) -> rho by SR5-05 backward equation + Newton: p is printed to 9 digits, so h agrees
    # to ~1e-8 even near the critical point; 1e-6 as above.
    assert water.h_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(h_kj * 1e3, rel=RTOL)


@pytest.mark.parametrize("t_k, p_mpa, h_kj, s_kj", [
    (1500.0, 0.5, 0.521976855e4, 0.965408875e1),
    (1500.0, 30.0, 0.516723514e4, 0.772970133e1),
    (2000.0, 30.0, 0.657122604e4, 0.853640523e1),
])
def test_region5_table42(t_k, p_mpa, h_kj, s_kj):
    """IAPWS R7-97(2012) Table 42: region 5 verification values."""
    assert water.h_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(h_kj * 1e3, rel=RTOL)
    assert water.s_pt(p_mpa * 1e6, t_k, exact=True) == pytest.approx(s_kj * 1e3, rel=RTOL)


def test_saturation_tables35_36():
    """IAPWS R7-97(2012) Table 35 (p_sat(T)) and Table 36 (T_sat(p))."""
    p = water.p_sat_t(np.array([300.0, 500.0, 600.0]), exact=True)
    np.testing.assert_allclose(p, [0.353658941e-2 * 1e6, 0.263889776e1 * 1e6, 0.123443146e2 * 1e6],
                               rtol=RTOL)
    t = water.t_sat_p(np.array([0.1e6, 1e6, 10e6]), exact=True)
    np.testing.assert_allclose(t, [0.372755919e3, 0.453035632e3, 0.584149488e3], rtol=RTOL)


@pytest.mark.parametrize("psig, row", [
    (150, [1178, 1128, 1078, 1028, 977]),
    (450, [1187, 1137, 1087, 1037, 986]),
    (600, [1184, 1134, 1084, 1034, 984]),
])
def test_doe_tip_sheet_15_table1(psig, row):
    """DOE Steam Tip Sheet #15 Table 1: energy to make 1 lb of saturated steam [Btu] from
    feedwater at 50..250 degF, "calculated from steam tables" (h'' - h_feedwater)."""
    p = units.to_si(psig, "psig", "pressure")
    t_fw = units.to_si(np.array([50.0, 100, 150, 200, 250]), "degF", "temperature")
    dh_btu_lb = (water.h_sat_vapour_p(p) - water.h_pt(p, t_fw)) * units.convert(1.0, "J/kg", "Btu/lb")
    # +-2 Btu/lb: the table is rounded to 1 Btu and uses older steam tables; feedwater here is
    # compressed liquid at boiler pressure (up to 1.7 Btu/lb above saturated liquid at 600 psig).
    np.testing.assert_allclose(dh_btu_lb, row, atol=2.0)


def test_series_keeps_index_and_out_of_range_is_nan():
    """Hand-worked: Series in -> Series out with the same index; invalid states -> NaN."""
    idx = pd.date_range("2026-01-01", periods=4, freq="15min", tz="UTC")
    p = pd.Series([1e6, 1e6, -5.0, np.nan], index=idx)
    h = water.h_sat_vapour_p(p)
    assert isinstance(h, pd.Series) and h.index.equals(idx)
    assert np.isnan(h.iloc[2]) and np.isnan(h.iloc[3])
    assert np.isnan(water.h_pt(1e5, 200.0))          # below 273.15 K
    assert np.isnan(water.h_pt(150e6, 400.0))        # above 100 MPa
    assert isinstance(water.h_pt(1e6, 400.0), float)


def test_memoised_rounding_matches_exact_within_1e6():
    """The rounded (memoised) path stays within 1e-6 relative of the exact path."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05e6, 15e6, 500)
    t = rng.uniform(280.0, 800.0, 500)
    np.testing.assert_allclose(water.h_pt(p, t), water.h_pt(p, t, exact=True), rtol=1e-6)
    np.testing.assert_allclose(water.h_sat_liquid_p(p), water.h_sat_liquid_p(p, exact=True),
                               rtol=1e-6)


def test_recalled_call_gives_the_same_floats_and_callers_cannot_change_it():
    """A repeated array call is recalled (the uncertainty budget's runs repeat the base run's
    states): the same floats as a fresh evaluation, a copy each time, kept apart per property."""
    p = np.linspace(5e5, 4e6, 300)
    t = np.linspace(460.0, 700.0, 300)
    water.clear_cache()
    fresh = [a.copy() for a in water.props_pt(p, t)]
    first = water.props_pt(p, t)
    first[0][:] = -1.0                                   # a caller changing its result
    again = water.props_pt(p, t)
    for a, b in zip(fresh, again):
        assert np.array_equal(a, b)
    assert water.props_pt(p, t)[0] is not again[0]
    # the same input bytes, another property: not the recalled props_pt result
    assert np.array_equal(water.h_pt(p, t), fresh[0])
    assert np.array_equal(water.sat_props_p(p, 0)[0], water.h_sat_liquid_p(p))
    assert not np.array_equal(water.sat_props_p(p, 0)[0], water.sat_props_p(p, 1)[0])
    # IAPWS R7-97 Table 5 through a recalled call: h(3 MPa, 300 K) = 115.331273 kJ/kg
    pts = np.full(3, 3e6), np.full(3, 300.0)
    for _ in range(2):
        assert np.allclose(water.props_pt(*pts)[0] / 1e3, 115.331273, atol=1e-6)
