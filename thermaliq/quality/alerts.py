"""Alerts of DESIGN §7, computed from day results and data-quality events.

Kinds: ``energy_balance``, ``invalid_efficiency``, ``efficiency_anomaly``, ``low_data_quality``,
``meter_offline``, ``frozen_value``, ``below_benchmark``. Every alert belongs to one local day of one facility.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from thermaliq import periods
from thermaliq.config import Facility
from thermaliq.physics.balance import STATUS_OK

ALERT_COLUMNS = ["facility_id", "period_start", "period_end", "kind", "severity", "value",
                 "threshold", "message"]


def _alert(facility: Facility, row, kind: str, severity: str, value: float, threshold: float,
           message: str) -> dict:
    return {"facility_id": facility.facility_id, "period_start": row.period_start,
            "period_end": row.period_end, "kind": kind, "severity": severity,
            "value": float(value), "threshold": float(threshold), "message": message}


def _against_uncertainty(row, difference: float, column: str = "efficiency_uncertainty_points") -> str:
    """``"; within/beyond the ±U pt measurement uncertainty (k = 2)"`` of the day's efficiency
    (``column`` of the day row, issue 17), or nothing without one."""
    u = getattr(row, column, math.nan)
    if u is None or not math.isfinite(u):
        return ""
    word = "within" if abs(difference) <= u else "beyond"
    return f"; {word} the ±{u:.1f} pt measurement uncertainty of the day (k = 2)"


def day_alerts(facility: Facility, days: pd.DataFrame, trailing_mean: pd.Series,
               events: pd.DataFrame | None = None,
               standby: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Alerts for each day row of ``days``.

    Parameters
    ----------
    facility : Facility
        Supplies the thresholds and the facility type for the benchmark.
    days : pandas.DataFrame
        Day rows of the calculations (``period_start``, ``period_end``, ``efficiency_percent``,
        ``balance_error_percent``, ``data_quality_score``, ``basis``).
    trailing_mean : pandas.Series
        Mean day efficiency over the 7 days before each day [%], indexed like ``days.period_start``
        (NaN when there is no history).
    events : pandas.DataFrame, optional
        Quality events (``tag, kind, start, end, detail``); ``offline`` events raise
        ``meter_offline`` on the day they start.
    standby : pandas.DatetimeIndex, optional
        Starts of the standby intervals (UTC): a tag silent only while the plant is off raises
        no ``meter_offline`` (:func:`quiet_while_off`).
    """
    th = facility.thresholds
    out: list[dict] = []
    for row in _records(days):
        eff = row.efficiency_percent
        if not math.isnan(row.balance_error_percent) and abs(row.balance_error_percent) > th.balance_tolerance_percent:
            out.append(_alert(facility, row, "energy_balance", "warning", row.balance_error_percent,
                              th.balance_tolerance_percent,
                              f"energy balance error {row.balance_error_percent:+.1f} % exceeds "
                              f"±{th.balance_tolerance_percent:g} %: a meter or a loss estimate is off"))
        bound = float(getattr(row, "max_efficiency_percent", 100.0))
        if not math.isnan(eff) and not 0.0 <= eff <= bound:
            out.append(_alert(facility, row, "invalid_efficiency", "critical", eff,
                              0.0 if eff < 0 else bound,
                              f"efficiency {eff:.1f} % ({row.basis}) is outside 0..{bound:.1f} % "
                              f"(the bound on {row.basis}): check meter scaling and units"))
        mean = trailing_mean.get(row.period_start, math.nan)
        if not math.isnan(eff) and not math.isnan(mean) and abs(eff - mean) > th.anomaly_points:
            out.append(_alert(facility, row, "efficiency_anomaly", "warning", eff - mean,
                              th.anomaly_points,
                              f"efficiency {eff:.1f} % differs from the 7-day mean {mean:.1f} % by "
                              f"{eff - mean:+.1f} points" + _against_uncertainty(row, eff - mean)))
        if row.data_quality_score < th.data_quality_min:
            out.append(_alert(facility, row, "low_data_quality", "warning", row.data_quality_score,
                              th.data_quality_min,
                              f"only {row.data_quality_score:.1%} of intervals have complete data "
                              f"(minimum {th.data_quality_min:.0%})"))
        compared, what = _benchmarked(facility, row)
        placement = _benchmark(facility, compared, row.basis)
        if placement is not None and placement.position == "below_minimum":
            out.append(_alert(facility, row, "below_benchmark", "info", compared, placement.minimum,
                              f"{what} {compared:.1f} % ({row.basis}) is below the "
                              f"{facility.type.replace('_', ' ')} minimum of {placement.minimum:.1f} % "
                              f"({placement.source})"
                              + _against_uncertainty(row, compared - placement.minimum,
                                                     "indirect_efficiency_uncertainty_points"
                                                     if what.startswith("indirect") else
                                                     "efficiency_uncertainty_points")))
    out.extend(_offline_alerts(facility, days, quiet_while_off(
        events, standby, facility.interval_td, pd.Timedelta(th.offline_after))))
    frame = pd.DataFrame(out, columns=ALERT_COLUMNS)
    if frame.empty:                                 # most days: nothing to order
        return frame
    return frame.sort_values(["period_start", "kind"], kind="mergesort").reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[SimpleNamespace]:
    """The rows of ``frame`` with their columns as attributes, as ``itertuples`` gives them
    (which makes a named-tuple class of the day rows' ~60 columns at every call, ~1 ms)."""
    return [SimpleNamespace(**record) for record in frame.to_dict("records")]


def quiet_while_off(events: pd.DataFrame | None, standby: pd.DatetimeIndex | None,
                    interval: pd.Timedelta, offline_after: pd.Timedelta) -> pd.DataFrame | None:
    """``events`` with the time of ``offline`` events that falls in standby intervals cut out.

    Meters may stop reporting while the plant is off (a flue-gas analyser in purge, a steam
    meter without flow): only silence outside standby counts. Each offline event is cut into
    its parts outside the standby intervals ``[start, start + interval)``; a part is kept only
    while it is longer than ``offline_after``.
    """
    if events is None or events.empty or standby is None or len(standby) == 0:
        return events
    offline = events["kind"] == "offline"
    if not offline.any():
        return events
    starts = pd.DatetimeIndex(standby).tz_convert("UTC").as_unit("ns").asi8
    ends = starts + pd.Timedelta(interval).as_unit("ns").value
    kept = [events[~offline]]
    for ev in events[offline].itertuples(index=False):
        lo, hi = (pd.Timestamp(t).as_unit("ns").value for t in (ev.start, ev.end))
        cut = (ends > lo) & (starts < hi)
        cursor, parts = lo, []
        for a, b in zip(starts[cut], ends[cut]):
            if a > cursor:
                parts.append((cursor, min(a, hi)))
            cursor = max(cursor, b)
        if cursor < hi:
            parts.append((cursor, hi))
        for a, b in (p for p in parts if p[1] - p[0] > pd.Timedelta(offline_after).as_unit("ns").value):
            kept.append(pd.DataFrame([{**ev._asdict(), "start": pd.Timestamp(a, tz="UTC"),
                                       "end": pd.Timestamp(b, tz="UTC")}]))
    return pd.concat(kept, ignore_index=True)


def _offline_alerts(facility: Facility, days: pd.DataFrame, events: pd.DataFrame | None) -> list[dict]:
    """``meter_offline`` for tags that stopped sending, ``frozen_value`` for tags that kept sending
    one value (their samples are excluded, which leaves a gap: that gap is not an offline meter).
    Times in messages are the facility's local times."""
    if events is None or events.empty:
        return []
    offline = events[events["kind"] == "offline"]
    frozen = events[events["kind"] == "frozen"]
    if offline.empty and frozen.empty:
        return []
    out = []
    th = facility.thresholds
    offline_h = pd.Timedelta(th.offline_after) / pd.Timedelta("1h")
    frozen_h = pd.Timedelta(th.frozen_after) / pd.Timedelta("1h")
    for row in _records(days):
        for ev in _overlapping(frozen, row):
            hours = _hours_inside(ev, row)
            out.append(_alert(facility, row, "frozen_value", "warning", hours, frozen_h,
                              f"tag {ev.tag} stuck: {ev.detail} (from {_local(ev.start, facility)}; "
                              f"limit {th.frozen_after}): the meter sends but its value does not change"))
        for ev in _overlapping(offline, row):
            if _mostly_frozen(ev, frozen):
                continue
            hours = _hours_inside(ev, row)
            out.append(_alert(facility, row, "meter_offline", "warning", hours, offline_h,
                              f"tag {ev.tag} silent {hours:.1f} h (from {_local(ev.start, facility)}; "
                              f"limit {th.offline_after})"))
    return out


def _overlapping(events: pd.DataFrame, row):
    inside = events[(events["start"] < row.period_end) & (events["end"] > row.period_start)]
    return inside.itertuples(index=False)


def _hours_inside(ev, row) -> float:
    return (min(ev.end, row.period_end) - max(ev.start, row.period_start)) / pd.Timedelta("1h")


def _mostly_frozen(ev, frozen: pd.DataFrame) -> bool:
    """Whether frozen runs of the same tag cover at least half of an offline span."""
    same = frozen[(frozen["tag"] == ev.tag) & (frozen["start"] < ev.end) & (frozen["end"] > ev.start)]
    covered = sum((min(f.end, ev.end) - max(f.start, ev.start)) / pd.Timedelta("1s")
                  for f in same.itertuples(index=False))
    return covered * 2 >= (ev.end - ev.start) / pd.Timedelta("1s")


def _local(instant, facility: Facility) -> str:
    """An instant as the facility's local time, e.g. ``2026-10-19 08:00 CEST``."""
    ts = pd.Timestamp(instant)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return f"{ts.tz_convert(facility.tz):%Y-%m-%d %H:%M %Z}"


def _benchmarked(facility: Facility, row) -> tuple[float, str]:
    """The efficiency the type's benchmark range applies to and its name: indirect against a
    combustion-efficiency table, direct against a measured fuel-to-output range."""
    from thermaliq.physics import efficiency_ranges  # the table is small; imported when first needed
    indirect = float(getattr(row, "indirect_efficiency_percent", math.nan))
    value = efficiency_ranges.benchmarked_value(facility.type, row.efficiency_percent, indirect)
    if efficiency_ranges.benchmark_measure(facility.type) == "combustion":
        return value, "indirect (combustion) efficiency"
    return value, "efficiency"


def _benchmark(facility: Facility, efficiency_percent: float, basis: str):
    if math.isnan(efficiency_percent):
        return None
    from thermaliq.physics import efficiency_ranges  # the table is small; imported when first needed
    try:
        return efficiency_ranges.compare(facility.type, efficiency_percent, basis)
    except (KeyError, ValueError):   # no published range for this facility type
        return None


def trailing_mean(days: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """Mean efficiency of the (up to) 7 preceding days for each day [%], usable days only.

    ``history`` and ``days`` are taken together, a day in both as in ``days`` (the later row),
    in the order of their starts; the result is indexed by the days' starts (UTC)."""
    parts = [f for f in (history, days) if not f.empty]
    starts_ns = np.concatenate([periods.utc_instants_ns(f["period_start"]) for f in parts] or [np.empty(0, "int64")])
    efficiency = np.concatenate([f["efficiency_percent"].to_numpy(dtype="float64") for f in parts] or [np.empty(0)])
    status = np.concatenate([f["status"].to_numpy(dtype=object) for f in parts] or [np.empty(0, object)])
    # the last row of each start, in the order of the starts
    distinct, first_from_end = np.unique(starts_ns[::-1], return_index=True)
    last = len(starts_ns) - 1 - first_from_end
    mean = trailing_mean_of(efficiency[last], status[last])
    index = pd.DatetimeIndex(pd.to_datetime(days["period_start"], utc=True))
    at = np.minimum(np.searchsorted(distinct, index.as_unit("ns").asi8), max(len(mean) - 1, 0))
    return pd.Series(mean[at] if len(mean) else np.full(len(index), np.nan), index=index)


def trailing_mean_of(efficiency_percent: np.ndarray, status: np.ndarray) -> np.ndarray:
    """The core of :func:`trailing_mean` for days sorted by their distinct starts: the mean
    efficiency of the up to 7 preceding usable days (status ``ok``; at least 3) of each day [%]."""
    usable = np.where(np.asarray(status == STATUS_OK, dtype=bool),
                      np.asarray(efficiency_percent, dtype="float64"), np.nan)
    return pd.Series(usable).rolling(7, min_periods=3).mean().shift(1).to_numpy(dtype="float64")
