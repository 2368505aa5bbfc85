"""The engineering columns of a window: uncertainty (k = 2), its budget, and CHP indicators.

Kept apart from :mod:`thermaliq.pipeline.calculate` so the stages stay short: :func:`add_columns`
takes the window's energies and period rows and adds the ``*_uncertainty_points`` columns
(:mod:`thermaliq.physics.budget`) and the CHP columns (:mod:`thermaliq.physics.chp`) to them, and
returns the day budget rows of the ``uncertainty_budget`` relation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility
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
    cols, _ = budget.period_uncertainty(facility, energies, effects, valid, intervals["period_start"])
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
