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
import pyarrow as pa
import pyarrow.compute as pc

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
    at = np.flatnonzero(_is_in(energies["stream_id"], list(factors)))
    if len(at) == 0:
        return pd.DataFrame(columns=EMISSION_COLUMNS)
    gwp = facility.emission_factors.gwp
    stream_ids = _text(energies["stream_id"], at)
    codes, streams = pd.factorize(stream_ids)
    # over the facility's valid intervals, like the efficiency and the useful output the intensity
    # divides by (rows written before issue 21 hold it in energy_kwh)
    e_kwh = (energies["balance_energy_kwh"] if "balance_energy_kwh" in energies
             else energies["energy_kwh"]).to_numpy(dtype="float64")[at]
    n = len(at)
    scopes, sources = [], []                    # per stream (code)
    e_hhv, co2, ch4, n2o, co2e = (np.empty(n) for _ in range(5))
    # the streams' rows keep the order of ``energies``; each stream's numbers element by element
    for code, stream_id in enumerate(streams):
        rows = codes == code
        kind, what = factors[stream_id]
        e = e_kwh[rows]
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
        scopes.append(kind)
        sources.append(em.source)
        e_hhv[rows] = hhv
        co2[rows], ch4[rows], n2o[rows], co2e[rows] = em.co2_kg, em.ch4_kg, em.n2o_kg, em.co2e_kg
    out = pd.DataFrame({
        "facility_id": facility.facility_id,
        "granularity": _text(energies["granularity"], at),
        "period_start": _utc(energies["period_start"], at),
        "period_end": _utc(energies["period_end"], at),
        "stream_id": stream_ids,
        "scope": pd.array(scopes, dtype="str").take(codes),
        "energy_hhv_kwh": e_hhv, "co2_kg": co2, "ch4_kg": ch4, "n2o_kg": n2o, "co2e_kg": co2e,
        "factor_source": pd.array(sources, dtype="str").take(codes)})
    if "version" in energies:
        out["version"] = energies["version"].to_numpy()[at]
    return out


def _is_in(column: pd.Series, values: list[str]) -> np.ndarray:
    """``column.isin(values)`` as a bool array (Arrow's set lookup on a text column held by
    Arrow: ~0.1 ms instead of ~2 ms for a month's 30 000 stream rows)."""
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        found = pc.is_in(column.array.__arrow_array__(), value_set=pa.array(values, pa.large_string()))
        return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return column.isin(values).to_numpy(dtype=bool)


def _text(column: pd.Series, at: np.ndarray):
    """The rows ``at`` of a text column as the ``str`` array it is, or made one."""
    if column.dtype == "str":
        return column.array.take(at)
    return pd.array(column.to_numpy(dtype=object)[at], dtype="str")


def _utc(column: pd.Series, at: np.ndarray):
    """The rows ``at`` of a date-time column as UTC instants (``datetime64[ns, UTC]``)."""
    if column.dtype == "datetime64[ns, UTC]":
        return column.array.take(at)
    return pd.DatetimeIndex(pd.to_datetime(column.iloc[at], utc=True)).array


def with_co2e(calc: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``calc`` with ``co2e_kg`` (direct + indirect, NaN if one is unknown) and
    ``co2e_intensity_kg_per_mwh`` (per MWh of useful output) [kg, kg/MWh]."""
    counted = (rows["scope"] != "exported").to_numpy(dtype=bool)
    if not counted.any():
        co2e_kg = np.full(len(calc), np.nan)
    else:
        co2e_kg = _period_co2e_kg(rows, counted, calc)
    return calc.assign(co2e_kg=co2e_kg, co2e_intensity_kg_per_mwh=emissions.intensity_kg_per_mwh(
        co2e_kg, calc["useful_output_kwh"]))


def _period_co2e_kg(rows: pd.DataFrame, counted: np.ndarray, calc: pd.DataFrame) -> np.ndarray:
    """Per row of ``calc``, the sum of the ``co2e_kg`` of the emission ``rows`` that are
    ``counted`` (a bool per row) of its period (matched on granularity and period start as an
    instant; NaN when one is unknown or there is none) [kg].

    The rows are grouped by integer key codes, not by a MultiIndex of text and timestamps (and
    coded before they are picked: picking rows of a frame costs more); the sum is pandas' grouped
    sum over the rows in their order, so the numbers are the same.
    """
    rows_code, calc_code = versions.key_codes([rows, calc], ["granularity", "period_start"])
    group, keys = pd.factorize(rows_code[counted])
    co2e_kg = rows["co2e_kg"].to_numpy(dtype="float64")[counted]
    total = pd.Series(co2e_kg).groupby(group).sum(min_count=1).to_numpy(copy=True)
    unknown = np.bincount(group, weights=np.isnan(co2e_kg), minlength=len(keys)) > 0
    total[unknown] = np.nan
    at = pd.Index(keys).get_indexer(calc_code)
    return np.where(at >= 0, total[np.maximum(at, 0)], np.nan)
