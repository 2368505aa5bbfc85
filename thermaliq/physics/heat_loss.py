"""Losses of the heat-loss (indirect) method beyond the flue gas: ASME PTC 4-2013 §5, EN 12952-15.

Each function takes plain numbers or arrays (SI) and returns the same kind:

* blowdown: the share of feedwater blown down (declared, or from the conductivity ratio), its
  mass from the steam flow, and its energy m_bd (h' at the drum pressure - h of the feedwater);
* radiation and convection: the ABMA curve, a loss that is a fixed heat rate, so its share of
  input grows inversely with load (PTC 4 §5.14.1, ABMA "Standard Radiation Loss Chart");
* moisture in the combustion air (PTC 4 §5.14.3) and unburnt fuel as CO in the flue gas
  (PTC 4 §5.14.5), per kg of fuel on the flue-gas model of :mod:`thermaliq.physics.combustion`.

Indirect efficiency = 100 - the sum of the listed losses as shares of input
(:mod:`thermaliq.physics.balance`).
"""
from __future__ import annotations

import numpy as np

from thermaliq.physics import combustion, fuels, water

H_CO_J_MOL = 282.98e3        # heat of combustion of CO to CO2 at 25 degC [J/mol] (NIST-JANAF)
M_DRY_AIR_KG_MOL = 28.965e-3  # molar mass of dry air [kg/mol] (ISO 2533)


def blowdown_share_from_conductivity(feedwater_us_cm, blowdown_us_cm):
    """Share of feedwater blown down from the conductivity (or TDS) ratio [-].

    Parameters
    ----------
    feedwater_us_cm : float or numpy.ndarray
        Conductivity of the feedwater [µS/cm].
    blowdown_us_cm : float or numpy.ndarray
        Conductivity of the boiler water (the blowdown) [µS/cm].

    Notes
    -----
    A dissolved-solids balance at steady state: solids in = solids out with the blowdown, so
    m_bd / m_fw = c_fw / c_bd (DOE Steam Tip Sheet #9, "Minimize Boiler Blowdown", 2012).

    Examples
    --------
    >>> blowdown_share_from_conductivity(100.0, 2500.0)
    0.04
    """
    fw = np.asarray(feedwater_us_cm, dtype="float64")
    bd = np.asarray(blowdown_us_cm, dtype="float64")
    if np.any(fw < 0) or np.any(bd <= 0):
        raise ValueError("conductivities must be >= 0 (feedwater) and > 0 (blowdown)")
    share = fw / bd
    if np.any(share >= 1):
        raise ValueError("feedwater conductivity must be below the blowdown's")
    return float(share) if share.ndim == 0 else share


def blowdown_mass(steam_mass, share_of_feedwater):
    """Blowdown mass from the steam mass and the share of feedwater blown down [unit of steam].

    Notes
    -----
    Feedwater = steam + blowdown and blowdown = x · feedwater, so blowdown = x/(1 − x) · steam.
    10 000 kg/h of steam at x = 5 %: 0.05/0.95 · 10 000 = 526.3 kg/h.
    """
    x = np.asarray(share_of_feedwater, dtype="float64")
    if np.any(x < 0) or np.any(x >= 1):
        raise ValueError(f"share_of_feedwater must be in [0, 1), got {share_of_feedwater}")
    return np.asarray(steam_mass, dtype="float64") * x / (1.0 - x)


def blowdown_enthalpy_rise(pressure_pa, feedwater_temperature_k):
    """Energy a kilogram of blowdown carries away: h'(p) − h(p, T_fw) [J/kg].

    Parameters
    ----------
    pressure_pa : float or numpy.ndarray
        Drum (steam) pressure, absolute [Pa].
    feedwater_temperature_k : float or numpy.ndarray
        Feedwater temperature [K].

    Examples
    --------
    At 1.0 MPa and 105 degC: 762.68 − 440.86 = 321.8 kJ/kg (IAPWS-IF97).
    """
    h_f = np.asarray(water.h_sat_liquid_p(pressure_pa), dtype="float64")
    h_fw = np.asarray(water.h_pt(pressure_pa, feedwater_temperature_k), dtype="float64")
    return h_f - h_fw


def radiation_loss_percent(load_fraction, percent_at_full_load):
    """Radiation and convection loss as a share of input at a load (ABMA curve) [%].

    Parameters
    ----------
    load_fraction : float or numpy.ndarray
        Output / rated output [-], > 0.
    percent_at_full_load : float
        The loss at full load [% of input].

    Notes
    -----
    The casing loses about the same heat rate at any load, so its share of input is
    L(f) = L(1) / f: the shape of the ABMA Standard Radiation Loss Chart (PTC 4-2013 §5.14.1).
    At 25 % load: L = 4 L(1).
    """
    f = np.asarray(load_fraction, dtype="float64")
    if percent_at_full_load < 0:
        raise ValueError(f"percent_at_full_load must be >= 0, got {percent_at_full_load}")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(f > 0, percent_at_full_load / f, np.nan)
    return float(out) if out.ndim == 0 else out


def dry_air_mass(o2_fraction, fuel: str):
    """Dry combustion air per kg of fuel at the measured dry flue-gas O2 [kg/kg].

    Notes
    -----
    The air's nitrogen is the flue gas's nitrogen less the fuel's: n_air = (N2 − N_fuel)/(1 − y_O2)
    with N2 from :func:`thermaliq.physics.combustion.flue_gas_moles`.
    """
    n = combustion.flue_gas_moles(o2_fraction, fuel)
    n_fuel_n2 = fuels.get_fuel(fuel).composition["N"] / 28.014e-3
    return (n["N2"] - n_fuel_n2) / (1 - combustion.Y_O2_AIR) * M_DRY_AIR_KG_MOL


def air_moisture_loss_fraction(t_flue_k, t_air_k, o2_fraction, humidity_kg_kg, fuel: str,
                               basis: str = "HHV"):
    """Loss from heating the moisture of the combustion air, share of fuel input [-].

    Parameters
    ----------
    t_flue_k, t_air_k : float or numpy.ndarray
        Flue-gas and air temperatures [K].
    o2_fraction : float or numpy.ndarray
        Dry flue-gas O2 [-].
    humidity_kg_kg : float or numpy.ndarray
        Water per dry air [kg/kg] (ABMA standard air: 0.013).
    fuel : str
        Fuel name. basis : {"HHV", "LHV"}.

    Notes
    -----
    PTC 4 §5.14.3: L = MFrWA · (h_v(T_flue) − h_v(T_air)) / HV, MFrWA = ω · m_dry air.
    """
    m_w = np.asarray(humidity_kg_kg, dtype="float64") * dry_air_mass(o2_fraction, fuel)
    dh = np.asarray(water.h_pt(combustion.P_VAPOUR_PA, t_flue_k)) \
        - np.asarray(water.h_pt(combustion.P_VAPOUR_PA, np.maximum(t_air_k, 280.2)))
    f = fuels.get_fuel(fuel)
    return m_w * dh / (f.hhv_j_kg if basis == "HHV" else f.lhv_j_kg)


def unburnt_co_loss_fraction(co_ppm, o2_fraction, fuel: str, basis: str = "HHV"):
    """Loss from CO leaving unburnt, share of fuel input [-].

    Parameters
    ----------
    co_ppm : float or numpy.ndarray
        CO in the dry flue gas [ppm by volume].
    o2_fraction : float or numpy.ndarray
        Dry flue-gas O2 [-].

    Notes
    -----
    PTC 4 §5.14.5: L = n_CO · ΔH_CO / HV with n_CO = ppm · 1e-6 · n_dry flue gas per kg fuel and
    ΔH_CO = 282.98 kJ/mol.
    """
    n = combustion.flue_gas_moles(o2_fraction, fuel)
    dry = n["CO2"] + n["SO2"] + n["N2"] + n["O2"]
    f = fuels.get_fuel(fuel)
    return np.asarray(co_ppm, dtype="float64") * 1e-6 * dry * H_CO_J_MOL / \
        (f.hhv_j_kg if basis == "HHV" else f.lhv_j_kg)
