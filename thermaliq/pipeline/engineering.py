"""The engineering columns of a window: uncertainty (k = 2), its budget, and CHP indicators.

Kept apart from :mod:`thermaliq.pipeline.calculate` so the stages stay short: :func:`add_columns`
takes the window's energies and period rows and adds the ``*_uncertainty_points`` columns
(:mod:`thermaliq.physics.budget`) and the CHP columns (:mod:`thermaliq.physics.chp`) to them, and
returns the day budget rows of the ``uncertainty_budget`` relation; :func:`month_uncertainty` gives
a month row its uncertainty from the current budgets of its days.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.store import lake, versions
from thermaliq.physics import budget, chp
from thermaliq.physics.energy import StreamEnergies

BUDGET_RELATION_COLUMNS = ["facility_id"] + budget.BUDGET_COLUMNS
ENGINEERING_COLUMNS = list(budget.QUANTITIES.values()) + chp.CHP_COLUMNS


def add_columns(facility: Facility, values: pd.DataFrame, energies: StreamEnergies,
                valid: pd.Series, intervals: pd.DataFrame, days: pd.DataFrame,
                day_energy_kwh: pd.DataFrame) -> pd.DataFrame:
    """Add uncertainty and CHP columns to ``intervals`` and ``days`` (in place); return the day
    budget rows.

    Parameters
    ----------
    values : pandas.DataFrame
        The aligned tag values the energies came from [config units].
    energies : StreamEnergies
        Per interval [kWh].
    valid : pandas.Series of bool
    intervals, days : pandas.DataFrame
        Period rows of :func:`thermaliq.physics.balance.period_results`.
    day_energy_kwh : pandas.DataFrame
        Stream energies summed per day (index = day starts) [kWh].
    """
    effects = budget.stream_effects(facility, values, facility.interval_td, energies)
    for rows in (intervals, days):
        if rows.empty:
            for c in ENGINEERING_COLUMNS:
                rows[c] = pd.Series(dtype="float64")
    if intervals.empty or days.empty:
        return pd.DataFrame(columns=BUDGET_RELATION_COLUMNS)
    cols, _ = budget.period_uncertainty(facility, energies, effects, valid, intervals["period_start"],
                                        with_budget=False)
    for c, v in cols.items():
        intervals[c] = v.to_numpy()
    cols, rows = budget.period_uncertainty(facility, energies, effects, valid, days["period_start"])
    for c, v in cols.items():
        days[c] = v.to_numpy()
    ok = valid.reindex(energies.energy_kwh.index).fillna(False).to_numpy(dtype=bool)
    per_interval = energies.energy_kwh.copy()
    per_interval.loc[~ok] = np.nan
    for target, frame in ((intervals, per_interval), (days, day_energy_kwh)):
        for c, v in chp.period_chp_columns(facility, frame.reindex(columns=energies.energy_kwh.columns)).items():
            target[c] = v
    ends = dict(zip(pd.DatetimeIndex(days["period_start"]), days["period_end"]))
    rows.insert(0, "facility_id", facility.facility_id)
    rows["period_end"] = [ends[s] for s in pd.DatetimeIndex(rows["period_start"])]
    return rows[BUDGET_RELATION_COLUMNS]


def month_uncertainty(home: Home, facility: Facility, month: str, current: pd.DataFrame,
                      row: pd.Series, stored: pd.DataFrame | None = None) -> dict[str, float]:
    """Expanded uncertainties of a month row from the current budgets of its days (each source's
    energy effects summed over the days, :func:`thermaliq.physics.budget.uncertainty_from_effects`).

    ``stored``: every stored budget row of the month, when the caller has read them already (at
    least the columns of :data:`thermaliq.store.versions.BUDGET_READ`); read here otherwise."""
    if stored is None:
        stored = lake.read_results(home.lake, "uncertainty_budget", facility.facility_id, [month])
    days = current[current["granularity"] == "day"]
    if stored.empty or days.empty or "write_seq" not in days:
        return {c: np.nan for c in budget.QUANTITIES.values()}
    keys = pd.DataFrame({"day_start": versions.utc_instants_ns(days["period_start"]),
                         "write_seq": days["write_seq"].to_numpy()})
    stored = stored.assign(day_start=versions.utc_instants_ns(stored["day_start"]))
    mine = stored.merge(keys, on=["day_start", "write_seq"])
    mine = mine[mine["quantity"] == "efficiency"]     # the effects repeat on every quantity's row
    # the days in order whatever the files' order, so that a rerun adds the same numbers the same way
    mine = mine.sort_values(["source", "day_start"], kind="mergesort")
    effects = mine.groupby("source")[["input_effect_kwh", "output_effect_kwh",
                                      "losses_effect_kwh"]].sum().reset_index()
    losses = row["losses_kwh"] if pd.notna(row["losses_kwh"]) else 0.0
    return budget.uncertainty_from_effects(facility, float(row["energy_input_kwh"]),
                                           float(row["useful_output_kwh"]), float(losses), effects)
