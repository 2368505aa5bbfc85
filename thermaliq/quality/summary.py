"""Summaries of an aligned window: the events table and the per-tag, per-local-day quality rows.

These are the rows of the ``data_quality`` relation (DESIGN §6) and the events the alerts and
reports use; ``thermaliq.quality.align`` computes the statuses they summarise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility

STATUS_NAMES = np.array(["missing", "estimated", "interpolated", "measured"], dtype=object)
EVENT_COLUMNS = ("tag", "kind", "start", "end", "detail")
QUALITY_COLUMNS = ("tag", "period_start", "period_end", "expected_points", "valid_points",
                   "interpolated_points", "rejected_points", "completeness", "issues", "outlier_points")


def fmt_duration(ns: int) -> str:
    """A duration as short text: ``45s``, ``10min``, ``3h01m``, ``2d04h``.

    Examples
    --------
    >>> fmt_duration(3 * 3600 * 10**9 + 60 * 10**9)
    '3h01m'
    """
    seconds = int(round(ns / 1e9))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def events_frame(events: list[dict], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Events as a DataFrame (times UTC), keeping those that touch [start, end)."""
    if not events:
        return pd.DataFrame({"tag": pd.Series(dtype=object), "kind": pd.Series(dtype=object),
                             "start": pd.Series(dtype="datetime64[ns, UTC]"),
                             "end": pd.Series(dtype="datetime64[ns, UTC]"),
                             "detail": pd.Series(dtype=object)})
    df = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col].astype("int64"), utc=True)
    touch = (df["end"] >= start) & (df["start"] < end)
    df = df[touch].sort_values(["tag", "start", "kind"], kind="stable")
    return df.reset_index(drop=True).astype({"tag": object, "kind": object, "detail": object})


def _day_blocks(index: pd.DatetimeIndex, tz) -> tuple[np.ndarray, np.ndarray]:
    """Start positions of each local day in ``index`` and the day code of every interval."""
    day = index.tz_convert(tz).tz_localize(None).normalize()
    codes, _ = pd.factorize(day)
    if len(codes) == 0:
        return np.array([], dtype=int), codes
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return starts, codes


def _position(index: pd.DatetimeIndex, ns: np.ndarray) -> np.ndarray:
    """Interval position of instants (clipped into the window)."""
    pos = np.searchsorted(index.asi8, ns, side="right") - 1
    return np.clip(pos, 0, len(index) - 1)


def _issues(parts: list[tuple[str, object]]) -> str:
    return "; ".join(text for text, cond in parts if cond)


def _n(count: int, noun: str) -> str:
    """``1 outlier``, ``3 outliers``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _event_stats(events: pd.DataFrame, index: pd.DatetimeIndex, day_codes: np.ndarray
                 ) -> tuple[dict, dict, dict]:
    """Per (tag, local day): event counts per kind, frozen time summed [ns], longest offline
    time [ns]; one grouping for the whole window instead of one filter per tag and day."""
    if not len(events):
        return {}, {}, {}
    days = day_codes[_position(index, events["start"].array.asi8)].tolist()
    spans_ns = (events["end"].array.asi8 - events["start"].array.asi8).tolist()
    counts: dict = {}
    frozen: dict = {}
    offline: dict = {}
    for tag, day, kind, ns in zip(events["tag"].to_numpy(dtype=object), days,
                                  events["kind"].to_numpy(dtype=object), spans_ns):
        key = (tag, day)
        per_kind = counts.setdefault(key, {})
        per_kind[kind] = per_kind.get(kind, 0) + 1
        if kind == "frozen":
            frozen[key] = frozen.get(key, 0) + ns
        elif kind == "offline":
            offline[key] = max(offline.get(key, ns), ns)
    return counts, frozen, offline


def tag_quality(codes: pd.DataFrame, facility: Facility, events: pd.DataFrame,
                excluded: dict[str, np.ndarray], rejected_counts: pd.Series | None
                ) -> pd.DataFrame:
    """Rows of the ``data_quality`` relation: one per tag and local day of the window.

    Parameters
    ----------
    codes : pandas.DataFrame
        Status codes (index into ``STATUS_NAMES``) per interval (UTC index) and tag.
    facility : thermaliq.config.Facility
        For the time zone and interval.
    events : pandas.DataFrame
        Events of the window (``events_frame``).
    excluded : dict
        Per tag, the instants [ns] of samples excluded as outliers or frozen.
    rejected_counts : pandas.Series or None
        Readings rejected by ``clean_readings`` per tag; added to the tag's first local day.

    Returns
    -------
    pandas.DataFrame
        Columns ``tag, period_start, period_end`` (UTC instants of the local day's first interval
        start and last interval end within the window), ``expected_points, valid_points,
        interpolated_points, rejected_points`` [intervals, samples for rejected],
        ``completeness`` [0..1], ``issues`` (text for people) and ``outlier_points`` [samples
        flagged as outliers; the count ``issues`` mentions, kept as a number for metrics].
    """
    index = codes.index
    if len(index) == 0:
        return pd.DataFrame(columns=list(QUALITY_COLUMNS))
    step = facility.interval_td
    starts, day_codes = _day_blocks(index, facility.tz)
    expected = np.diff(np.r_[starts, len(index)])
    period_start = index[starts]
    period_end = index[np.r_[starts[1:], len(index)] - 1] + step
    n_days = len(starts)
    ev_counts, ev_frozen, ev_offline = _event_stats(events, index, day_codes)
    all_codes = codes.to_numpy()          # intervals x tags: one reduction per day for all tags
    valid_all = np.add.reduceat((all_codes >= 2).astype(int), starts, axis=0)
    interp_all = np.add.reduceat((all_codes == 2).astype(int), starts, axis=0)
    estimated_all = np.add.reduceat((all_codes == 1).astype(int), starts, axis=0)
    rows = []
    for j, tag in enumerate(codes.columns):
        valid, interp, estimated = valid_all[:, j], interp_all[:, j], estimated_all[:, j]
        ex = excluded.get(tag, np.empty(0, "int64"))
        ex = ex[(ex >= index.asi8[0]) & (ex < index.asi8[-1] + step.value)]
        rejected = np.bincount(day_codes[_position(index, ex)], minlength=n_days)
        if rejected_counts is not None and tag in rejected_counts.index:
            rejected[0] += int(rejected_counts[tag])
        for d in range(n_days):
            kinds = ev_counts.get((tag, d), {})
            outliers = kinds.get("outlier", 0)
            frozen_ns = int(ev_frozen.get((tag, d), 0))
            offline_ns = int(ev_offline.get((tag, d), 0))
            missing = expected[d] - valid[d] - estimated[d]
            issues = _issues([
                (_n(missing, "interval") + " missing", missing),
                (f"{interp[d]} interpolated", interp[d]),
                (f"{estimated[d]} estimated", estimated[d]),
                (_n(outliers, "outlier"), outliers),
                (f"frozen {fmt_duration(frozen_ns)}", frozen_ns),
                (_n(kinds.get("counter_reset", 0), "counter reset"), kinds.get("counter_reset", 0)),
                (f"offline {fmt_duration(offline_ns)}", offline_ns),
                (_n(rejected[d], "reading") + " rejected or excluded", rejected[d]),
            ])
            rows.append((tag, period_start[d], period_end[d], int(expected[d]), int(valid[d]),
                         int(interp[d]), int(rejected[d]), valid[d] / expected[d], issues, int(outliers)))
    return pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))
