"""Metering conventions: low-flow cutoff, negative readings and gas volume at line conditions.

Flow computers count readings below a low-flow cutoff as zero (meter noise of an idle line), and a
negative flow reading of a meter that cannot run backwards is noise as well: both become zero and
are counted. Gas meters that measure actual volume (turbine, rotary, diaphragm) read volume at
line pressure and temperature; :func:`standard_volume_m3` converts it to standard conditions
(ISO 13443: 15 degC, 1.01325 bar), the conditions the fuel table's heating values per m3 refer to.
"""
from __future__ import annotations

import numpy as np

from thermaliq.physics import fuels

P_STD_PA = fuels.P_STD_PA
T_STD_K = fuels.T_STD_K


def apply_cutoff(values, low_flow_cutoff: float | None) -> tuple[np.ndarray, int, int]:
    """Readings below the cutoff and negative readings as zero.

    Parameters
    ----------
    values : array_like
        Flow readings (interval averages) [the flow's own unit].
    low_flow_cutoff : float or None
        Readings below it count as zero [the flow's own unit]; None: only negatives become zero.

    Returns
    -------
    (values, n_negative, n_cut)
        The values with zeros in place [own unit], the number of negative readings and of
        non-negative readings below the cutoff (NaN stays NaN and is not counted).

    Examples
    --------
    >>> apply_cutoff([-0.4, 0.3, 5.0, float("nan")], 1.0)[0].tolist()[:3]
    [0.0, 0.0, 5.0]
    """
    if low_flow_cutoff is not None and not low_flow_cutoff >= 0:
        raise ValueError(f"low_flow_cutoff must be >= 0, got {low_flow_cutoff!r}")
    v = np.asarray(values, dtype="float64")
    with np.errstate(invalid="ignore"):
        negative = v < 0
        cut = (v >= 0) & (v < low_flow_cutoff) & (v != 0) if low_flow_cutoff else np.zeros_like(negative)
    out = np.where(negative | cut, 0.0, v)
    return out, int(np.count_nonzero(negative)), int(np.count_nonzero(cut))


def standard_volume_m3(volume_m3, pressure_pa, temperature_k, compressibility: float = 1.0):
    """Gas volume at line conditions converted to standard conditions (15 degC, 1.01325 bar).

    Parameters
    ----------
    volume_m3 : array_like
        Volume measured at line conditions [m3].
    pressure_pa : array_like
        Absolute line pressure [Pa].
    temperature_k : array_like
        Line temperature [K].
    compressibility : float
        Compressibility factor Z at line conditions [-] (1 for an ideal gas).

    Returns
    -------
    numpy.ndarray
        Standard volume [m3 at 15 degC, 1.01325 bar].

    Notes
    -----
    V_std = V (p / 1.01325 bar) (288.15 K / T) / Z (ideal-gas law with compressibility).

    Examples
    --------
    100 m3 at 2.0 barg (3.01325 bar) and 20 degC:
    100 x 3.01325 / 1.01325 x 288.15 / 293.15 = 292.3 m3.

    >>> round(float(standard_volume_m3(100.0, 301325.0, 293.15)), 1)
    292.3
    """
    if not compressibility > 0:
        raise ValueError(f"compressibility must be > 0, got {compressibility!r}")
    v, p, t = (np.asarray(x, dtype="float64") for x in (volume_m3, pressure_pa, temperature_k))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v * (p / P_STD_PA) * (T_STD_K / t) / compressibility
        return np.where((p > 0) & (t > 0), out, np.nan)


def gas_heating_value_per_std_m3(fuel: str, basis: str) -> float:
    """Heating value of a gaseous fuel per standard m3 (15 degC, 1.01325 bar), also for fuels the
    table meters as a liquid by volume (propane/LPG in its gas phase) [J/m3].

    Examples
    --------
    >>> round(gas_heating_value_per_std_m3("propane", "HHV") / 1e6, 2)
    93.51
    """
    per_mol = fuels.heating_value(fuel, basis, "amount")
    return per_mol * P_STD_PA / (fuels.R_J_MOLK * T_STD_K)
