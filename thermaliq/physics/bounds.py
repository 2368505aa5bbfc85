"""The highest efficiency a period can physically reach, by heating-value basis.

On an HHV basis no plant exceeds 100 %: the higher heating value already counts the latent heat
of the water vapour. On an LHV basis a condensing boiler that recovers part of that latent heat
legitimately exceeds 100 % (about 108 % for natural gas at low return temperatures); the bound is
100 x HHV/LHV of the period's energy-weighted input mix (110.8 % for natural gas, NETL QGESS
52.295 / 47.201 MJ/kg). Electricity and other non-fuel inputs weigh with a ratio of 1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility, is_fuel
from thermaliq.errors import ConfigError
from thermaliq.physics import fuels


def input_ratio(carrier: str | None) -> float:
    """HHV/LHV ratio of an input carrier [-]: the fuel table's for a fuel it knows, else 1."""
    if not is_fuel(carrier):
        return 1.0
    try:
        return fuels.get_fuel(carrier).hhv_lhv_ratio
    except ConfigError:   # a fuel outside the table (given with its own heating value)
        return 1.0


def max_efficiency_percent(facility: Facility, energy_kwh: pd.DataFrame) -> np.ndarray:
    """Upper bound of the efficiency of each period [%].

    Parameters
    ----------
    facility : Facility
        Basis and the streams' roles and carriers.
    energy_kwh : pandas.DataFrame
        Energies per period (rows) and stream id (columns) on the facility's basis [kWh].

    Returns
    -------
    numpy.ndarray
        100 on HHV; on LHV 100 x sum(E_i r_i) / sum(E_i) over the inputs i, r_i = HHV/LHV of
        input i; 100 x the mean ratio of the inputs where the period has no input energy.

    Examples
    --------
    LHV facility, only natural gas (r = 52.295 / 47.201 = 1.10792): 110.79 % for every period.
    """
    n = len(energy_kwh.index)
    if facility.basis == "HHV":
        return np.full(n, 100.0)
    inputs = [s for s in facility.streams if s.role == "input" and s.id in energy_kwh.columns]
    if not inputs:
        return np.full(n, 100.0)
    ratios = np.array([input_ratio(s.carrier) for s in inputs])
    e = np.nan_to_num(energy_kwh[[s.id for s in inputs]].to_numpy(dtype="float64"), nan=0.0)
    total = e.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = np.where(total > 0, (e * ratios).sum(axis=1) / total, ratios.mean())
    return 100.0 * weighted
