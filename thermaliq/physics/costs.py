"""Money and savings to a target efficiency.

The cost of a period's input is its energy times the price of its carrier. The savings of running
at a better efficiency follow the U.S. DOE's Steam Tip Sheet #4 arithmetic: at the same useful
output, fuel falls in the ratio of the efficiencies, so

    savings = fuel input × (1 − current efficiency / target efficiency)

References
----------
.. [1] U.S. DOE, Advanced Manufacturing Office, Steam Tip Sheet #4 "Improve Your Boiler's
   Combustion Efficiency" (DOE/GO-102012-3393, 2012): 500 000 MMBtu/yr, 78.2 % → 83.1 %:
   29 482 MMBtu and $235 856 at $8/MMBtu.

Examples
--------
>>> int(savings_to_target(500000.0, 78.2, 83.1))      # 29 482.55: the tip sheet truncates
29482
"""
from __future__ import annotations

import numpy as np

DOE_STEAM_TIP_4 = "U.S. DOE Steam Tip Sheet #4 (DOE/GO-102012-3393, 2012)"
DAYS_PER_YEAR = 365.0


def savings_to_target(energy_input, efficiency_percent, target_percent):
    """Input energy saved at the same useful output if the efficiency were the target.

    Parameters
    ----------
    energy_input : float or array
        Input energy of the period [any energy unit; the result has the same].
    efficiency_percent : float or array
        Current efficiency [%].
    target_percent : float
        Target (or benchmark) efficiency [%].

    Returns
    -------
    float or array
        E · (1 − η / η_target); zero or negative when already at or above the target.

    Examples
    --------
    >>> int(savings_to_target(500000.0, 78.2, 83.1)) * 8       # $ at $8/MMBtu
    235856
    """
    if not 0 < target_percent <= 100:
        raise ValueError(f"target_percent must be in (0, 100], got {target_percent}")
    return np.asarray(energy_input, dtype="float64") * (
        1.0 - np.asarray(efficiency_percent, dtype="float64") / target_percent) \
        if not np.isscalar(energy_input) else energy_input * (1.0 - efficiency_percent / target_percent)


def annualised(value, days: float):
    """A period's value scaled to a 365-day year [same unit per year].

    Examples
    --------
    >>> annualised(10.0, 73.0)       # 10 in 73 days is 50 per year
    50.0
    """
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days}")
    return value * DAYS_PER_YEAR / days


def cost_of(energy_kwh, price_per_kwh: float):
    """Cost of energy at a price per kWh [currency]."""
    if not price_per_kwh >= 0:
        raise ValueError(f"price_per_kwh must be >= 0, got {price_per_kwh}")
    return energy_kwh * price_per_kwh


def price_per_kwh(value: float, per_unit: str, *, fuel: str | None = None,
                  basis: str = "HHV") -> float:
    """A price per energy, volume or mass unit as a price per kWh of energy [currency/kWh].

    Parameters
    ----------
    value : float
        Price [currency per ``per_unit``].
    per_unit : str
        An energy unit (``MMBtu``, ``MWh``, ``GJ``, ``therm``...) or, for a fuel, a quantity unit
        (``m3``, ``Nm3``, ``scf``, ``gal``, ``L``, ``kg``, ``t``...).
    fuel : str, optional
        The fuel whose heating value turns a quantity into energy.
    basis : {"HHV", "LHV"}
        Basis of the energies the price applies to (the facility's basis).

    Examples
    --------
    >>> round(price_per_kwh(8.0, "MMBtu"), 5)        # $8/MMBtu = 8 / 293.071 $/kWh
    0.0273
    """
    from thermaliq import units
    from thermaliq.physics import fuels

    if not value >= 0:
        raise ValueError(f"value: a price must be >= 0, got {value}")
    if units.kind_of(per_unit) == "energy":
        return value / float(units.convert(1.0, per_unit, "kWh"))
    if fuel is None:
        raise ValueError(f"per_unit: {per_unit!r} is not an energy unit; a price per quantity "
                         "needs a fuel carrier")
    j_per_unit = fuels.heating_value(fuel, basis, per_unit)
    return value / (j_per_unit / 3.6e6)
