"""The demo home: three facilities with a few weeks of realistic readings and real-plant faults.

``make_demo_home(home)`` writes ``<home>/facilities/<id>.yaml`` (DESIGN §3) and readings files
under ``<home>/inbox/<id>/`` (DESIGN §4) for the facilities of :mod:`thermaliq.demo.signals`:

=============  =======  ========  ===========================================  ==================
facility       format   one file  timestamps                                   time zone
=============  =======  ========  ===========================================  ==================
FAC-STEAM      long     per day   local wall clock, no offset                  America/Chicago
FAC-CHP        wide     per week  local time with its UTC offset (``+01:00``)  Europe/Berlin
FAC-HEATER     long     per week  UTC with ``Z``; one file has a ``unit`` col  Europe/London
=============  =======  ========  ===========================================  ==================

Injected faults (each listed in ``DemoHome.faults`` with facility, tag, kind, local time, file):
a 10-minute and a 3-hour gap on required tags, out-of-range spikes, exact duplicate rows,
conflicting duplicates, a gas-counter reset, a frozen meter, non-numeric values (``#N/A``,
``Bad``), a ``unit`` column with a converted unit, and every DST change inside the window.

Window: ``end_date`` given → the ``days`` local days ending on it, exactly. ``end_date``
omitted → end yesterday (UTC); if that window holds no DST change of FAC-STEAM
(America/Chicago) and ``dst`` is true, the window moves back so that the most recent US DST
change sits in its middle, so the demo always shows a 23- or 25-hour day whatever the date of
the year it runs (the readings are then up to ~8 months old; pass ``dst=False`` for a window
ending yesterday).

Fault times are placed at fixed fractions of the window (day ``int(f * days)``) at daytime hours,
so they exist for any ``days >= 1`` and never fall into a DST-ambiguous hour. The clean truth
behind the files is :func:`thermaliq.demo.signals.demo_truth` (same seed, same window).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import yaml

from thermaliq import units
from thermaliq.demo.signals import (FACILITY_IDS, baseline_config, demo_readings_frame, demo_truth,
                                    facility_configs)
from thermaliq.home import Home

__all__ = ["DemoHome", "make_demo_home", "default_window", "dst_changes", "config_yaml",
           "format_timestamps", "demo_truth", "demo_readings_frame", "facility_configs",
           "FACILITY_IDS"]

#: How each facility's readings are written: (file span, layout, timestamp style).
FILE_STYLES = {"FAC-STEAM": ("day", "long", "naive"),
               "FAC-CHP": ("week", "wide", "offset"),
               "FAC-HEATER": ("week", "long", "utc")}
#: Planned faults: (facility, kind, tag, position in the window 0..1, local start, minutes).
#: ``tag`` None = every tag; ``minutes`` None = from the start to the end of the window.
FAULT_PLAN = (
    ("FAC-STEAM", "gap", "FT-201", 0.30, "10:20", 10),
    ("FAC-STEAM", "spike", "TT-501", 0.45, "11:07", 2),
    ("FAC-STEAM", "non_numeric", "JT-301", 0.60, "09:15", 2),
    ("FAC-STEAM", "duplicate_rows", None, 0.60, "12:00", 5),
    ("FAC-STEAM", "conflicting_duplicates", "PT-201", 0.75, "08:00", 5),
    ("FAC-CHP", "frozen", "FT-301", 0.25, "10:00", 180),
    ("FAC-CHP", "counter_reset", "FQ-101", 0.50, "15:00", None),
    ("FAC-CHP", "non_numeric", "JT-201", 0.80, "17:30", 2),
    ("FAC-HEATER", "gap", "FT-101", 0.55, "13:00", 180),
)
SPIKE_VALUES = (999.0, 1250.0)
NON_NUMERIC_TEXTS = ("#N/A", "Bad")
CONFLICT_OFFSET = 0.35
#: The middle file of this facility has a unit column and gives this tag in this unit (not m3/h).
UNIT_COLUMN_FACILITY, UNIT_COLUMN_TAG, UNIT_COLUMN_UNIT = "FAC-HEATER", "FT-201", "L/s"
DST_REFERENCE_ZONE = "America/Chicago"


@dataclass(frozen=True)
class DemoHome:
    """What :func:`make_demo_home` wrote.

    Attributes
    ----------
    home : pathlib.Path
        The home directory (absolute).
    facilities : list of str
        Facility ids written.
    start, end : datetime.date
        First and last local calendar day of readings (inclusive).
    faults : list of dict
        One per injected fault: ``facility, tag`` (None = all tags or none), ``kind``,
        ``local_time`` and ``end_local_time`` (ISO 8601 with offset, end exclusive or None),
        ``file`` (relative to home), ``rows`` (readings affected), ``detail``.
    """

    home: Path
    facilities: list[str]
    start: date
    end: date
    faults: list[dict]


def dst_changes(timezone_name: str, start: date, end: date) -> list[date]:
    """Local days in ``start .. end`` (inclusive) that are not 24 hours long (DST changes)."""
    tz = ZoneInfo(timezone_name)
    out = []
    day = start
    while day <= end:
        a = datetime.combine(day, time(), tz).utcoffset()
        b = datetime.combine(day + timedelta(days=1), time(), tz).utcoffset()
        if a != b:
            out.append(day)
        day += timedelta(days=1)
    return out


def default_window(today: date, days: int, *, dst: bool = True,
                   timezone_name: str = DST_REFERENCE_ZONE) -> tuple[date, date]:
    """The demo's default window of ``days`` local days ending yesterday, moved to show DST.

    When ``dst`` is true and ``[today - days, today - 1]`` holds no DST change in
    ``timezone_name``, the window is moved back so that the most recent change lies at day
    ``days // 2`` of it.

    Examples
    --------
    >>> default_window(date(2026, 7, 1), 21)
    (datetime.date(2026, 2, 26), datetime.date(2026, 3, 18))
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = today - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    if dst and not dst_changes(timezone_name, start, end):
        changes = dst_changes(timezone_name, start - timedelta(days=400), start)
        if changes:
            start = changes[-1] - timedelta(days=days // 2)
            end = start + timedelta(days=days - 1)
    return start, end


def _local(day: date, hhmm: str, tz: str) -> pd.Timestamp:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return pd.Timestamp(datetime.combine(day, time(hour, minute), ZoneInfo(tz)))


_EPOCH = date(1970, 1, 1)


def _chunk_start(day, first, span: str):
    """First day of the file holding local day ``day``: itself, or the start of its 7-day chunk.

    Days are counted from 1970-01-01 (int or numpy array); ``first`` is the window's first day.
    """
    return day if span == "day" else first + (day - first) // 7 * 7


def _file_key(local_day: date, start: date, span: str) -> date:
    """:func:`_chunk_start` on dates."""
    return _EPOCH + timedelta(days=_chunk_start((local_day - _EPOCH).days,
                                                (start - _EPOCH).days, span))


def _file_name(facility_id: str, key: date, span: str) -> str:
    middle = "" if span == "day" else "week_"
    return f"inbox/{facility_id}/{facility_id}_{middle}{key:%Y-%m-%d}.csv"


def _fault(facility, tag, kind, t0, t1, rows, detail, file) -> dict:
    return {"facility": facility, "tag": tag, "kind": kind, "local_time": t0.isoformat(),
            "end_local_time": None if t1 is None else t1.isoformat(), "file": file,
            "rows": int(rows), "detail": detail}


def _apply_fault(frame: pd.DataFrame, kind: str, mask: pd.Series, tag: str | None,
                 t0: pd.Timestamp) -> tuple[pd.DataFrame, int, str]:
    """Inject one fault into the numeric file frame; return (frame, rows affected, detail)."""
    rows = int(mask.sum())
    if rows == 0:
        raise RuntimeError(f"demo fault {kind} on {tag} at {t0} hits no reading")
    if kind == "gap":
        return frame[~mask], rows, f"{rows} readings missing"
    if kind == "spike":
        values = np.resize(SPIKE_VALUES, rows)
        frame.loc[mask, "value"] = values
        return frame, rows, f"values {values.tolist()} beyond the configured range"
    if kind == "non_numeric":
        texts = np.resize(np.array(NON_NUMERIC_TEXTS, dtype=object), rows)
        frame.loc[mask, "text"] = texts
        return frame, rows, f"values {texts.tolist()} instead of numbers"
    if kind in ("duplicate_rows", "conflicting_duplicates"):
        extra = frame[mask].copy()
        extra["appended"] = True
        if kind == "conflicting_duplicates":
            extra["value"] = extra["value"] + CONFLICT_OFFSET
        detail = ("exact copies appended to the file" if kind == "duplicate_rows" else
                  f"second readings {CONFLICT_OFFSET:+} (tag's unit) at the same instants")
        return pd.concat([frame, extra], ignore_index=True), rows, detail
    if kind == "frozen":
        first = frame.loc[mask, "value"].iloc[0]
        frame.loc[mask, "value"] = first
        return frame, rows, f"meter stuck at {first} for {rows} minutes"
    if kind == "counter_reset":
        before = frame.loc[(frame["tag"] == tag) & (frame["ts"] == t0 - pd.Timedelta("1min")),
                           "value"].iloc[0]
        frame.loc[mask, "value"] = (frame.loc[mask, "value"] - before).round(2)
        return frame, 1, (f"counter restarts from 0 right after the reading {before} of the "
                          "minute before; no gas is lost")
    raise ValueError(f"unknown demo fault kind {kind!r}")


def _inject_faults(facility_id: str, frame: pd.DataFrame, start: date, days: int,
                   tz: str) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the FAULT_PLAN rows of one facility; return the frame and the fault records."""
    span = FILE_STYLES[facility_id][0]
    faults = []
    for fid, kind, tag, where, hhmm, minutes in FAULT_PLAN:
        if fid != facility_id:
            continue
        day = start + timedelta(days=min(int(where * days), days - 1))
        t0 = _local(day, hhmm, tz)
        t1 = None if minutes is None else t0 + pd.Timedelta(minutes=minutes)
        in_time = (frame["ts"] >= t0) & ((frame["ts"] < t1) if t1 is not None else True)
        mask = in_time & ((frame["tag"] == tag) if tag else True) & ~frame["appended"]
        frame, rows, detail = _apply_fault(frame, kind, mask, tag, t0)
        faults.append(_fault(facility_id, tag, kind, t0, t1, rows, detail,
                             _file_name(facility_id, _file_key(day, start, span), span)))
    return frame, faults


def _dst_faults(facility_id: str, start: date, end: date, tz: str) -> list[dict]:
    span = FILE_STYLES[facility_id][0]
    out = []
    for day in dst_changes(tz, start, end):
        t0, t1 = _local(day, "00:00", tz), _local(day + timedelta(days=1), "00:00", tz)
        hours = int((t1 - t0).total_seconds() // 3600)
        out.append(_fault(facility_id, None, "dst_change", t0, t1, 0,
                          f"{hours}-hour local day; UTC offset {t0:%z} -> {t1:%z}",
                          _file_name(facility_id, _file_key(day, start, span), span)))
    return out


def _tag_units(config: dict) -> dict[str, str]:
    """Configured unit of every tag of a configuration mapping, in stream order."""
    return {m["tag"]: m["unit"] for s in config["streams"] for m in s.values()
            if isinstance(m, dict) and "tag" in m}


def _add_unit_column(frame: pd.DataFrame, config: dict) -> dict:
    """Give the middle file a ``unit`` column with one tag in another unit; return the fault."""
    facility_id, tz = config["facility_id"], config["timezone"]
    span = FILE_STYLES[facility_id][0]
    file_keys = np.unique(frame["key"])
    key = file_keys[len(file_keys) // 2]
    in_file = frame["key"] == key
    tag_units = _tag_units(config)
    frame.loc[in_file, "unit"] = frame.loc[in_file, "tag"].map(tag_units)
    moved = in_file & (frame["tag"] == UNIT_COLUMN_TAG)
    frame.loc[moved, "value"] = np.round(units.convert(
        frame.loc[moved, "value"].to_numpy(), tag_units[UNIT_COLUMN_TAG], UNIT_COLUMN_UNIT), 6)
    frame.loc[moved, "unit"] = UNIT_COLUMN_UNIT
    stamps = frame.loc[in_file, "ts"]
    return _fault(facility_id, UNIT_COLUMN_TAG, "unit_column", stamps.min().tz_convert(tz),
                  stamps.max().tz_convert(tz) + pd.Timedelta("1min"), int(moved.sum()),
                  f"file has a unit column; {UNIT_COLUMN_TAG} is given in {UNIT_COLUMN_UNIT} "
                  f"instead of the configured {tag_units[UNIT_COLUMN_TAG]}",
                  _file_name(facility_id, _key_date(key), span))


def format_timestamps(instants: pd.DatetimeIndex, tz: str, style: str) -> np.ndarray:
    """ISO 8601 text of UTC instants.

    ``style`` is ``naive`` (local wall clock, no offset), ``offset`` (local time with its UTC
    offset, ``+01:00``) or ``utc`` (UTC with ``Z``).
    """
    if style == "utc":
        return np.asarray(instants.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object)
    local = instants.tz_convert(tz)
    text = np.asarray(local.strftime("%Y-%m-%dT%H:%M:%S"), dtype=object)
    if style == "naive":
        return text
    if style != "offset":
        raise ValueError(f"style must be naive, offset or utc, got {style!r}")
    minutes = (local.tz_localize(None).asi8 - instants.tz_convert("UTC").tz_localize(None).asi8) \
        // 60_000_000_000
    labels = {m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
              for m in np.unique(minutes)}
    return text + np.array([labels[m] for m in minutes], dtype=object)


def _row_labels(frame: pd.DataFrame, tz: str, style: str, start: date,
                span: str) -> tuple[np.ndarray, np.ndarray]:
    """Timestamp text and file key (days since 1970 of the file's first day) of every row.

    Both are computed once per distinct minute and spread to the rows.
    """
    uniq, codes = np.unique(frame["ts"].array.asi8, return_inverse=True)
    instants = pd.DatetimeIndex(uniq.astype("datetime64[ns]")).tz_localize("UTC")
    day = instants.tz_convert(tz).tz_localize(None).asi8 // 86_400_000_000_000
    key = _chunk_start(day, (start - _EPOCH).days, span)
    return format_timestamps(instants, tz, style)[codes], key[codes]


def _key_date(key: int) -> date:
    return _EPOCH + timedelta(days=int(key))


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame of text columns as plain CSV (no quotes; empty cell = no value)."""
    table = pa.table({c: pa.array(frame[c].to_numpy(dtype=object), type=pa.string(),
                                  from_pandas=True) for c in frame.columns})
    with open(path, "wb") as fh:
        fh.write((",".join(frame.columns) + "\n").encode())
        pcsv.write_csv(table, fh, write_options=pcsv.WriteOptions(include_header=False,
                                                                  quoting_style="none"))


def _write_files(root: Path, facility_id: str, frame: pd.DataFrame, config: dict) -> None:
    """Write one CSV per file key in the facility's layout."""
    span, layout, _ = FILE_STYLES[facility_id]
    tags = list(_tag_units(config))
    for key, part in frame.groupby("key", sort=True):
        part = part.sort_values(["appended", "ts", "tag"], kind="stable")
        if layout == "long":
            out = part[["stamp", "tag", "text"]].set_axis(["timestamp", "tag", "value"], axis=1)
            if part["unit"].notna().any():
                out = out.assign(unit=part["unit"])
        else:
            if part.duplicated(["ts", "tag"]).any():
                raise RuntimeError(f"{facility_id}: a wide file cannot hold duplicate readings")
            out = (part.pivot(index="stamp", columns="tag", values="text")
                   .reindex(index=part["stamp"].drop_duplicates(), columns=tags)
                   .rename_axis(index="timestamp", columns=None).reset_index())
        _write_csv(root / _file_name(facility_id, _key_date(key), span), out)


def _write_facility(root: Path, facility_id: str, start: date, end: date, days: int,
                    seed: int) -> list[dict]:
    """Generate, damage and write one facility's readings; return its fault records."""
    config = facility_configs()[facility_id]
    tz = config["timezone"]
    span, _, style = FILE_STYLES[facility_id]
    frame = demo_truth(facility_id, start, end, seed=seed).readings
    frame = frame.assign(appended=False, text=pd.Series(None, index=frame.index, dtype=object),
                         unit=pd.Series(None, index=frame.index, dtype=object))
    frame, faults = _inject_faults(facility_id, frame, start, days, tz)
    frame = frame.reset_index(drop=True)
    stamps, keys = _row_labels(frame, tz, style, start, span)
    frame["stamp"], frame["key"] = pd.Series(stamps, dtype=object), keys
    if facility_id == UNIT_COLUMN_FACILITY:
        faults.append(_add_unit_column(frame, config))
    numbers = frame["value"].to_numpy().astype(str).astype(object)   # shortest round-trip text
    frame["text"] = frame["text"].where(frame["text"].notna(), pd.Series(numbers, dtype=object))
    faults.extend(_dst_faults(facility_id, start, end, tz))
    _write_files(root, facility_id, frame, config)
    return faults


class _ConfigDumper(yaml.SafeDumper):
    """Writes measurements, heating values and estimates on one line, as DESIGN §3 shows them."""


def _represent_mapping(dumper: yaml.SafeDumper, data: dict):
    leaf = "unit" in data or "percent_of_input" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=leaf or None)


_ConfigDumper.add_representer(dict, _represent_mapping)


def config_yaml(config: dict) -> str:
    """YAML text of a demo facility configuration."""
    header = "# thermaliq demo facility, written by `thermaliq demo` (fields: README)\n"
    return header + yaml.dump(config, Dumper=_ConfigDumper, sort_keys=False, width=100,
                              allow_unicode=True)


def make_demo_home(home: str | Path, *, end_date: date | None = None, days: int = 21,
                   seed: int = 7, dst: bool = True) -> DemoHome:
    """Create (or refresh) a demo home with facilities and faulty readings files.

    Parameters
    ----------
    home : str or pathlib.Path
        The home directory; created when missing. Earlier demo readings of the demo facilities
        (``inbox/<id>/<id>_*.csv``) are replaced; nothing else is touched.
    end_date : datetime.date, optional
        Last local day of readings; default yesterday (UTC), see :func:`default_window`.
    days : int
        Number of local days of readings [d].
    seed : int
        Random seed; the same arguments give byte-identical files.
    dst : bool
        With ``end_date`` omitted, move the window to include a US DST change.

    Returns
    -------
    DemoHome
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if end_date is None:
        start, end = default_window(datetime.now(timezone.utc).date(), days, dst=dst)
    else:
        start, end = end_date - timedelta(days=days - 1), end_date
    paths = Home.resolve(home)
    paths.facilities.mkdir(parents=True, exist_ok=True)
    faults: list[dict] = []
    for facility_id, config in facility_configs().items():
        inbox = paths.inbox / facility_id
        inbox.mkdir(parents=True, exist_ok=True)
        for old in inbox.glob(f"{facility_id}_*.csv"):
            old.unlink()
        if facility_id == "FAC-STEAM":          # its boiler fouls part-way: the CUSUM shows it
            config = {**config, "baseline": baseline_config(start, end)}
        paths.facility_file(facility_id).write_text(config_yaml(config), encoding="utf-8")
        faults.extend(_write_facility(paths.root, facility_id, start, end, days, seed))
    summary = {"start": start.isoformat(), "end": end.isoformat(), "seed": seed, "faults": faults}
    (paths.inbox / "demo-faults.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return DemoHome(paths.root, list(FACILITY_IDS), start, end, faults)
