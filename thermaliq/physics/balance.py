"""Period results: efficiency, energy balance, indirect and exergy efficiency, data quality.

Definitions (DESIGN §7): sums run over the period's *valid* intervals only. An interval counts
as valid when ``valid`` says so **and** every stream's energy could be computed (a NaN energy,
e.g. a steam state outside IAPWS-IF97, makes the interval unusable rather than silently zero).

* efficiency = sum(useful outputs) / sum(inputs) x 100
* losses = sum of the declared loss streams; unaccounted = input - useful - losses
* balance error = (input - useful - losses) / input x 100, only when losses are declared
* indirect efficiency = 100 - losses / input x 100, only when losses are declared
* exergy efficiency = sum(exergy of outputs) / sum(exergy of inputs) x 100
* data_quality_score = valid intervals / intervals in the period, where a local day has
  23, 24 or 25 hours of intervals and a month its local length, whether or not rows exist.

Each stream's own total (:func:`stream_totals`, the ``energy_kwh`` of ``stream_energies``) is
different: it runs over the intervals where *that stream's* data is valid
(:func:`stream_validity`), so a gas meter's energy is what the meter recorded even while an O2
analyser was stuck, with its coverage (``valid_intervals`` of ``intervals``). The balance above
uses the facility's valid intervals, where every stream is valid.

Days and months are local calendar periods of ``facility.timezone``; ``period_start`` is the
local-midnight instant (tz-aware, in the facility's zone) and ``period_end`` the next one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermaliq.config import Facility, is_fuel
from thermaliq.physics.energy import StreamEnergies

# Period status of a calculations row (DESIGN §6).
STATUS_OK = "ok"
STATUS_LOW_QUALITY = "low_quality"
STATUS_NO_DATA = "no_data"
STATUS_INVALID = "invalid_efficiency"
STATUS_STANDBY = "standby"          # valid data, no firing interval: no efficiency


COLUMNS = ["period_start", "period_end", "basis", "energy_input_kwh", "useful_output_kwh",
           "losses_kwh", "unaccounted_kwh", "efficiency_percent", "indirect_efficiency_percent",
           "balance_error_percent", "exergy_efficiency_percent", "data_quality_score",
           "valid_intervals", "intervals", "firing_hours", "standby_hours"]
GRANULARITIES = ("interval", "day", "month")


def stream_tags(facility: Facility) -> dict[str, list[str]]:
    """The tags each stream's energy is computed from: its own, and for a flue-gas loss those of
    the fuel inputs, for a blowdown those of its steam stream, for an estimate those of every
    input (and output, for a radiation estimate at load)."""
    own = {s.id: s.required_tags() for s in facility.streams}
    fuel_inputs = [t for s in facility.streams if s.role == "input" and is_fuel(s.carrier)
                   for t in own[s.id]]
    out = {}
    for s in facility.streams:
        tags = list(own[s.id])
        if s.estimate is not None:
            roles = ("input", "output") if s.estimate.percent_of_input is None else ("input",)
            tags += [t for x in facility.streams if x.role in roles and x.estimate is None
                     for t in own[x.id]]
        elif s.carrier == "flue_gas":
            tags += fuel_inputs
        elif s.carrier == "blowdown" and s.of in own:
            tags += own[s.of]
        out[s.id] = list(dict.fromkeys(tags))
    return out


def stream_validity(facility: Facility, tag_ok: pd.DataFrame, energy_kwh: pd.DataFrame,
                    standby: pd.Series | None = None) -> pd.DataFrame:
    """Per interval and stream: is the stream's own data valid?

    Parameters
    ----------
    facility : thermaliq.config.Facility
    tag_ok : pandas.DataFrame of bool
        Per interval start (index) and tag (columns): measured or interpolated.
    energy_kwh : pandas.DataFrame
        Per interval and stream [kWh] (after :func:`thermaliq.physics.operating.with_standby`).
    standby : pandas.Series of bool, optional
        Per interval: the plant stands by (a stream's missing data then counts as 0 kWh).

    Returns
    -------
    pandas.DataFrame of bool
        Same shape as ``energy_kwh``: every tag of :func:`stream_tags` measured or interpolated
        (or the plant on standby), and the energy computable (not NaN).
    """
    index = energy_kwh.index
    same = tag_ok.index.equals(index)
    ok = (tag_ok if same else tag_ok.reindex(index=index)).to_numpy(dtype=bool, na_value=False)
    where = {t: j for j, t in enumerate(tag_ok.columns)}
    idle = (np.zeros(len(index), dtype=bool) if standby is None else
            standby.reindex(index).fillna(False).to_numpy(dtype=bool))
    known = ~np.isnan(energy_kwh.to_numpy(dtype="float64"))
    tags = stream_tags(facility)
    out = np.zeros(known.shape, dtype=bool)
    for k, sid in enumerate(energy_kwh.columns):
        need = tags.get(sid, [])
        if any(t not in where for t in need):
            have = np.zeros(len(index), dtype=bool)
        else:
            have = ok[:, [where[t] for t in need]].all(axis=1)
        out[:, k] = (have | idle) & known[:, k]
    return pd.DataFrame(out, index=index, columns=energy_kwh.columns)


@dataclass
class StreamTotals:
    """Each stream's own energy per period and its coverage.

    ``energy_kwh``: index = period starts, columns = stream ids [kWh], summed over the intervals
    where the stream's own data is valid (NaN when there are none); ``valid_intervals``: how many
    (same shape, int); ``intervals``: intervals in each period (Series on the period starts).
    """

    energy_kwh: pd.DataFrame
    valid_intervals: pd.DataFrame
    intervals: pd.Series


def stream_totals(energy_kwh: pd.DataFrame, own_valid: pd.DataFrame, starts: pd.DatetimeIndex,
                  intervals) -> StreamTotals:
    """Per period starting at ``starts`` (sorted): each stream's energy over the intervals where
    its own data is valid [kWh], and their number. ``intervals``: the intervals of each period
    (e.g. 96 for a 24-hour day of 15 minutes, the period's length whether or not rows exist)."""
    starts = pd.DatetimeIndex(starts)
    which = starts.searchsorted(energy_kwh.index, side="right") - 1
    mask = own_valid.reindex(index=energy_kwh.index, columns=energy_kwh.columns,
                             fill_value=False).to_numpy(dtype=bool)
    values = np.where(mask, energy_kwh.to_numpy(dtype="float64"), np.nan)
    inside = which >= 0
    masked = pd.DataFrame(values[inside], columns=energy_kwh.columns)
    counts = pd.DataFrame(mask[inside].astype("int64"), columns=energy_kwh.columns)
    groups = which[inside]
    summed = masked.groupby(groups).sum(min_count=1)
    counted = counts.groupby(groups).sum()
    summed.index = counted.index = starts[summed.index]
    return StreamTotals(summed.reindex(starts), counted.reindex(starts).fillna(0).astype("int64"),
                        pd.Series(np.asarray(intervals, dtype="int64"), index=starts))


def interval_totals(energy_kwh: pd.DataFrame, own_valid: pd.DataFrame) -> StreamTotals:
    """:func:`stream_totals` of single intervals: the energy where the stream's own data is
    valid (else NaN), 1 or 0 valid intervals of 1."""
    mask = own_valid.reindex(index=energy_kwh.index, columns=energy_kwh.columns, fill_value=False)
    return StreamTotals(energy_kwh.where(mask.to_numpy(dtype=bool)), mask.astype("int64"),
                        pd.Series(np.ones(len(energy_kwh.index), dtype="int64"), index=energy_kwh.index))


def _local_start(ts: pd.DatetimeIndex, tz, granularity: str) -> pd.DatetimeIndex:
    """Local-midnight start of the day or month of each instant."""
    local = ts.tz_convert(tz)
    naive = local.tz_localize(None)
    naive = naive.normalize() if granularity == "day" else naive.to_period("M").to_timestamp()
    return naive.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool),
                              nonexistent="shift_forward")


def _next_starts(starts: pd.DatetimeIndex, tz, granularity: str) -> pd.DatetimeIndex:
    """Local-midnight start of the day or month after each of ``starts`` (local midnights)."""
    naive = starts.tz_localize(None)
    nxt = naive + (pd.Timedelta(days=1) if granularity == "day" else pd.offsets.MonthBegin(1))
    return nxt.tz_localize(tz, ambiguous=np.ones(len(nxt), dtype=bool), nonexistent="shift_forward")


def _ratio(num, den):
    """num / den x 100 where den > 0, else NaN (arrays)."""
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den * 100.0, np.nan)


def _row_sum(values: np.ndarray) -> np.ndarray:
    """Sum across the columns of a 2-d array, left to right, NaN propagating [unit of values]
    (the order ``DataFrame.sum(axis=1, skipna=False)`` adds in, so sums stay bit-identical)."""
    out = values[:, 0].copy()
    for j in range(1, values.shape[1]):
        out += values[:, j]
    return out


def _parts(facility: Facility, e: pd.DataFrame, x: pd.DataFrame, ok: pd.Series,
           states: np.ndarray) -> pd.DataFrame:
    """Per-interval sums by role (0 where the interval is not valid), exergy-unknown flags and
    valid firing and standby intervals (``states`` per interval: firing, standby, unknown)."""
    roles = {s.id: s.role for s in facility.streams}
    where = {r: [i for i, c in enumerate(e.columns) if roles.get(c) == r]
             for r in ("input", "output", "loss")}
    e_values = e.to_numpy(dtype="float64")
    x_values = x.to_numpy(dtype="float64")
    ok_values = ok.to_numpy(dtype=bool)

    def total(values: np.ndarray, role: str) -> np.ndarray:
        return _row_sum(values[:, where[role]]) if where[role] else np.zeros(len(values))

    x_in, x_out = total(x_values, "input"), total(x_values, "output")
    x_unknown = (np.isnan(x_in) | np.isnan(x_out)) & ok_values
    parts = {"inp": total(e_values, "input"), "useful": total(e_values, "output"),
             "losses": total(e_values, "loss"), "x_in": x_in, "x_out": x_out}
    parts = {k: np.where(ok_values, v, 0.0) for k, v in parts.items()}
    for k in ("x_in", "x_out"):
        parts[k] = np.nan_to_num(parts[k], nan=0.0, posinf=np.inf, neginf=-np.inf)
    parts["x_unknown"] = x_unknown
    parts["ok"] = ok_values.astype("int64")
    parts["firing"] = (ok_values & (states == "firing")).astype("int64")
    parts["standby"] = (ok_values & (states == "standby")).astype("int64")
    return pd.DataFrame(parts, index=e.index)


def _frame(facility: Facility, sums: pd.DataFrame, starts, ends, intervals) -> pd.DataFrame:
    """Result rows from per-period sums (columns of :func:`_parts`)."""
    has_losses = any(s.role == "loss" for s in facility.streams)
    n_valid = sums["ok"].to_numpy()
    inp, useful, losses = (sums[c].to_numpy() for c in ("inp", "useful", "losses"))
    none = n_valid == 0
    step_h = facility.interval_td / pd.Timedelta("1h")
    nan_if_none = lambda a: np.where(none, np.nan, a)  # noqa: E731
    intervals = np.asarray(intervals, dtype="int64")
    out = pd.DataFrame({
        "period_start": starts, "period_end": ends, "basis": facility.basis,
        "energy_input_kwh": nan_if_none(inp), "useful_output_kwh": nan_if_none(useful),
        "losses_kwh": nan_if_none(losses) if has_losses else np.nan,
        "unaccounted_kwh": nan_if_none(inp - useful - losses),
        "efficiency_percent": nan_if_none(_ratio(useful, inp)),
        "indirect_efficiency_percent": nan_if_none(100.0 - _ratio(losses, inp))
        if has_losses else np.nan,
        "balance_error_percent": nan_if_none(_ratio(inp - useful - losses, inp))
        if has_losses else np.nan,
        "exergy_efficiency_percent": np.where(sums["x_unknown"].to_numpy() > 0, np.nan,
                                              nan_if_none(_ratio(sums["x_out"], sums["x_in"]))),
        "data_quality_score": n_valid / intervals,
        "valid_intervals": n_valid.astype("int64"), "intervals": intervals,
        "firing_hours": sums["firing"].to_numpy() * step_h,
        "standby_hours": sums["standby"].to_numpy() * step_h,
    })
    return out                    # (its columns are COLUMNS, in order, over a RangeIndex)


def period_results(facility: Facility, energies: StreamEnergies, valid: pd.Series,
                   granularity: str, states: pd.Series | None = None) -> pd.DataFrame:
    """Efficiency and energy balance per interval, local day or local month.

    Parameters
    ----------
    facility : thermaliq.config.Facility
        The configuration (roles of streams, basis, timezone, interval).
    energies : StreamEnergies
        Output of :func:`thermaliq.physics.energy.stream_energies` [kWh].
    valid : pandas.Series of bool
        Per interval start: every needed tag measured or interpolated.
    granularity : {"interval", "day", "month"}
    states : pandas.Series of str, optional
        Per interval start: ``firing``, ``standby`` or ``unknown``
        (:func:`thermaliq.physics.operating.operating_states`); ``valid`` and ``energies`` should
        already count standby intervals (:func:`thermaliq.physics.operating.with_standby`).
        Without it every valid interval counts as firing.

    Returns
    -------
    pandas.DataFrame
        One row per period with the columns of ``COLUMNS``; energies [kWh], percentages
        0..100, ``data_quality_score`` 0..1, ``firing_hours`` and ``standby_hours`` [h] of valid
        intervals. Numeric results are NaN without valid intervals.

    Examples
    --------
    A boiler making 10 t/h of saturated steam at 10 bar(a) from 105 degC feedwater with
    750 m3/h of gas at 39.0 MJ/m3 gives 79.87 % for every local day (tests/test_balance.py).
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    e, x = energies.energy_kwh, energies.exergy_kwh
    ok = valid.reindex(e.index).fillna(False).astype(bool) & e.notna().all(axis=1)
    states_values = np.full(len(e.index), "firing", dtype=object) if states is None else \
        states.reindex(e.index).fillna("unknown").to_numpy(dtype=object)
    parts = _parts(facility, e, x.reindex(index=e.index, columns=e.columns), ok, states_values)
    step = facility.interval_td
    if granularity == "interval":
        return _frame(facility, parts, e.index, e.index + step, np.ones(len(e.index)))
    if len(e.index) == 0:
        return pd.DataFrame(columns=COLUMNS)
    tz = facility.tz
    starts = _local_start(e.index, tz, granularity)
    codes, uniques = pd.factorize(starts, sort=True)
    sums = parts.reset_index(drop=True).groupby(codes).sum()
    period_starts = pd.DatetimeIndex(uniques[sums.index]).tz_convert(tz)
    ends = _next_starts(period_starts, tz, granularity)
    intervals = ((ends - period_starts) / step).astype("int64")
    return _frame(facility, sums, period_starts, ends, intervals)
