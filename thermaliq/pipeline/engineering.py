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
from thermaliq import periods
from thermaliq.home import Home
from thermaliq.store import lake
from thermaliq.physics import budget, chp
from thermaliq.physics.energy import StreamEnergies

BUDGET_RELATION_COLUMNS = ["facility_id"] + budget.BUDGET_COLUMNS
ENGINEERING_COLUMNS = list(budget.QUANTITIES.values()) + chp.CHP_COLUMNS


def add_columns(facility: Facility, values: pd.DataFrame, energies: StreamEnergies,
                valid: pd.Series, intervals: pd.DataFrame, days: pd.DataFrame,
                day_energy_kwh: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``intervals`` and ``days`` with the uncertainty and CHP columns added after their own, and
    the day budget rows.

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
        return intervals, days, pd.DataFrame(columns=BUDGET_RELATION_COLUMNS)
    interval_cols, _ = budget.period_uncertainty(facility, energies, effects, valid,
                                                 intervals["period_start"], with_budget=False)
    day_cols, rows = budget.period_uncertainty(facility, energies, effects, valid, days["period_start"])
    ok = valid.reindex(energies.energy_kwh.index).fillna(False).to_numpy(dtype=bool)
    per_interval = energies.energy_kwh.copy()
    per_interval.loc[~ok] = np.nan
    streams = energies.energy_kwh.columns
    intervals = _with_columns(intervals, {**{c: v.to_numpy() for c, v in interval_cols.items()},
                                          **chp.period_chp_columns(facility, per_interval.reindex(columns=streams))})
    days = _with_columns(days, {**{c: v.to_numpy() for c, v in day_cols.items()},
                                **chp.period_chp_columns(facility, day_energy_kwh.reindex(columns=streams))})
    rows.insert(0, "facility_id", facility.facility_id)
    rows["period_end"] = _period_ends(days, rows["period_start"])
    return intervals, days, rows[BUDGET_RELATION_COLUMNS]


def _with_columns(frame: pd.DataFrame, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """``frame`` with ``columns`` (float arrays over its rows) added after its own in one step
    (a column added to a frame of text column names costs ~0.2 ms each); set one by one when one
    of them replaces a column or is not such an array."""
    new = list(columns)
    if any(c in frame.columns for c in new) or not all(
            isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (len(frame),)
            for v in columns.values()):
        for c, v in columns.items():
            frame[c] = v
        return frame
    added = pd.DataFrame(np.column_stack(list(columns.values())), index=frame.index,
                         columns=pd.Index(new, dtype=frame.columns.dtype))
    return pd.concat([frame, added], axis=1)


def _period_ends(days: pd.DataFrame, starts: pd.Series):
    """The ``period_end`` of ``days`` at each of ``starts`` (period starts of ``days``); a start
    that is not one of them raises KeyError."""
    ends = days["period_end"]
    if not isinstance(ends.dtype, pd.DatetimeTZDtype):
        by_start = dict(zip(pd.DatetimeIndex(days["period_start"]), ends))
        return [by_start[s] for s in pd.DatetimeIndex(starts)]
    at = pd.DatetimeIndex(days["period_start"]).get_indexer(pd.DatetimeIndex(starts))
    if (at < 0).any():
        raise KeyError(pd.DatetimeIndex(starts)[at < 0][0])
    return ends.array.take(at)


def month_uncertainty(home: Home, facility: Facility, month: str, current: pd.DataFrame,
                      row: pd.Series, stored: pd.DataFrame | None = None) -> dict[str, float]:
    """Expanded uncertainties of a month row from the current budgets of its days (each source's
    energy effects summed over the days, :func:`thermaliq.physics.budget.uncertainty_from_effects`).

    ``stored``: every stored budget row of the month, when the caller has read them already (at
    least the columns of :data:`thermaliq.store.versions.BUDGET_READ`); read here otherwise."""
    if stored is None:
        stored = lake.read_results(home.lake, "uncertainty_budget", facility.facility_id, [month])
    is_day = (current["granularity"] == "day").to_numpy(dtype=bool)
    if stored.empty or not is_day.any() or "write_seq" not in current:
        return {c: np.nan for c in budget.QUANTITIES.values()}
    # the budget rows written with each day's current row (one current row per day), of the
    # efficiency (the effects repeat on every quantity's row), in stored order
    day_ns = periods.utc_instants_ns(current["period_start"])[is_day]
    order = np.argsort(day_ns, kind="stable")
    day_ns, day_seq = day_ns[order], current["write_seq"].to_numpy()[is_day][order]
    stored_ns = periods.utc_instants_ns(stored["day_start"])
    at = np.minimum(np.searchsorted(day_ns, stored_ns), len(day_ns) - 1)
    mine = np.flatnonzero((day_ns[at] == stored_ns) & (day_seq[at] == stored["write_seq"].to_numpy())
                          & (stored["quantity"] == "efficiency").to_numpy(dtype=bool))
    # each source's days in order whatever the files' order (sources sorted, then days), so that
    # a rerun adds the same numbers the same way; pandas' grouped sum as before
    source, _ = pd.factorize(stored["source"].to_numpy(dtype=object)[mine], sort=True)
    ordered = np.lexsort((stored_ns[mine], source))
    columns = ["input_effect_kwh", "output_effect_kwh", "losses_effect_kwh"]
    values = stored[columns].to_numpy(dtype="float64")[mine][ordered]
    effects = pd.DataFrame(values, columns=columns).groupby(source[ordered]).sum()
    losses = row["losses_kwh"] if pd.notna(row["losses_kwh"]) else 0.0
    return budget.uncertainty_from_effects(facility, float(row["energy_input_kwh"]),
                                           float(row["useful_output_kwh"]), float(losses), effects)
