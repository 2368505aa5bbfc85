"""ISO dates of the command line and the flows, checked without importing pandas or Prefect."""
from __future__ import annotations

from datetime import date

from thermaliq.errors import ConfigError


def parse_date(value: str | date, name: str) -> date:
    """An ISO date (``YYYY-MM-DD``) or a date; raises ``ConfigError`` naming the parameter."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not an ISO date", fix="use YYYY-MM-DD") from exc


def parse_range(start: str | date, end: str | date) -> tuple[date, date]:
    """An inclusive range of ISO dates; raises ``ConfigError`` when a date is bad or end < start."""
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if last < first:
        raise ConfigError(f"end={str(end)!r} is before start={str(start)!r}",
                          fix="give start <= end (both days are included)")
    return first, last
