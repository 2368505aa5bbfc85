"""Greenhouse-gas emissions of fuel and electricity inputs: CO2, CH4, N2O and CO2e.

Fuels follow the U.S. EPA Greenhouse Gas Reporting Program, 40 CFR Part 98 Subpart C (general
stationary fuel combustion), Tier 1: emissions = fuel input on the HHV basis [MMBtu] × default
factor [kg/MMBtu] (Table C-1 for CO2, Table C-2 for CH4 and N2O). CO2e weighs CH4 and N2O by their
100-year global warming potentials of an IPCC assessment report (AR5 by default). Electricity
bought from the grid uses a configured grid factor [kg CO2e/MWh] (location-based by default).

References
----------
.. [1] 40 CFR Part 98, Subpart C, Table C-1 "Default CO2 emission factors and high heat values
   for various types of fuel" and Table C-2 "Default CH4 and N2O emission factors for various types
   of fuel" (as amended, 78 FR 71950, 2013).
.. [2] 40 CFR Part 98, Subpart A, Table A-1 (GWPs: AR4 until 2024, AR5 from 2025 reporting).
.. [3] IPCC AR4 WG1 (2007) Table 2.14; IPCC AR5 WG1 (2013) Table 8.7 (without climate-carbon
   feedback); IPCC AR6 WG1 (2021) Table 7.15 (CH4 of fossil origin).

Examples
--------
>>> round(fuel_emissions(1026.0, "natural_gas").co2_kg)     # 1 MMscf at 1 026 Btu/scf
54440
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KWH_PER_MMBTU = 293.07107017222        # 1 MMBtu = 1.05505585262e9 J (IT Btu) / 3.6e6 J/kWh

TABLE_C1 = "EPA 40 CFR 98 Subpart C Table C-1"
TABLE_C2 = "EPA 40 CFR 98 Subpart C Table C-2"


@dataclass(frozen=True)
class FuelFactors:
    """Emission factors of one fuel on the HHV basis.

    Attributes
    ----------
    co2_kg_per_mmbtu, ch4_kg_per_mmbtu, n2o_kg_per_mmbtu : float
        Emission factors [kg/MMBtu HHV].
    source : str
        Where the factors come from (table and row).
    """

    co2_kg_per_mmbtu: float
    ch4_kg_per_mmbtu: float
    n2o_kg_per_mmbtu: float
    source: str


# Table C-2 rows [kg/MMBtu]: (CH4, N2O)
_C2_NATURAL_GAS = (1.0e-03, 1.0e-04)
_C2_PETROLEUM = (3.0e-03, 6.0e-04)
_C2_COAL = (1.1e-02, 1.6e-03)
_C2_BIOMASS_SOLID = (3.2e-02, 4.2e-03)
_C2_BIOGAS = (3.2e-03, 6.3e-04)


def _row(co2: float, c2: tuple[float, float], c1_row: str, c2_row: str) -> FuelFactors:
    return FuelFactors(co2, c2[0], c2[1], f"{TABLE_C1} ({c1_row}); {TABLE_C2} ({c2_row})")


# Default factors per fuel of thermaliq.physics.fuels (kg/MMBtu HHV), with the table rows used.
FACTORS: dict[str, FuelFactors] = {
    "natural_gas": _row(53.06, _C2_NATURAL_GAS, "natural gas, weighted U.S. average",
                        "natural gas"),
    "propane": _row(62.87, _C2_PETROLEUM, "propane", "petroleum products"),
    "fuel_oil_no2": _row(73.96, _C2_PETROLEUM, "distillate fuel oil No. 2", "petroleum products"),
    "diesel": _row(73.96, _C2_PETROLEUM, "distillate fuel oil No. 2", "petroleum products"),
    "fuel_oil_no6": _row(75.10, _C2_PETROLEUM, "residual fuel oil No. 6", "petroleum products"),
    "coal": _row(94.67, _C2_COAL, "mixed (industrial sector) coal", "coal and coke"),
    # biogenic CO2: Table C-1 gives it, Subpart C reports it apart from fossil CO2
    "biomass": _row(93.80, _C2_BIOMASS_SOLID, "wood and wood residuals (dry basis), biogenic",
                    "biomass fuels - solid"),
    "biogas": _row(52.07, _C2_BIOGAS, "other biomass gases, biogenic", "biogas"),
    # no carbon: no CO2; Subpart C lists no CH4/N2O factor for hydrogen
    "hydrogen": FuelFactors(0.0, 0.0, 0.0, "no carbon in the fuel (H2): zero by stoichiometry"),
}

# 100-year GWPs (CH4, N2O) [kg CO2e/kg]
GWP: dict[str, tuple[float, float]] = {
    "AR4": (25.0, 298.0),
    "AR5": (28.0, 265.0),
    "AR6": (29.8, 273.0),
}


@dataclass(frozen=True)
class Emissions:
    """Emissions of one or many periods [kg]; arrays keep the shape of the energy given."""

    co2_kg: np.ndarray | float
    ch4_kg: np.ndarray | float
    n2o_kg: np.ndarray | float
    co2e_kg: np.ndarray | float
    source: str


def gwp_of(report: str) -> tuple[float, float]:
    """GWP100 of CH4 and N2O of an IPCC assessment report.

    Parameters
    ----------
    report : str
        ``AR4``, ``AR5`` or ``AR6``.

    Returns
    -------
    tuple of float
        (CH4, N2O) [kg CO2e/kg].
    """
    if report not in GWP:
        raise ValueError(f"gwp: {report!r} is not one of {', '.join(GWP)}")
    return GWP[report]


def co2e_of(co2_kg, ch4_kg, n2o_kg, gwp: str = "AR5"):
    """CO2e = CO2 + GWP_CH4 · CH4 + GWP_N2O · N2O [kg].

    Examples
    --------
    >>> co2e_of(1000.0, 1.0, 0.1)      # AR5: 1000 + 28 + 26.5
    1054.5
    """
    g_ch4, g_n2o = gwp_of(gwp)
    return co2_kg + g_ch4 * ch4_kg + g_n2o * n2o_kg


def fuel_emissions(energy_hhv_mmbtu, fuel: str, *, factors: FuelFactors | None = None,
                   gwp: str = "AR5") -> Emissions:
    """Emissions of burning a fuel (EPA Subpart C Tier 1).

    Parameters
    ----------
    energy_hhv_mmbtu : float or array
        Fuel input on the HHV basis [MMBtu].
    fuel : str
        Canonical fuel name of :data:`FACTORS` (ignored when ``factors`` is given).
    factors : FuelFactors, optional
        A facility's override (supplier certificate, biogenic fuel).
    gwp : str
        IPCC report of the GWPs (``AR4``, ``AR5``, ``AR6``).

    Returns
    -------
    Emissions
        CO2, CH4, N2O and CO2e [kg].

    Notes
    -----
    CO2 = E_HHV · EF_CO2 (Table C-1); CH4 = E_HHV · EF_CH4, N2O = E_HHV · EF_N2O (Table C-2).

    Examples
    --------
    >>> round(fuel_emissions(138.0, "fuel_oil_no2").co2_kg)      # 1 000 gal No. 2 oil
    10206
    """
    if factors is None:
        if fuel not in FACTORS:
            raise ValueError(f"fuel: no emission factors for {fuel!r}; give them in "
                             f"emission_factors.fuels (known: {', '.join(sorted(FACTORS))})")
        factors = FACTORS[fuel]
    e = np.asarray(energy_hhv_mmbtu, dtype="float64") if not np.isscalar(energy_hhv_mmbtu) \
        else float(energy_hhv_mmbtu)
    co2 = e * factors.co2_kg_per_mmbtu
    ch4 = e * factors.ch4_kg_per_mmbtu
    n2o = e * factors.n2o_kg_per_mmbtu
    return Emissions(co2, ch4, n2o, co2e_of(co2, ch4, n2o, gwp), factors.source)


def electricity_emissions(energy_kwh, factor_kg_per_mwh: float, source: str) -> Emissions:
    """Emissions of grid electricity: energy [MWh] × grid factor [kg CO2e/MWh].

    The grid factor is taken as CO2e; CO2, CH4 and N2O are not split (NaN).

    Examples
    --------
    >>> electricity_emissions(2000.0, 400.0, "grid").co2e_kg     # 2 MWh × 400 kg/MWh
    800.0
    """
    if not factor_kg_per_mwh >= 0:
        raise ValueError(f"factor_kg_per_mwh must be >= 0, got {factor_kg_per_mwh}")
    e = np.asarray(energy_kwh, dtype="float64") if not np.isscalar(energy_kwh) else float(energy_kwh)
    nan = e * np.nan
    return Emissions(nan, nan, nan, e / 1000.0 * factor_kg_per_mwh, source)


def intensity_kg_per_mwh(co2e_kg, useful_output_kwh):
    """CO2e intensity per MWh of useful output [kg/MWh]; NaN where the output is not positive."""
    out = np.asarray(useful_output_kwh, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(out > 0, np.asarray(co2e_kg, dtype="float64") / (out / 1000.0), np.nan)
