"""Local calendar days and months of a facility as UTC instants (DESIGN §7)."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd


def local_midnight(day: date, tz: str | ZoneInfo) -> pd.Timestamp:
    """The UTC instant of local midnight starting ``day`` in ``tz``.

    Examples
    --------
    >>> str(local_midnight(date(2024, 3, 10), "America/Chicago"))
    '2024-03-10 06:00:00+00:00'
    """
    return pd.Timestamp(day).tz_localize(tz).tz_convert("UTC")


def utc_instants_ns(column: pd.Series) -> np.ndarray:
    """Instants of a column of tz-aware times (one zone, or Timestamp objects of several) [ns UTC]."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.array.as_unit("ns").asi8        # (the ``.dt`` accessor costs ~0.1 ms)
    values = column.to_numpy()
    if column.dtype == object and all(type(v) is pd.Timestamp and v.tzinfo is not None for v in values):
        return np.fromiter((v.value for v in values), dtype="int64", count=len(values))
    return pd.to_datetime(column, utc=True).dt.as_unit("ns").array.asi8


def day_window(first: date, last: date, tz: str | ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC [start, end) of the local days ``first`` .. ``last`` inclusive."""
    if last < first:
        raise ValueError(f"end date {last} is before start date {first}")
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


def days_in(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def local_dates(ts: pd.Series, tz: str | ZoneInfo) -> pd.Series:
    """Local calendar date of each UTC timestamp."""
    return ts.dt.tz_convert(tz).dt.date


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(key: str) -> tuple[date, date]:
    """First and last date of a ``YYYY-MM`` month."""
    year, month = (int(p) for p in key.split("-"))
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def months_touching(first: date, last: date) -> list[str]:
    keys: list[str] = []
    for d in days_in(first, last):
        if not keys or keys[-1] != month_key(d):
            keys.append(month_key(d))
    return keys


def windows(first: date, last: date, days_per_window: int) -> list[tuple[date, date]]:
    """Split an inclusive date range into consecutive windows of at most ``days_per_window`` days."""
    if days_per_window < 1:
        raise ValueError("days_per_window must be >= 1")
    out = []
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=days_per_window - 1))
        out.append((start, end))
        start = end + timedelta(days=1)
    return out
