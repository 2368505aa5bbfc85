"""Time alignment of clean readings onto the facility's interval grid, with the repairs of DESIGN §7.

``align_window`` turns each tag's samples into one value per interval of the facility's local grid
(a local DST day has 92 or 100 quarter hours) and says for every interval whether the value is
``measured``, ``interpolated``, ``estimated`` or ``missing``. Per tag, in this order:

1. counters (``TagSpec.kind == "counter"``) become increments: the difference of consecutive
   readings. A negative difference is a reset or rollover, never negative energy: when the range
   is configured and the previous reading was in the top 10 % of it, a rollover at the range's
   upper bound (increment = hi - previous + new - lo); else, when the new reading is below half
   the previous one, a reset to zero (increment = new - lo, lo = 0 without a range); else a small
   step back of the meter (increment 0, and the counter must pass its previous maximum again
   before anything more is counted). Each is a ``counter_reset`` event.
2. rate tags: frozen values (identical for longer than ``thresholds.frozen_after``, ``0``
   disables; 0 and the range's lower bound are exempt, a stopped plant legitimately reads them;
   the first sample of the run is kept as the last genuine reading) and outliers
   (``thresholds.outlier_method``: Hampel or z-score, see :mod:`thermaliq.quality.outliers`) are flagged
   as events and excluded.
3. The remaining samples define segments between consecutive samples. The tag's sampling step is
   the median spacing of its readings; a segment up to 1.5 steps long is *measured*; a longer one
   is a hole of length (spacing - step): up to ``thresholds.max_interpolation_gap`` it is
   *interpolated* linearly in time, longer it is left open. Holes of more than one sample are
   ``gap`` events (a single missing sample, e.g. a rejected reading, is bridged silently);
   silences longer than ``thresholds.offline_after`` are ``offline`` events, including the
   stretch from the window's start to the first reading and from the last reading to its end.
4. Rate tags are time-weighted averages of the piecewise-linear signal through the samples over
   the covered part of the interval (trapezoid rule, exact for a linear signal, so a bridged
   10-minute hole in a linear stretch leaves interval averages unchanged). Counter increments are
   spread over their segment in proportion to time and summed per interval; an interval only
   partly covered is scaled to its full length (mean rate over the covered part x length).
5. Coverage rule: an interval is ``measured`` when measured segments cover at least half of it,
   ``interpolated`` when measured plus interpolated segments cover at least half, else ``missing``
   (value NaN). With ``thresholds.estimate_long_gaps`` a missing interval gets the mean of the
   measured/interpolated values at the same local time of day on the previous 7 days (the caller
   passes 7 days of history), status ``estimated``: never valid.

An interval is valid when every tag of ``facility.tag_specs()`` is measured or interpolated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.quality import outliers
from thermaliq.config import Facility, TagSpec
from thermaliq.quality.summary import STATUS_NAMES, events_frame, fmt_duration, tag_quality

MEASURED_FACTOR = 1.5       # a segment up to 1.5 sampling steps long is ordinary sampling
MIN_COVERAGE = 0.5          # share of an interval that data must cover
ROLLOVER_TOP = 0.9          # previous reading in the top 10 % of the range: rollover
RESET_SHARE = 0.5           # new reading below half the previous one: reset to zero
ESTIMATE_DAYS = 7
MISSING, ESTIMATED, INTERPOLATED, MEASURED = range(4)


@dataclass
class Aligned:
    """One facility window on its interval grid (docs/ARCHITECTURE.md "Aligned window").

    Attributes
    ----------
    values : pandas.DataFrame
        Index = interval starts (UTC), columns = tags; rate tags time-averaged, counter tags the
        summed increments [configured unit].
    status : pandas.DataFrame
        Same shape: ``measured``, ``interpolated``, ``estimated`` or ``missing``.
    valid : pandas.Series of bool
        Per interval: every tag measured or interpolated.
    tag_quality : pandas.DataFrame
        Rows of the ``data_quality`` relation, one per tag and local day.
    events : pandas.DataFrame
        ``tag, kind, start, end, detail``; kinds offline, frozen, outlier, counter_reset, gap.
    """

    values: pd.DataFrame
    status: pd.DataFrame
    valid: pd.Series
    tag_quality: pd.DataFrame
    events: pd.DataFrame


@dataclass
class _TagResult:
    values: np.ndarray
    status: np.ndarray
    events: list[dict]
    excluded_ns: np.ndarray   # instants of samples excluded as outliers or frozen


def _check_window(start, end, facility: Facility) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"start and end must be tz-aware instants, got {start!r}, {end!r}")
    start, end = start.tz_convert("UTC"), end.tz_convert("UTC")
    step = facility.interval_td
    if not end > start:
        raise ValueError(f"end {end} must be after start {start}")
    for name, ts in (("start", start), ("end", end)):
        local = ts.tz_convert(facility.tz).tz_localize(None)
        if local.floor(step) != local:
            raise ValueError(f"{name} {ts} is not on the {facility.interval} grid of "
                             f"{facility.timezone}")
    return start, end


def _increments(v: np.ndarray, spec: TagSpec, ts: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Non-negative increments of a counter between consecutive samples, and reset events.

    Between resets the increments follow the counter's running maximum, so a meter that steps
    back a little and recovers adds no energy twice.
    """
    d = np.diff(v)
    neg = np.flatnonzero(d < 0)
    if len(neg) == 0:
        return d, []
    lo = spec.range[0] if spec.range else 0.0
    prev, new = v[neg], v[neg + 1]
    rollover = np.zeros(len(neg), dtype=bool)
    if spec.range:
        rollover = prev >= lo + ROLLOVER_TOP * (spec.range[1] - lo)
    reset = ~rollover & (new < RESET_SHARE * prev)
    breaks = np.zeros(len(d), dtype=bool)
    breaks[neg[rollover | reset]] = True
    group = np.r_[0, np.cumsum(breaks)]
    high = pd.Series(v).groupby(group).cummax().to_numpy()
    inc = np.diff(high)
    top = spec.range[1] if spec.range else 0.0
    inc[neg] = np.where(rollover, top - high[neg] + new - lo,
                        np.where(reset, np.maximum(new - lo, 0.0), np.maximum(inc[neg], 0.0)))
    what = np.where(rollover, "rollover", np.where(reset, "reset", "step back"))
    events = [dict(kind="counter_reset", start=ts[i], end=ts[i + 1],
                   detail=f"{w}: counter fell from {p:g} to {n:g}; counted {c:g}")
              for i, w, p, n, c in zip(neg, what, prev, new, inc[neg])]
    return inc, events


class _Edges:
    """Where interval edges ``edges`` fall among one tag's samples ``ts`` (times in seconds),
    shared by the integrals of that tag."""

    def __init__(self, ts: np.ndarray, edges: np.ndarray):
        self.dt = np.diff(ts)
        self.k = np.searchsorted(ts, edges, side="right") - 1
        self.kk = np.clip(self.k, 0, len(self.dt) - 1)
        self.dt_k = self.dt[self.kk]
        self.tau = np.clip(edges - ts[self.kk], 0.0, self.dt_k)

    def integral(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Integral from the first sample to each edge of a piecewise-linear density.

        Segment i runs from ts[i] to ts[i+1] with density going linearly from a[i] to b[i],
        weighted by w[i] (0 or 1); returns [density x s] at each edge.
        """
        kk, tau = self.kk, self.tau
        cum = np.concatenate(([0.0], np.cumsum(0.5 * (a + b) * self.dt * w)))
        part = (a[kk] * tau + 0.5 * (b[kk] - a[kk]) * tau ** 2 / self.dt_k) * w[kk]
        return np.where(self.k < 0, 0.0, np.where(self.k >= len(self.dt), cum[-1], cum[kk] + part))


def _exclusions(t: np.ndarray, v: np.ndarray, spec: TagSpec, facility: Facility
                ) -> tuple[np.ndarray, list[dict]]:
    """Mask of rate-tag samples excluded as frozen or outliers, with their events."""
    th = facility.thresholds
    events: list[dict] = []
    ignore = (0.0,) + ((spec.range[0],) if spec.range else ())
    frozen, runs = outliers.frozen_runs(t, v, pd.Timedelta(th.frozen_after).value, ignore)
    for first, last in runs:
        events.append(dict(kind="frozen", start=t[first], end=t[last],
                           detail=f"value {v[first]:g} unchanged for "
                                  f"{fmt_duration(t[last] - t[first])}"))
    if th.outlier_method == "none":
        return frozen, events
    keep = np.flatnonzero(~frozen)
    rule = outliers.hampel_mask if th.outlier_method == "hampel" else outliers.zscore_mask
    flags, ref = rule(v[keep], th.outlier_threshold, outliers.spread_floor(v, spec.range))
    for i in np.flatnonzero(flags):
        events.append(dict(kind="outlier", start=t[keep[i]], end=t[keep[i]],
                           detail=f"value {v[keep[i]]:g}, local reference {ref[i]:g} "
                                  f"({th.outlier_method})"))
    mask = frozen.copy()
    mask[keep[flags]] = True
    return mask, events


def _silences(t: np.ndarray, step_ns: int, start: int, end: int, facility: Facility,
              measured: np.ndarray, bridged: np.ndarray) -> list[dict]:
    """Gap and offline events of one tag's kept samples ``t`` [ns], overlapping [start, end).

    Silences are the segments that are not ordinary sampling, plus the stretch from ``start`` to
    the first sample and from the last sample to ``end`` when the readings do not reach them.
    """
    offline_ns = pd.Timedelta(facility.thresholds.offline_after).value
    if len(t) == 0:
        starts, stops, kind = np.array([start]), np.array([end]), np.array(["left open"])
        less = np.zeros(1)
    else:
        inner = ~measured
        lead, trail = t[0] > start, t[-1] < end
        # regular sampling from before ``start`` to within a step of ``end``: nothing to report
        # (the common case, decided without building the candidate arrays)
        if not (inner.any() or (lead and t[0] - start > step_ns) or (trail and end - t[-1] > step_ns)):
            return []
        starts = np.r_[[start] if lead else [], t[:-1][inner], [t[-1]] if trail else []]
        stops = np.r_[[t[0]] if lead else [], t[1:][inner], [end] if trail else []]
        kind = np.r_[["left open"] if lead else [],
                     np.where(bridged[inner], "interpolated", "left open"),
                     ["left open"] if trail else []]
        # between two samples the hole is the spacing less one sampling step
        less = np.r_[[0] if lead else [], np.full(inner.sum(), step_ns), [0] if trail else []]
    starts, stops = starts.astype("int64"), stops.astype("int64")
    span = stops - starts
    # a hole of a single sample (e.g. a rejected reading) is bridged without an event
    keep = (stops > start) & (starts < end) & (span - less > step_ns)
    events = []
    for s, e, k, d in zip(starts[keep], stops[keep], kind[keep], less[keep]):
        hole = int(e - s - d)
        events.append(dict(kind="gap", start=s, end=e, detail=f"{fmt_duration(hole)} hole {k}"))
        if e - s > offline_ns:
            events.append(dict(kind="offline", start=s, end=e,
                               detail=f"silent for {fmt_duration(int(e - s))}"))
    return events


def _align_tag(t: np.ndarray, v: np.ndarray, spec: TagSpec, facility: Facility,
               edges: np.ndarray, start: int, end: int) -> _TagResult:
    """Values and status per interval of one tag (t in ns, sorted, unique)."""
    n_int = len(edges) - 1
    values = np.full(n_int, np.nan)
    status = np.full(n_int, MISSING, dtype="int8")
    events: list[dict] = []
    excluded = np.zeros(len(t), dtype=bool)
    if spec.kind == "rate" and len(t):
        excluded, events = _exclusions(t, v, spec, facility)
    step_ns = int(np.median(np.diff(t))) if len(t) > 1 else 0
    tk, vk = t[~excluded], v[~excluded]
    if len(tk) > 1 and step_ns > 0:
        dt_ns = np.diff(tk)
        measured = dt_ns <= MEASURED_FACTOR * step_ns
        max_gap = pd.Timedelta(facility.thresholds.max_interpolation_gap).value
        bridged = ~measured & (dt_ns - step_ns <= max_gap)
        ts = (tk - edges[0]) / 1e9
        es = (edges - edges[0]) / 1e9
        at = _Edges(ts, es)
        ones = np.ones(len(dt_ns))
        cov_m = np.diff(at.integral(ones, ones, measured.astype(float)))
        # no bridged segment: exact zeros (every term of the integral is multiplied by 0)
        cov_b = np.diff(at.integral(ones, ones, bridged.astype(float))) if bridged.any() \
            else np.zeros(len(es) - 1)
        ok = (measured | bridged).astype(float)
        if spec.kind == "counter":
            inc, resets = _increments(vk, spec, tk)
            events += resets
            rate = inc / at.dt
            integral = np.diff(at.integral(rate, rate, ok))
        else:
            integral = np.diff(at.integral(vk[:-1], vk[1:], ok))
        length = np.diff(es)
        covered = cov_m + cov_b
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = integral / covered
        values = mean * length if spec.kind == "counter" else mean
        status = np.where(cov_m >= MIN_COVERAGE * length, MEASURED,
                          np.where(covered >= MIN_COVERAGE * length, INTERPOLATED, MISSING))
        values = np.where(status == MISSING, np.nan, values)
        events += _silences(tk, step_ns, start, end, facility, measured, bridged)
    else:
        none = np.zeros(max(len(tk) - 1, 0), dtype=bool)
        events += _silences(tk, step_ns, start, end, facility, none, none)
    return _TagResult(values, status.astype("int8"), events, t[excluded])


def _estimate(values: np.ndarray, status: np.ndarray, index: pd.DatetimeIndex, tz,
              window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing intervals of the window with the same local time on the previous days."""
    wall = index.tz_convert(tz).tz_localize(None)
    good = np.where(status >= INTERPOLATED, values, np.nan)
    by_wall = pd.Series(good, index=wall).groupby(level=0).mean()
    todo = np.flatnonzero(window & (status == MISSING))
    if len(todo) == 0:
        return values, status
    past = np.column_stack([by_wall.reindex(wall[todo] - pd.Timedelta(days=k)).to_numpy()
                            for k in range(1, ESTIMATE_DAYS + 1)])
    found_days = np.isfinite(past).sum(axis=1)
    est = np.where(found_days > 0, np.nansum(past, axis=1) / np.maximum(found_days, 1), np.nan)
    values, status = values.copy(), status.copy()
    found = np.isfinite(est)
    values[todo[found]] = est[found]
    status[todo[found]] = ESTIMATED
    return values, status


def _tag_runs(tags: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """First row and code of each run of equal consecutive tags, and the tags of the codes as
    ``pandas.factorize(tags)`` numbers them (missing -1). Stored days are sorted by tag, so
    Arrow text is compared row to row and only the runs' first tags are hashed."""
    if len(tags) and hasattr(tags.array, "__arrow_array__") and isinstance(tags.dtype, pd.StringDtype):
        text = pa.chunked_array(tags.array.__arrow_array__())
        differs = pc.fill_null(pc.not_equal(text.slice(1), text.slice(0, len(text) - 1)), True)
        heads = np.flatnonzero(np.r_[True, differs.to_numpy()])
        head_codes, names = pd.factorize(tags.iloc[heads])
        return heads, head_codes, names
    codes, names = pd.factorize(tags)
    return *_tag_runs_of_codes(codes), names


def _tag_runs_of_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and code of each run of equal consecutive codes."""
    heads = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else codes
    return heads, codes[heads]


def _tag_arrays(readings: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per tag: (instants [ns], values) sorted by time, one sample per instant."""
    if readings.empty:
        return {}
    ts = readings["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"readings column 'ts' must be tz-aware (UTC), got {ts.dtype}")
    t_all = ts.array.as_unit("ns").asi8     # instants: the same in any zone
    v_all = readings["value"].to_numpy(dtype="float64")
    tags = readings["tag"]
    tags = tags if pd.api.types.is_string_dtype(tags) else tags.astype(str)
    heads, head_codes, names = _tag_runs(tags)
    stops = np.r_[heads[1:], len(tags)]
    if len(heads) * 64 > len(tags):     # rows not grouped by tag: group them (stable)
        codes = np.repeat(head_codes, stops - heads)
        order = np.argsort(codes, kind="stable")
        t_all, v_all = t_all[order], v_all[order]
        heads, head_codes = _tag_runs_of_codes(codes[order])
        stops = np.r_[heads[1:], len(tags)]
    runs = np.argsort(head_codes, kind="stable")
    bounds = np.searchsorted(head_codes[runs], np.arange(len(names) + 1))
    out = {}
    for i, tag in enumerate(names):
        # the tag's rows in their order: its runs one after the other
        mine = runs[bounds[i]:bounds[i + 1]]
        t = np.concatenate([t_all[heads[r]:stops[r]] for r in mine])
        v = np.concatenate([v_all[heads[r]:stops[r]] for r in mine])
        step = np.diff(t)
        if (step < 0).any():      # not in time order (stored days are): sort, stable
            by_time = np.argsort(t, kind="stable")
            t, v = t[by_time], v[by_time]
            step = np.diff(t)
        keep = np.concatenate(([True], step > 0)) & np.isfinite(v)
        out[tag] = (t, v) if keep.all() else (t[keep], v[keep])
    return out


def align_window(readings: pd.DataFrame, facility: Facility, start: pd.Timestamp,
                 end: pd.Timestamp, *, rejected_counts: pd.Series | None = None) -> Aligned:
    """Align clean readings of one facility onto its interval grid over [start, end).

    Parameters
    ----------
    readings : pandas.DataFrame
        Clean readings (``quality.clean_readings``): ``tag, ts`` (UTC), ``value`` [configured
        unit]; may extend beyond the window (a margin for edge gaps and counters, 7 days of
        history for long-gap estimates).
    facility : thermaliq.config.Facility
        Tags, interval, time zone and thresholds.
    start, end : pandas.Timestamp
        Window instants on the facility's local grid, end exclusive.
    rejected_counts : pandas.Series, optional
        Readings rejected by ``clean_readings`` per tag in this window; added to
        ``rejected_points`` of each tag's first local day.

    Returns
    -------
    Aligned
        ``values, status, valid, tag_quality, events`` (see :class:`Aligned`).

    Raises
    ------
    ValueError
        When start/end are naive, reversed or off the facility's grid.

    Examples
    --------
    A local day in America/Chicago starting 2024-03-10 00:00 CST has 92 quarter hours.
    """
    start, end = _check_window(start, end, facility)
    specs = facility.tag_specs()
    step = facility.interval_td
    th = facility.thresholds
    first = start - pd.Timedelta(days=ESTIMATE_DAYS) if th.estimate_long_gaps else start
    # integer arithmetic: np.arange(first, end + 1, step) sizes itself in float64 and drops the
    # last interval of windows longer than about 104 days (ns counts beyond 2**53)
    edges = first.value + step.value * np.arange((end.value - first.value) // step.value + 1,
                                                 dtype="int64")
    index = pd.DatetimeIndex(edges[:-1], tz="UTC")
    window = edges[:-1] >= start.value
    arrays = _tag_arrays(readings)
    empty = (np.empty(0, "int64"), np.empty(0))
    values, status, events, excluded = {}, {}, [], {}
    for tag, spec in specs.items():
        t, v = arrays.get(tag, empty)
        res = _align_tag(t, v, spec, facility, edges, start.value, end.value)
        val, st = res.values, res.status
        if th.estimate_long_gaps:
            val, st = _estimate(val, st, index, facility.tz, window)
        values[tag], status[tag] = val[window], st[window]
        events += [dict(tag=tag, **e) for e in res.events]
        excluded[tag] = res.excluded_ns
    index = index[window]
    values_df = pd.DataFrame(values, index=index, columns=list(specs))
    codes = pd.DataFrame(status, index=index, columns=list(specs))
    status_df = pd.DataFrame(STATUS_NAMES[codes.to_numpy(dtype="int64")], index=index,
                             columns=list(specs), dtype=object)
    valid = pd.Series((codes.to_numpy() >= INTERPOLATED).all(axis=1) & (len(specs) > 0),
                      index=index, name="valid")
    events_df = events_frame(events, start, end)
    quality = tag_quality(codes, facility, events_df, excluded, rejected_counts)
    return Aligned(values_df, status_df, valid, quality, events_df)
