"""Parameter handling shared by the flows: dates, facility selection, home."""
from __future__ import annotations

from datetime import date

import pandas as pd

from thermaliq.config import Facility, load_facilities
from thermaliq.errors import ConfigError
from thermaliq.home import Home
from flows.dates import parse_date, parse_range  # noqa: F401 - re-exported for the flows


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
