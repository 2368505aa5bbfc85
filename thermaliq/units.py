"""The one unit registry of thermaliq, and conversions to SI for the calculations.

Plant spellings (``m3 Nm3 Sm3 scf``, ``t/h klb/h``, gauge ``barg psig kPag`` ...) are defined as data
in ``units.txt`` beside this module. Inside the calculations every value is SI: kg/s, m3/s, mol/s,
W, J, K (absolute), Pa (absolute), and fractions (0..1) for percentages.

Examples
--------
>>> float(to_si(3.0, "barg", "pressure"))
401325.0
"""
from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pint

from thermaliq.errors import UnitError

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, on_redefinition="raise")
ureg.load_definitions(str(Path(__file__).with_name("units.txt")))
Q_ = ureg.Quantity

#: Physical kinds a measurement can be, with the SI unit used inside the calculations.
SI_UNITS: dict[str, str] = {
    "mass_flow": "kg/s",
    "volume_flow": "m3/s",
    "amount_flow": "mol/s",          # normal/standard gas volumes per time
    "power": "W",
    "mass": "kg",
    "volume": "m3",
    "amount": "mol",                 # normal/standard gas volumes
    "energy": "J",
    "temperature": "K",
    "pressure": "Pa",
    "fraction": "dimensionless",     # percent -> 0..1
    "energy_per_mass": "J/kg",
    "energy_per_volume": "J/m3",
    "energy_per_amount": "J/mol",
    "density": "kg/m3",
}


@lru_cache(maxsize=512)
def parse_unit(text: str) -> pint.Unit:
    """Parse a unit spelling into a pint unit.

    Parameters
    ----------
    text : str
        A unit as written in a configuration or readings file, e.g. ``"m3/h"``, ``"barg"``.

    Raises
    ------
    UnitError
        When the spelling is unknown.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnitError(f"empty unit {text!r}", fix="give a unit such as 'kg/h' or 'degC'")
    spelling = text.strip().replace("%", "percent")
    try:
        return ureg.parse_units(spelling)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            TypeError, ValueError, AssertionError) as exc:
        raise UnitError(f"unknown unit {text!r}", fix=suggest_unit(text)) from exc


#: Unit spellings plants use, offered as suggestions for a unit thermaliq cannot use.
PLANT_SPELLINGS = ("m3", "m3/h", "Nm3", "Nm3/h", "Sm3", "Sm3/h", "scf", "scf/h", "L", "L/min", "gal",
                   "gal/min", "t", "t/h", "kg", "kg/h", "kg/s", "lb/h", "klb/h", "bar", "barg", "bara",
                   "psi", "psig", "psia", "kPa", "kPag", "MPa", "MPag", "degC", "degF", "K", "kW", "MW",
                   "kWh", "MWh", "GJ", "MJ", "MMBtu", "therm", "Btu", "percent", "kWh/m3", "MJ/m3",
                   "MJ/kg", "kWh/Nm3", "MJ/Nm3", "Btu/scf")


def suggest_unit(text: str) -> str:
    """A fix for a unit spelling thermaliq cannot use: the closest plant spelling, if any.

    Parentheses, spaces and dots are dropped first, so ``bar(g)`` suggests ``barg`` and
    ``Nm³/h`` ``Nm3/h``.

    Examples
    --------
    >>> suggest_unit("bar(g)")
    "write 'barg' (plant spellings: m3/h, Nm3, t/h, barg, psig, degC, kW, MWh, GJ, MMBtu)"
    """
    squeezed = re.sub(r"[()\s.]", "", str(text)).replace("³", "3").replace("²", "2").replace("°", "deg")
    lower = {s.lower(): s for s in PLANT_SPELLINGS}
    close = ([lower[squeezed.lower()]] if squeezed.lower() in lower
             else difflib.get_close_matches(squeezed, PLANT_SPELLINGS, n=2, cutoff=0.6))
    hint = "m3/h, Nm3, t/h, barg, psig, degC, kW, MWh, GJ, MMBtu"
    if close:
        return "write " + " or ".join(repr(c) for c in close) + f" (plant spellings: {hint})"
    return f"use a pint unit or a plant spelling such as {hint}"


@lru_cache(maxsize=512)
def kind_of(text: str) -> str:
    """Return the physical kind (a key of ``SI_UNITS``) of a unit spelling.

    Raises
    ------
    UnitError
        When the unit is unknown or of no kind thermaliq uses.
    """
    unit = parse_unit(text)
    for kind, si in SI_UNITS.items():
        if ureg.Quantity(1, unit).is_compatible_with(si):
            if kind == "fraction" and text.strip() not in ("percent", "%", "dimensionless", "1", "ppm"):
                continue
            return kind
    raise UnitError(f"unit {text!r} is not a unit of any measurement (read as {str(unit)!r})",
                    fix=suggest_unit(text))


def check_kind(text: str, allowed: tuple[str, ...] | list[str] | set[str]) -> str:
    """Return the first of ``allowed`` kinds that ``text`` is compatible with.

    Some kinds share a dimension (J/m3 is also a pressure): the caller's ``allowed`` decides.

    Raises
    ------
    UnitError
        When the unit is unknown or compatible with none of ``allowed``.
    """
    return _check_kind(text, tuple(allowed))


@lru_cache(maxsize=1024)
def _check_kind(text: str, allowed: tuple[str, ...]) -> str:
    """:func:`check_kind` for a tuple of kinds, memoised (pint's compatibility test costs ~0.4 ms
    and every stream's energy asks it for each measurement; errors are not cached)."""
    unit = parse_unit(text)
    for kind in allowed:
        if ureg.Quantity(1, unit).is_compatible_with(SI_UNITS[kind]):
            return kind
    allowed_text = " or ".join(k.replace("_", " ") for k in allowed)
    try:
        actual = "a " + kind_of(text).replace("_", " ")
    except UnitError as exc:   # no measurement's unit: say how pint read it and suggest a spelling
        raise UnitError(f"unit {text!r} is of dimension {unit.dimensionality}, expected a "
                        f"{allowed_text} (read as {str(unit)!r})", fix=exc.fix) from exc
    raise UnitError(f"unit {text!r} is {actual}, expected a {allowed_text}",
                    fix=f"give a unit of {allowed_text}")


@lru_cache(maxsize=1024)
def _linear_factors(source: str, target: str) -> tuple[float, float]:
    """Return (scale, offset) such that target = source * scale + offset."""
    src, dst = parse_unit(source), parse_unit(target)
    zero = ureg.Quantity(0.0, src).to(dst).magnitude
    one = ureg.Quantity(1.0, src).to(dst).magnitude
    return float(one - zero), float(zero)


def convert(values, source: str, target: str):
    """Convert values from one unit to another (offset units such as degC or barg included).

    Parameters
    ----------
    values : float, numpy.ndarray or pandas.Series
        Magnitudes in ``source`` units.
    source, target : str
        Unit spellings.

    Returns
    -------
    Same type as ``values`` (a Series keeps its index), in ``target`` units.

    Raises
    ------
    UnitError
        When either unit is unknown or the two are not compatible.
    """
    try:
        scale, offset = _linear_factors(source, target)
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"cannot convert {source!r} to {target!r}: different dimensions",
                        fix=f"give the value in a unit compatible with {target!r}") from exc
    if isinstance(values, pd.Series):
        return values.astype("float64") * scale + offset
    return np.asarray(values, dtype="float64") * scale + offset if not np.isscalar(values) \
        else float(values) * scale + offset


def to_si(values, unit: str, kind: str | None = None):
    """Convert values to the SI unit of their kind (see ``SI_UNITS``).

    Parameters
    ----------
    values : float, numpy.ndarray or pandas.Series
        Magnitudes in ``unit``.
    unit : str
        Their unit spelling.
    kind : str, optional
        The expected kind; when given, a unit of another kind raises :class:`UnitError`.
    """
    actual = kind_of(unit) if kind is None else check_kind(unit, (kind,))
    return convert(values, unit, SI_UNITS[actual])
