"""Fuel table: heating values, densities, compositions, Siegert coefficients, exergy factors.

Every number carries its published source in ``Fuel.sources``. Internally all values are SI:
heating values in J/kg, densities in kg/m3, molar masses in kg/mol, mass fractions 0..1.

Gas volumes: plants meter gases in normal (0 degC), standard (15 degC) or US standard (60 degF)
cubic metres/feet; ``thermaliq.units`` turns those into amounts of ideal gas (mol), so a gas
heating value per mol is ``HHV_per_kg * molar_mass``. A plain ``m3`` of a gas is ambiguous; the
table then assumes standard conditions (15 degC, 1.01325 bar) and callers record that assumption.

Examples
--------
>>> round(heating_value("natural_gas", "HHV", "scf") / 1055.056, 0)   # Btu/scf
1027.0
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thermaliq import units
from thermaliq.errors import ConfigError, UnitError

R_J_MOLK = 8.314462618  # molar gas constant [J/(mol K)] (CODATA 2018)
P_STD_PA = 101325.0
T_STD_K = 288.15        # ISO 13443 standard reference temperature
H_FG_25C_J_KG = 2442.3e3  # latent heat of water at 25 degC [J/kg] (IAPWS-IF97: h''-h' at 298.15 K)

_M = {"C": 12.011e-3, "H2": 2.016e-3, "O2": 31.998e-3, "N2": 28.014e-3, "S": 32.06e-3,
      "CO2": 44.009e-3, "H2O": 18.015e-3}  # molar masses [kg/mol] (IUPAC standard atomic weights)

# Natural gas of the NETL Quality Guidelines for Energy System Studies (QGESS) "Specification for
# Selected Feedstocks", Exhibit: natural gas composition [mol fraction], and its HHV/LHV.
_NETL_NG = {"CH4": 0.931, "C2H6": 0.032, "C3H8": 0.007, "C4H10": 0.004, "CO2": 0.010, "N2": 0.016}
_BIOGAS = {"CH4": 0.60, "CO2": 0.40}  # typical anaerobic-digester gas (assumption, mol fraction)
_MOLECULES = {  # (C atoms, H atoms, molar mass [kg/mol])
    "CH4": (1, 4, 16.043e-3), "C2H6": (2, 6, 30.069e-3), "C3H8": (3, 8, 44.096e-3),
    "C4H10": (4, 10, 58.122e-3), "CO2": (0, 0, 44.009e-3), "N2": (0, 0, 28.014e-3),
}

NETL_QGESS = ("NETL, Quality Guidelines for Energy System Studies: Specification for Selected "
              "Feedstocks (DOE/NETL-341/011812, 2012)")
GREET = ("Argonne GREET via PNNL Hydrogen Analysis Resource Center, 'Lower and Higher Heating "
         "Values of Hydrogen and Fuels' (GREET 1.8b)")
BIMSCHV = "1. BImSchV (Germany, 2010), Anlage 2: Siegert coefficients A2, B"
SZARGUT = ("Szargut & Styrylska (1964) correlations, in Kotas, The Exergy Method of Thermal Plant "
           "Analysis (1985), Appendix; Szargut, Morris, Steward (1988) standard chemical exergies")
EED = "Directive 2012/27/EU (Energy Efficiency Directive), Annex IV: net calorific values"


def _gas_mass_fractions(mol: dict[str, float]) -> tuple[dict[str, float], float]:
    """Ultimate analysis (mass fractions) and molar mass [kg/mol] of a gas mixture."""
    m_mix = sum(x * _MOLECULES[s][2] for s, x in mol.items())
    comp = {"C": 0.0, "H": 0.0, "O": 0.0, "N": 0.0, "S": 0.0, "H2O": 0.0, "ash": 0.0, "CO2": 0.0}
    for s, x in mol.items():
        nc, nh, m = _MOLECULES[s]
        if s == "CO2":
            comp["CO2"] += x * m / m_mix
        elif s == "N2":
            comp["N"] += x * m / m_mix
        else:
            comp["C"] += x * nc * 12.011e-3 / m_mix
            comp["H"] += x * nh * 1.008e-3 / m_mix
    return comp, m_mix


def _comp(**kw) -> dict[str, float]:
    base = {"C": 0.0, "H": 0.0, "O": 0.0, "N": 0.0, "S": 0.0, "H2O": 0.0, "ash": 0.0, "CO2": 0.0}
    base.update(kw)
    return base


@dataclass(frozen=True)
class Fuel:
    """One row of the fuel table.

    Attributes
    ----------
    name : str
        Canonical name.
    state : str
        ``gas``, ``liquid`` or ``solid``.
    hhv_j_kg, lhv_j_kg : float
        Higher and lower heating value [J/kg].
    density_kg_m3 : float or None
        Liquids: at 15 degC; gases: at normal conditions (0 degC, 1.01325 bar) [kg/m3].
    molar_mass_kg_mol : float or None
        Gases only [kg/mol].
    composition : dict
        Mass fractions of C, H, O, N, S, H2O (moisture), ash, CO2 (inert) [-], summing to 1.
    siegert : tuple or None
        Siegert coefficients (A2, B) of the 1. BImSchV; None where the ordinance gives none.
    exergy_factor : float
        Chemical exergy / LHV [-].
    sources : dict
        Published source of each field.
    """

    name: str
    state: str
    hhv_j_kg: float
    lhv_j_kg: float
    density_kg_m3: float | None
    molar_mass_kg_mol: float | None
    composition: dict[str, float]
    siegert: tuple[float, float] | None
    exergy_factor: float
    sources: dict[str, str] = field(default_factory=dict)
    liquid_density_kg_m3: float | None = None

    @property
    def hhv_lhv_ratio(self) -> float:
        """HHV / LHV [-]."""
        return self.hhv_j_kg / self.lhv_j_kg


def _phi_liquid(c: dict) -> float:
    """Szargut-Styrylska exergy factor of liquid hydrocarbon fuels (mass ratios to C)."""
    h, o, s = c["H"] / c["C"], c["O"] / c["C"], c["S"] / c["C"]
    return 1.0401 + 0.1728 * h + 0.0432 * o + 0.2169 * s * (1 - 2.0628 * h)


def _phi_coal(c: dict) -> float:
    """Szargut-Styrylska exergy factor of dry solid fossil fuels, o/c <= 0.667."""
    h, o, n = c["H"] / c["C"], c["O"] / c["C"], c["N"] / c["C"]
    return 1.0437 + 0.1882 * h + 0.0610 * o + 0.0404 * n


def _phi_wood(c: dict) -> float:
    """Szargut-Styrylska exergy factor of wood, o/c <= 2.67."""
    h, o, n = c["H"] / c["C"], c["O"] / c["C"], c["N"] / c["C"]
    return (1.0412 + 0.2160 * h - 0.2499 * o * (1 + 0.7884 * h) + 0.0450 * n) / (1 - 0.3035 * o)


def _build() -> dict[str, Fuel]:
    fuels: dict[str, Fuel] = {}
    ng_comp, ng_m = _gas_mass_fractions(_NETL_NG)
    fuels["natural_gas"] = Fuel(
        "natural_gas", "gas", 52.295e6, 47.201e6, ng_m * P_STD_PA / (R_J_MOLK * 273.15), ng_m,
        ng_comp, (0.66, 0.009), 1.04,
        {"hhv": NETL_QGESS, "lhv": NETL_QGESS, "composition": NETL_QGESS,
         "density": "ideal gas at 0 degC, 1.01325 bar from the NETL composition",
         "siegert": BIMSCHV, "exergy_factor": "Kotas (1985): natural gas phi = 1.04",
         "check": "EPA 40 CFR 98 Subpart C Table C-1: 1.026e-3 MMBtu/scf (weighted U.S. average)"})
    bg_comp, bg_m = _gas_mass_fractions(_BIOGAS)
    ch4_share = 0.60 * 16.043e-3 / bg_m
    fuels["biogas"] = Fuel(
        "biogas", "gas", ch4_share * 55.50e6, ch4_share * 50.00e6,
        bg_m * P_STD_PA / (R_J_MOLK * 273.15), bg_m, bg_comp, None, 1.04,
        {"composition": "assumed 60 mol-% CH4, 40 mol-% CO2 (typical digester gas)",
         "hhv": "methane 55.50 MJ/kg HHV, Engineering ToolBox 'Fuels - Higher and Lower "
                "Calorific Values', times the CH4 mass share",
         "lhv": "methane 50.00 MJ/kg LHV, Engineering ToolBox, times the CH4 mass share",
         "exergy_factor": "Kotas (1985): methane-based gases phi = 1.04", "siegert": "none"})
    h2_comp = _comp(H=1.0)
    fuels["hydrogen"] = Fuel(
        "hydrogen", "gas", 141.88e6, 119.96e6, 2.016e-3 * P_STD_PA / (R_J_MOLK * 273.15), 2.016e-3,
        h2_comp, None, 236.09 / 241.83,
        {"hhv": GREET, "lhv": GREET, "composition": "H2",
         "exergy_factor": "Szargut et al. (1988): H2 236.09 kJ/mol over LHV 241.83 kJ/mol"})
    c3 = _comp(C=3 * 12.011 / 44.096, H=8 * 1.008 / 44.096)
    fuels["propane"] = Fuel(
        "propane", "gas", 50.140e6, 46.596e6, 44.096e-3 * P_STD_PA / (R_J_MOLK * 273.15),
        44.096e-3, c3, (0.63, 0.008), _phi_liquid(c3),
        {"hhv": GREET + " (LPG row)", "lhv": GREET + " (LPG row)", "composition": "C3H8",
         "liquid_density": "GREET LPG 1923 g/gal = 508 kg/m3", "siegert": BIMSCHV + " (Fluessiggas)",
         "exergy_factor": SZARGUT, "check": "EPA Table C-1: propane 0.091 MMBtu/gal"},
        liquid_density_kg_m3=1923e-3 / 3.785411784e-3)
    no2 = _comp(C=0.873, H=0.125, S=0.002)
    fuels["fuel_oil_no2"] = Fuel(
        "fuel_oil_no2", "liquid", 45.755e6, 42.781e6, 3167 / 3.785411784, None, no2,
        (0.68, 0.007), _phi_liquid(no2),
        {"hhv": GREET + " (U.S. conventional diesel)", "lhv": GREET + " (U.S. conventional diesel)",
         "density": GREET + ": 3167 g/gal",
         "composition": "typical No. 2 oil, approximate (Babcock & Wilcox, Steam, 41st ed.)",
         "siegert": BIMSCHV + " (Heizoel EL)", "exergy_factor": SZARGUT,
         "check": "EPA Table C-1: distillate fuel oil No. 2 0.138 MMBtu/gal"})
    fuels["diesel"] = Fuel(
        "diesel", "liquid", 45.564e6, 42.602e6, 3206 / 3.785411784, None, no2, (0.68, 0.007),
        _phi_liquid(no2),
        {"hhv": GREET + " (low-sulfur diesel)", "lhv": GREET + " (low-sulfur diesel)",
         "density": GREET + ": 3206 g/gal",
         "composition": "as No. 2 oil, approximate (Babcock & Wilcox, Steam, 41st ed.)",
         "siegert": BIMSCHV + " (Heizoel EL)", "exergy_factor": SZARGUT})
    no6 = _comp(C=0.859, H=0.107, S=0.024, O=0.005, N=0.004, ash=0.001)
    fuels["fuel_oil_no6"] = Fuel(
        "fuel_oil_no6", "liquid", 42.200e6, 39.457e6, 3752 / 3.785411784, None, no6, None,
        _phi_liquid(no6),
        {"hhv": GREET + " (residual oil)", "lhv": GREET + " (residual oil)",
         "density": GREET + ": 3752 g/gal",
         "composition": "typical No. 6 oil, approximate (Babcock & Wilcox, Steam, 41st ed.)",
         "siegert": "none (1. BImSchV gives no coefficients for heavy fuel oil)",
         "exergy_factor": SZARGUT, "check": "EPA Table C-1: residual fuel oil No. 6 0.150 MMBtu/gal"})
    coal = _comp(C=0.6375, H=0.0450, N=0.0125, S=0.0251, ash=0.0970, O=0.0688 + 0.0029,
                 H2O=0.1112)  # chlorine (0.29 %) lumped with oxygen as inert mass
    dry = {k: v for k, v in coal.items()}
    fuels["coal"] = Fuel(
        "coal", "solid", 27.113e6, 26.151e6, None, None, coal, None, _phi_coal(dry),
        {"hhv": NETL_QGESS + " (Illinois No. 6 bituminous, as received)",
         "lhv": NETL_QGESS + " (Illinois No. 6 bituminous, as received)",
         "composition": NETL_QGESS + " (Illinois No. 6 ultimate analysis, as received)",
         "exergy_factor": SZARGUT, "siegert": "none",
         "check": "EPA Table C-1: bituminous 24.93 MMBtu/short ton = 29.0 MJ/kg"})
    moist = 0.25
    wood_dry = {"C": 0.50, "H": 0.06, "O": 0.435, "N": 0.001, "ash": 0.004}
    wood = _comp(**{k: v * (1 - moist) for k, v in wood_dry.items()}, H2O=moist)
    lhv_wood = 13.80e6
    hhv_wood = lhv_wood + H_FG_25C_J_KG * (wood["H"] * 18.015 / 2.016 + wood["H2O"])
    fuels["biomass"] = Fuel(
        "biomass", "solid", hhv_wood, lhv_wood, None, None, wood, None, _phi_wood(wood_dry),
        {"lhv": EED + ": wood (25 % humidity) 13.80 MJ/kg",
         "hhv": "LHV + latent heat of the water formed and the moisture (2442 kJ/kg at 25 degC)",
         "composition": "typical dry wood ultimate analysis, approximate (C 50, H 6, O 43.5 %), "
                        "at 25 % moisture",
         "exergy_factor": SZARGUT, "siegert": "none",
         "check": "EPA Table C-1: wood and wood residuals 17.48 MMBtu/short ton dry = 20.3 MJ/kg"})
    return fuels


FUELS: dict[str, Fuel] = _build()
ALIASES = {"fuel_oil": "fuel_oil_no2", "heating_oil": "fuel_oil_no2", "heavy_fuel_oil": "fuel_oil_no6",
           "lpg": "propane", "wood": "biomass", "gas": "natural_gas"}


def get_fuel(name: str) -> Fuel:
    """Return the fuel record for a name or alias.

    Raises
    ------
    ConfigError
        When the fuel is not in the table (the message names it and lists the known fuels).
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in FUELS:
        raise ConfigError(f"unknown fuel {name!r}",
                          fix=f"use one of {', '.join(sorted(FUELS) + sorted(ALIASES))}, "
                              "or give heating_value in the stream")
    return FUELS[key]


def canonical_name(name: str) -> str:
    """Canonical table name of a fuel or alias (raises ConfigError if unknown)."""
    return get_fuel(name).name


def convert_basis(value, fuel: str, source_basis: str, target_basis: str):
    """Convert a heating value or fuel energy between HHV and LHV with the fuel's HHV/LHV ratio.

    Parameters
    ----------
    value : float, numpy.ndarray or pandas.Series
        Heating value or energy on ``source_basis`` [any energy unit].
    fuel : str
        Fuel name or alias.
    source_basis, target_basis : {"HHV", "LHV"}
    """
    for b, n in ((source_basis, "source_basis"), (target_basis, "target_basis")):
        if b not in ("HHV", "LHV"):
            raise ValueError(f"{n} must be 'HHV' or 'LHV', got {b!r}")
    if source_basis == target_basis:
        return value
    ratio = get_fuel(fuel).hhv_lhv_ratio
    return value * ratio if target_basis == "HHV" else value / ratio


def heating_value(fuel: str, basis: str = "HHV", per_unit: str = "kg") -> float:
    """Heating value of a fuel per unit of quantity.

    Parameters
    ----------
    fuel : str
        Fuel name or alias (``natural_gas``, ``fuel_oil``, ``lpg``, ...).
    basis : {"HHV", "LHV"}
        Higher or lower heating value.
    per_unit : str
        A kind (``"mass"``, ``"volume"``, ``"amount"``: J per kg, m3, mol) or a unit spelling
        (``"kg"``, ``"lb"``, ``"Nm3"``, ``"Sm3"``, ``"scf"``, ``"L"``, ``"gal"``, ``"m3"``).
        Liquids' volumes use the density at 15 degC; LPG/propane volumes are liquid volumes; a
        natural gas, biogas or hydrogen ``m3`` means a standard cubic metre (15 degC, 1.01325 bar).

    Returns
    -------
    float
        Heating value [J per the given unit].

    Raises
    ------
    ConfigError
        Unknown fuel, or a unit that does not fit the fuel (a volume of coal, a mol of oil).

    References
    ----------
    See ``Fuel.sources`` of each fuel (NETL QGESS, GREET, EU EED Annex IV, EPA 40 CFR 98 Table C-1).
    """
    f = get_fuel(fuel)
    if basis not in ("HHV", "LHV"):
        raise ValueError(f"basis must be 'HHV' or 'LHV', got {basis!r}")
    hv = f.hhv_j_kg if basis == "HHV" else f.lhv_j_kg
    if per_unit in ("mass", "volume", "amount"):
        kind, scale = per_unit, 1.0
    else:
        try:
            kind = units.check_kind(per_unit, ("mass", "volume", "amount"))
        except UnitError as exc:
            raise ConfigError(f"heating value of {f.name} per {per_unit!r}: {exc.message}",
                              fix="per kg, lb, t, Nm3, Sm3, scf, m3, L or gal") from exc
        scale = float(units.to_si(1.0, per_unit, kind))
    if kind == "mass":
        return hv * scale
    if kind == "amount":
        if f.molar_mass_kg_mol is None:
            raise ConfigError(f"{f.name} is a {f.state}: it has no heating value per amount of gas "
                              f"({per_unit})", fix="meter it in kg, t, L, gal or m3")
        return hv * f.molar_mass_kg_mol * scale
    if f.liquid_density_kg_m3 is not None:   # LPG is sold and metered as a liquid
        return hv * f.liquid_density_kg_m3 * scale
    if f.state == "gas":
        return hv * f.molar_mass_kg_mol * P_STD_PA / (R_J_MOLK * T_STD_K) * scale
    if f.density_kg_m3 is None:
        raise ConfigError(f"{f.name} is a solid without a table density: no heating value per "
                          f"volume ({per_unit})", fix="meter it by mass (kg, t, lb)")
    return hv * f.density_kg_m3 * scale
