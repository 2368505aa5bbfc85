"""The words a facility file may use for carriers and fuels, and "did you mean" for typos.

The fuel table itself (heating values, compositions, sources) is :mod:`thermaliq.physics.fuels`,
but the configuration layer may import only ``units``, ``errors`` and ``settings``: so the *names*
live here, where both the configuration checks and the physics can see them, and
``tests/test_first_contact.py`` checks that they equal the fuel table's names and aliases.
"""
from __future__ import annotations

import difflib

#: Canonical fuel names of the fuel table (``thermaliq.physics.fuels.FUELS``).
FUEL_NAMES = ("natural_gas", "biogas", "hydrogen", "propane", "fuel_oil_no2", "diesel",
              "fuel_oil_no6", "coal", "biomass")
#: Aliases accepted for fuels (``thermaliq.physics.fuels.ALIASES``).
FUEL_ALIASES = ("fuel_oil", "heating_oil", "heavy_fuel_oil", "lpg", "wood", "gas")
#: Carriers that are not fuels.
OTHER_CARRIERS = ("electricity", "steam", "hot_water", "heat", "flue_gas", "blowdown")


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """A ``did you mean 'x'?`` hint for a misspelt ``word``, or a list of the choices.

    Parameters
    ----------
    word : str
        What the user wrote.
    choices : sequence of str
        The words allowed.

    Examples
    --------
    >>> did_you_mean("natral_gas", FUEL_NAMES)
    "did you mean 'natural_gas'?"
    """
    close = difflib.get_close_matches(str(word).strip().lower(), list(choices), n=2, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "use one of " + ", ".join(choices)


def known_fuel(name: str) -> bool:
    """True when ``name`` is a fuel of the fuel table or one of its aliases."""
    return str(name).strip().lower() in FUEL_NAMES + FUEL_ALIASES
