"""Parameter handling shared by the flows: dates, facility selection, home."""
from __future__ import annotations

from datetime import date

import pandas as pd

from thermaliq.config import Facility, load_facilities
from thermaliq.errors import ConfigError
from thermaliq.home import Home


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


def select_facilities(home: Home, wanted: list[str] | None) -> tuple[dict[str, Facility], list[str]]:
    """Load the home's facilities; return (selected facilities, problems as text).

    Unknown ids in ``wanted`` and broken configuration files are problems of their own facility;
    they never stop the others.
    """
    facilities, errors = load_facilities(home.facilities)
    problems = [str(e) for e in errors]
    if wanted:
        missing = [f for f in wanted if f not in facilities]
        broken = {str(e.file or "") for e in errors}
        for fid in missing:
            if not any(b.endswith(f"{fid}.yaml") for b in broken):
                try:
                    problems.append(f"facility {fid!r}: no file {home.facility_file(fid)}")
                except ConfigError as exc:   # e.g. '../../etc': never turned into a path
                    problems.append(f"facility {fid!r}: {exc}")
        facilities = {k: v for k, v in facilities.items() if k in wanted}
    return facilities, problems


def yesterday_in(tz: str, now: pd.Timestamp) -> date:
    """The local date before ``now``'s local date in ``tz``."""
    return (now.tz_convert(tz) - pd.Timedelta(days=1)).date()
