"""Emission rows of a facility's stream energies, and the CO2e columns of its calculations.

Every period's stream energies (``stream_energies`` rows) give one ``emissions`` row per input
stream that emits (fuels, grid electricity) and per exported electricity stream:

- fuels: the energy on the facility's basis is brought to HHV (the fuel table's HHV/LHV ratio)
  and multiplied by the EPA Subpart C factors (:mod:`thermaliq.physics.emissions`), or by the
  facility's own ``emission_factors.fuels`` entry for the stream id or the fuel;
- electricity imports: energy × ``emission_factors.electricity`` (scope ``indirect``);
- electricity outputs (a CHP's export): the grid emissions it displaces, scope ``exported``,
  reported apart and never subtracted from the facility's CO2e.

``co2e_kg`` of a calculation is the sum over its ``direct`` and ``indirect`` rows; it is NaN when a
stream that emits has no factor (electricity without a grid factor) or no energy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility, is_fuel
from thermaliq.physics import emissions, fuels
from thermaliq.store import versions

EMISSION_COLUMNS = ["facility_id", "granularity", "period_start", "period_end", "stream_id",
                    "scope", "energy_hhv_kwh", "co2_kg", "ch4_kg", "n2o_kg", "co2e_kg",
                    "factor_source"]
CALC_COLUMNS = ["co2e_kg", "co2e_intensity_kg_per_mwh"]     # added to `calculations`
NO_GRID_FACTOR = "no grid factor: set emission_factors.electricity"


def _stream_factors(facility: Facility) -> dict[str, tuple[str, object]]:
    """Per emitting stream: (scope, FuelFactors | grid factor [kg/MWh] | None)."""
    ef = facility.emission_factors
    out: dict[str, tuple[str, object]] = {}
    for s in facility.streams:
        if s.role == "input" and is_fuel(s.carrier):
            fuel = fuels.canonical_name(s.carrier)
            own = ef.fuels.get(s.id) or ef.fuels.get(s.carrier) or ef.fuels.get(fuel)
            factors = (emissions.FuelFactors(own.co2_kg_per_mmbtu, own.ch4_kg_per_mmbtu,
                                             own.n2o_kg_per_mmbtu, f"facility: {own.source}")
                       if own is not None else emissions.FACTORS.get(fuel))
            out[s.id] = ("direct", (fuel, factors))
        elif s.carrier == "electricity" and s.role in ("input", "output"):
            grid = ef.electricity.kg_per_mwh if ef.electricity is not None else None
            out[s.id] = ("indirect" if s.role == "input" else "exported", grid)
    return out


def _grid_source(facility: Facility) -> str:
    grid = facility.emission_factors.electricity
    if grid is None:
        return NO_GRID_FACTOR
    text = f"grid factor {grid.value:g} {grid.unit} ({grid.method}-based)"
    return f"{text}: {grid.source}" if grid.source else text


def emission_rows(facility: Facility, energies: pd.DataFrame) -> pd.DataFrame:
    """``emissions`` rows of long stream-energy rows (as ``stream_energies`` holds them).

    Parameters
    ----------
    facility : Facility
    energies : DataFrame
        Rows with ``granularity, period_start, period_end, stream_id`` and
        ``balance_energy_kwh`` (or, in rows without it, ``energy_kwh``) [kWh, on the facility's
        basis]: the energy over the facility's valid intervals.

    Returns
    -------
    DataFrame
        Columns :data:`EMISSION_COLUMNS` (kg; ``energy_hhv_kwh`` in kWh).
    """
    factors = _stream_factors(facility)
    rows = energies[energies["stream_id"].isin(list(factors))]
    if rows.empty:
        return pd.DataFrame(columns=EMISSION_COLUMNS)
    gwp = facility.emission_factors.gwp
    codes, streams = pd.factorize(rows["stream_id"])
    # over the facility's valid intervals, like the efficiency and the useful output the intensity
    # divides by (rows written before issue 21 hold it in energy_kwh)
    e_kwh = (rows["balance_energy_kwh"] if "balance_energy_kwh" in rows
             else rows["energy_kwh"]).to_numpy(dtype="float64")
    n = len(rows)
    scope, source = np.empty(n, dtype=object), np.empty(n, dtype=object)
    e_hhv, co2, ch4, n2o, co2e = (np.empty(n) for _ in range(5))
    # the streams' rows keep the order of ``energies``; each stream's numbers element by element
    for code in np.argsort(np.asarray(streams, dtype=object), kind="stable"):
        stream_id = streams[code]
        at = codes == code
        kind, what = factors[stream_id]
        e = e_kwh[at]
        if kind == "direct":
            fuel, ff = what
            ratio = 1.0 if facility.basis == "HHV" else fuels.get_fuel(fuel).hhv_lhv_ratio
            hhv = e * ratio
            if ff is None:
                nan = hhv * np.nan
                em = emissions.Emissions(nan, nan, nan, nan,
                                         f"no factors for {fuel}: set emission_factors.fuels")
            else:
                em = emissions.fuel_emissions(hhv / emissions.KWH_PER_MMBTU, fuel, factors=ff, gwp=gwp)
                em = emissions.Emissions(em.co2_kg, em.ch4_kg, em.n2o_kg, em.co2e_kg,
                                         f"{em.source}; GWP IPCC {gwp}")
        else:
            hhv = e
            em = (emissions.electricity_emissions(e, what, _grid_source(facility))
                  if what is not None else emissions.Emissions(*(e * np.nan,) * 4, NO_GRID_FACTOR))
        scope[at], source[at], e_hhv[at] = kind, em.source, hhv
        co2[at], ch4[at], n2o[at], co2e[at] = em.co2_kg, em.ch4_kg, em.n2o_kg, em.co2e_kg
    out = pd.DataFrame({
        "facility_id": facility.facility_id,
        "granularity": rows["granularity"].to_numpy(),
        "period_start": pd.DatetimeIndex(pd.to_datetime(rows["period_start"], utc=True)),
        "period_end": pd.DatetimeIndex(pd.to_datetime(rows["period_end"], utc=True)),
        "stream_id": pd.array(np.asarray(streams, dtype=object)[codes], dtype="str"),
        "scope": pd.array(scope, dtype="str"),
        "energy_hhv_kwh": e_hhv, "co2_kg": co2, "ch4_kg": ch4, "n2o_kg": n2o, "co2e_kg": co2e,
        "factor_source": pd.array(source, dtype="str")})
    if "version" in rows:
        out["version"] = rows["version"].to_numpy()
    return out


def with_co2e(calc: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``calc`` with ``co2e_kg`` (direct + indirect, NaN if one is unknown) and
    ``co2e_intensity_kg_per_mwh`` (per MWh of useful output) [kg, kg/MWh]."""
    out = calc.copy()
    counted = rows[rows["scope"] != "exported"]
    if counted.empty:
        out["co2e_kg"] = np.nan
    else:
        out["co2e_kg"] = _period_co2e_kg(counted, out)
    out["co2e_intensity_kg_per_mwh"] = emissions.intensity_kg_per_mwh(out["co2e_kg"],
                                                                      out["useful_output_kwh"])
    return out


def _period_co2e_kg(counted: pd.DataFrame, calc: pd.DataFrame) -> np.ndarray:
    """Per row of ``calc``, the sum of the ``co2e_kg`` of the ``counted`` emission rows of its
    period (matched on granularity and period start as an instant; NaN when one is unknown or
    there is none) [kg].

    The rows are grouped by integer key codes, not by a MultiIndex of text and timestamps; the sum
    is pandas' grouped sum over the rows in their order, so the numbers are the same.
    """
    counted_code, calc_code = versions.key_codes([counted, calc], ["granularity", "period_start"])
    group, keys = pd.factorize(counted_code)
    co2e_kg = counted["co2e_kg"].to_numpy(dtype="float64")
    total = pd.Series(co2e_kg).groupby(group).sum(min_count=1).to_numpy(copy=True)
    unknown = np.bincount(group, weights=np.isnan(co2e_kg), minlength=len(keys)) > 0
    total[unknown] = np.nan
    at = pd.Index(keys).get_indexer(calc_code)
    return np.where(at >= 0, total[np.maximum(at, 0)], np.nan)
