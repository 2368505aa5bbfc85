"""Indicators of combined heat and power (CHP) units, per period.

With fuel input F, electricity output E and useful heat Q of a period (same energy unit, on the
facility's heating-value basis; the EU method asks for LHV, so set ``basis: LHV`` for PES):

* electrical efficiency ηE = E/F, thermal efficiency ηQ = Q/F, total = (E + Q)/F;
* PURPA efficiency (E + Q/2)/F (FERC, 18 CFR 292.205(a)(2): at least 42.5 %, or 45 % when the
  useful thermal output is below 15 % of total output);
* EPA effective electrical efficiency E/(F − Q/0.8): the fuel left for power after the heat
  a 80 % boiler would have needed (EPA CHP Partnership, "Methods for Calculating CHP Efficiency");
* primary energy savings PES = 1 − 1/(ηQ/ηQ,ref + ηE/ηE,ref) (Directive 2012/27/EU Annex II(b))
  with the harmonised reference values of Commission Delegated Regulation (EU) 2015/2402,
  Annexes I and II (:data:`REFERENCE_EFFICIENCY`, units built from 2016, before the grid and
  climate corrections).
"""
from __future__ import annotations

import numpy as np

EPA_BOILER_EFFICIENCY = 0.8   # the displaced boiler of the EPA effective electrical efficiency [-]

#: (electrical, heat) reference efficiencies [%] by fuel, Reg. (EU) 2015/2402 Annex I (electricity,
#: units from 2016) and Annex II (heat: hot water/steam, direct use of exhaust gas not covered).
REFERENCE_EFFICIENCY: dict[str, tuple[float, float]] = {
    "natural_gas": (53.0, 92.0),    # G10 natural gas
    "propane": (53.0, 92.0),        # G11 LPG
    "lng": (53.0, 92.0),
    "fuel_oil": (44.2, 85.0),       # L7 heavy fuel oil
    "diesel": (44.2, 85.0),         # L8 gas oil, diesel
    "coal": (44.2, 88.0),           # S1 hard coal (heat: steam/hot water)
    "biomass": (33.0, 86.0),        # S4 wood fuels
    "biogas": (42.0, 80.0),         # G12 biogas
    "hydrogen": (53.0, 92.0),       # G13 hydrogen, taken as natural gas
}


def _share(num, den):
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den * 100.0, np.nan)


def chp_indicators(fuel, electricity, heat, electrical_reference_percent: float = 53.0,
                   heat_reference_percent: float = 92.0) -> dict[str, np.ndarray]:
    """CHP indicators of periods [%].

    Parameters
    ----------
    fuel : float or numpy.ndarray
        Fuel input F [kWh].
    electricity : float or numpy.ndarray
        Electricity output E [kWh].
    heat : float or numpy.ndarray
        Useful heat output Q [kWh].
    electrical_reference_percent, heat_reference_percent : float
        ηE,ref and ηQ,ref of the PES [%].

    Returns
    -------
    dict of numpy.ndarray
        ``electrical_efficiency_percent``, ``thermal_efficiency_percent``,
        ``total_efficiency_percent``, ``purpa_efficiency_percent``,
        ``effective_electrical_efficiency_percent``, ``primary_energy_savings_percent`` [%];
        NaN where F <= 0 (and the EPA figure where F <= Q/0.8).

    Examples
    --------
    F = 100, E = 30, Q = 45: total 75 %, PURPA (30 + 22.5)/100 = 52.5 %, EPA 30/(100 − 56.25)
    = 68.6 %, PES = 1 − 1/(0.45/0.92 + 0.30/0.53) = 5.23 %.
    """
    for name, value in (("electrical_reference_percent", electrical_reference_percent),
                        ("heat_reference_percent", heat_reference_percent)):
        if not 0 < value <= 100:
            raise ValueError(f"{name} must be in (0, 100], got {value}")
    f = np.asarray(fuel, dtype="float64")
    e = np.asarray(electricity, dtype="float64")
    q = np.asarray(heat, dtype="float64")
    eta_e, eta_q = _share(e, f), _share(q, f)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = eta_q / heat_reference_percent + eta_e / electrical_reference_percent
        pes = np.where(ratio > 0, (1.0 - 1.0 / ratio) * 100.0, np.nan)
    return {
        "electrical_efficiency_percent": eta_e,
        "thermal_efficiency_percent": eta_q,
        "total_efficiency_percent": _share(e + q, f),
        "purpa_efficiency_percent": _share(e + q / 2.0, f),
        "effective_electrical_efficiency_percent": _share(e, f - q / EPA_BOILER_EFFICIENCY),
        "primary_energy_savings_percent": pes,
    }


def reference_efficiencies(fuel: str | None) -> tuple[float, float]:
    """(ηE,ref, ηQ,ref) [%] of a fuel from :data:`REFERENCE_EFFICIENCY`; natural gas otherwise."""
    return REFERENCE_EFFICIENCY.get(fuel or "natural_gas", REFERENCE_EFFICIENCY["natural_gas"])


CHP_COLUMNS = ["electrical_efficiency_percent", "thermal_efficiency_percent",
               "purpa_efficiency_percent", "effective_electrical_efficiency_percent",
               "primary_energy_savings_percent"]


def facility_references(facility) -> tuple[float, float]:
    """(ηE,ref, ηQ,ref) [%] of a facility: its ``chp`` block, else the default of its first fuel."""
    fuel = next((s.carrier for s in facility.streams
                 if s.role == "input" and s.carrier not in (None, "electricity", "steam",
                                                            "hot_water", "heat")), None)
    ref_e, ref_q = reference_efficiencies(fuel)
    if facility.chp is not None:
        ref_e = facility.chp.electrical_reference_percent or ref_e
        ref_q = facility.chp.heat_reference_percent or ref_q
    return ref_e, ref_q


def period_chp_columns(facility, energy_kwh) -> "dict[str, np.ndarray]":
    """The CHP columns of ``calculations`` from per-period stream energies [%].

    Parameters
    ----------
    facility : thermaliq.config.Facility
    energy_kwh : pandas.DataFrame
        Periods x stream ids, each summed over the period's valid intervals [kWh].

    Returns
    -------
    dict of numpy.ndarray
        :data:`CHP_COLUMNS`; NaN for a facility without fuel input, electricity output and
        another useful output (F = fuel inputs, E = electricity outputs, Q = other outputs).
    """
    n = len(energy_kwh)
    fuel_ids = [s.id for s in facility.streams if s.role == "input" and s.carrier not in
                (None, "electricity", "steam", "hot_water", "heat")]
    e_ids = [s.id for s in facility.streams if s.role == "output" and s.carrier == "electricity"]
    q_ids = [s.id for s in facility.streams if s.role == "output" and s.carrier != "electricity"]
    if not (fuel_ids and e_ids and q_ids):
        return {c: np.full(n, np.nan) for c in CHP_COLUMNS}

    def total(ids):
        return energy_kwh[ids].to_numpy(dtype="float64").sum(axis=1)

    out = chp_indicators(total(fuel_ids), total(e_ids), total(q_ids), *facility_references(facility))
    return {c: out[c] for c in CHP_COLUMNS}
