"""Efficiency benchmarks per facility type, each row with its published source.

Only ranges that a public source states are in the table. Facility types without one
(``process_heater``, ``furnace``, ``dryer``: their efficiency depends on the process
temperature far more than on the equipment) have no row; :func:`compare` raises
:class:`NoBenchmarkError` (a ``ValueError``) for them, so callers skip the ``below_benchmark``
alert instead of raising it against a guess.

Examples
--------
>>> compare("steam_boiler", 82.0, "HHV").position
'typical_to_best'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from thermaliq.physics import fuels

_DOE_TS4 = ("U.S. DOE Steam Tip Sheet #4, 'Improve Your Boiler's Combustion Efficiency' (2012), "
            "natural-gas combustion-efficiency table: minimum = 81.6 % excess air at 600 degF "
            "stack-minus-air (68.2 %), typical = 15 % excess air at 400 degF (80.4 %), best = "
            "9.5 % excess air at 200 degF (85.4 %). Combustion efficiency is an upper bound of "
            "fuel-to-steam efficiency (shell and blowdown losses excluded).")
_EPA_CHP = ("U.S. EPA CHP Partnership, 'Methods for Calculating CHP Efficiency': CHP systems "
            "typically achieve total system efficiencies of 60 to 80 percent (measured fuel to "
            "power and useful heat; the source states no typical value).")
#: What a benchmark range measures: ``combustion`` efficiency (flue-gas loss only: compared with
#: the indirect efficiency) or ``fuel_to_output`` (measured useful output over fuel input:
#: compared with the direct efficiency).
MEASURES = ("combustion", "fuel_to_output")


class NoBenchmarkError(ValueError):
    """No published efficiency range exists for the facility type."""


@dataclass(frozen=True)
class Benchmark:
    """Efficiency range of a facility type [%] on ``basis`` with its source."""

    facility_type: str
    minimum: float
    typical: float
    best: float
    basis: str
    fuel: str
    source: str
    measure: str = "combustion"


@dataclass(frozen=True)
class BenchmarkPlacement:
    """Where an efficiency lies in its type's range.

    ``minimum``, ``typical``, ``best`` [%] are on ``basis`` (the caller's basis, converted from
    the table's basis with the fuel's HHV/LHV ratio when they differ; ``note`` says so).
    ``position`` is one of ``below_minimum``, ``below_typical``, ``typical_to_best``,
    ``above_best``, or ``within_range`` between minimum and best when the source states no typical
    value (``typical`` NaN).
    """

    facility_type: str
    minimum: float
    typical: float
    best: float
    basis: str
    source: str
    position: str
    note: str | None = None


BENCHMARKS: dict[str, Benchmark] = {
    "steam_boiler": Benchmark("steam_boiler", 68.2, 80.4, 85.4, "HHV", "natural_gas", _DOE_TS4),
    "hot_water_boiler": Benchmark("hot_water_boiler", 68.2, 80.4, 85.4, "HHV", "natural_gas",
                                  _DOE_TS4 + " The same combustion physics bounds non-condensing "
                                  "hot-water boilers."),
    "chp": Benchmark("chp", 60.0, math.nan, 80.0, "HHV", "natural_gas", _EPA_CHP, "fuel_to_output"),
}


def compare(facility_type: str, efficiency_percent: float, basis: str) -> BenchmarkPlacement:
    """Place an efficiency in the published range of its facility type.

    Parameters
    ----------
    facility_type : str
        One of the configuration's facility types.
    efficiency_percent : float
        Measured efficiency [%] on ``basis``.
    basis : {"HHV", "LHV"}
        Basis of ``efficiency_percent``.

    Returns
    -------
    BenchmarkPlacement

    Raises
    ------
    NoBenchmarkError
        (a ValueError) when no published range exists for the type.
    ValueError
        For a basis other than HHV or LHV.

    Notes
    -----
    An efficiency on LHV is larger than on HHV by the fuel's HHV/LHV ratio (same output,
    smaller input), so the range is multiplied by that ratio when converting HHV -> LHV.
    """
    if basis not in ("HHV", "LHV"):
        raise ValueError(f"basis must be 'HHV' or 'LHV', got {basis!r}")
    b = BENCHMARKS.get(facility_type)
    if b is None:
        raise NoBenchmarkError(f"no published efficiency range for facility type "
                               f"{facility_type!r} (known: {', '.join(sorted(BENCHMARKS))})")
    factor, note = 1.0, None
    if basis != b.basis:
        ratio = fuels.get_fuel(b.fuel).hhv_lhv_ratio
        factor = ratio if basis == "LHV" else 1.0 / ratio
        note = (f"range converted from {b.basis} to {basis} with the {b.fuel} HHV/LHV ratio "
                f"{ratio:.4f}")
    lo, mid, hi = (v * factor for v in (b.minimum, b.typical, b.best))
    if efficiency_percent < lo:
        position = "below_minimum"
    elif math.isnan(mid):
        position = "within_range" if efficiency_percent <= hi else "above_best"
    elif efficiency_percent < mid:
        position = "below_typical"
    elif efficiency_percent <= hi:
        position = "typical_to_best"
    else:
        position = "above_best"
    return BenchmarkPlacement(facility_type, lo, mid, hi, basis, b.source, position, note)


def benchmark_measure(facility_type: str) -> str | None:
    """What the facility type's range measures (a value of :data:`MEASURES`), None without one."""
    b = BENCHMARKS.get(facility_type)
    return None if b is None else b.measure


def benchmarked_value(facility_type: str, efficiency_percent: float,
                      indirect_efficiency_percent: float) -> float:
    """The efficiency a type's range is compared with [%]: the indirect efficiency for a
    combustion-efficiency range (flue-gas loss only), the direct efficiency for a measured
    fuel-to-output range; NaN without a range.

    Examples
    --------
    >>> benchmarked_value("steam_boiler", 79.9, 84.5)
    84.5
    >>> benchmarked_value("chp", 71.0, float("nan"))
    71.0
    """
    measure = benchmark_measure(facility_type)
    if measure == "combustion":
        return indirect_efficiency_percent
    return efficiency_percent if measure == "fuel_to_output" else math.nan
