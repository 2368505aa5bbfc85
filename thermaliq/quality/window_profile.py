"""A facility window's profile for Great Expectations: its tag profile plus the facility keys.

The calculation job builds it from the readings it has already read (no second read of the
window), and the validation task hands the profiles of every facility of a window to one GX run
(``tasks/gx/validate.py``). Physical limits come from ``expectations/thermaliq_physical_limits.json``
(SI units), converted to each tag's unit; the file is read once per process while it is unchanged.
No Great Expectations import here.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd

from thermaliq import units
from thermaliq.config import Facility
from thermaliq.errors import UnitError
from thermaliq.quality.tag_profile import tag_profile

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
LIMITS_FILE = "thermaliq_physical_limits.json"

_LIMITS: dict[tuple, dict] = {}
_LIMITS_LOCK = threading.Lock()


def load_json(name: str) -> dict:
    """One file of ``expectations/`` as a dict."""
    path = EXPECTATIONS_DIR / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the expectations file: {exc}") from exc


def limits_table() -> dict[str, dict]:
    """Rows of the physical limits file by unit kind, read again only when the file changed."""
    path = EXPECTATIONS_DIR / LIMITS_FILE
    try:
        st = path.stat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None                      # load_json names the file in its error
    with _LIMITS_LOCK:
        if key is not None and key in _LIMITS:
            return _LIMITS[key]
    table = {row["kind"]: row for row in load_json(LIMITS_FILE)["limits"]}
    if key is not None:
        with _LIMITS_LOCK:
            _LIMITS.clear()
            _LIMITS[key] = table
    return table


def physical_limits(facility: Facility) -> dict[str, tuple[float | None, float | None]]:
    """Physical limits of every configured tag in the tag's unit (``None``: open bound).

    Tags whose unit has no known kind, or a kind without limits, have none.
    """
    table = limits_table()
    out = {}
    for tag, spec in facility.tag_specs().items():
        try:
            row = table.get(units.kind_of(spec.unit))
        except UnitError:
            row = None
        if row is not None:
            out[tag] = (_convert(row["min"], row["si_unit"], spec.unit),
                        _convert(row["max"], row["si_unit"], spec.unit))
    return out


def _convert(value, si_unit: str, unit: str) -> float | None:
    return None if value is None else float(units.convert(float(value), si_unit, unit))


def facility_profile(readings: pd.DataFrame, facility: Facility, window: str = "") -> pd.DataFrame:
    """The rows GX validates for one facility window: its tag profile (``thermaliq.quality.tag_profile``)
    plus ``facility_id``, ``window`` (a label such as ``2025-01-01..2025-01-31``: the windows of
    a backfill can be validated in one run), ``tag_configured`` (True or False; missing on the row
    of readings without a tag, which count as null values) and ``window_readings`` (the window's
    readings of every tag, on every row).

    ``readings`` are the window's own readings (``tag, ts`` UTC, ``value`` [tag unit]), no margins.
    """
    frame = tag_profile(readings, facility, physical_limits(facility))
    frame.insert(0, "facility_id", facility.facility_id)
    frame.insert(1, "window", window)
    frame.insert(3, "tag_configured", pd.Series(frame["configured"].to_numpy(dtype=object), dtype=object)
                 .where(frame["tag"].notna(), None))
    frame["window_readings"] = int(frame["n_readings"].sum())
    return frame


def window_label(first, last) -> str:
    """The ``window`` of a profile: ``<first>..<last>`` (local days, ISO)."""
    return f"{first}..{last}"
