"""Validation and repair of raw readings: units, unknown tags, non-finite values, ranges, duplicates.

``clean_readings`` is the first quality gate after a reader or the historian connector. It keeps
every reading it can use (in the tag's configured unit) and quarantines every other one with its
reason, so that nothing is lost silently (DESIGN §4). Steps, in this order, each counted per tag:

1. unconfigured tag (not in ``facility.tag_specs()``) -> kept as an ordinary reading with the unit
   the file gives (none without a ``unit`` column) and counted (``unknown_tag``): a stream added
   later that uses it needs a ``recalculate``, not a re-ingest. Only steps 3 (non-finite), the
   physical magnitude limit of step 4 and steps 5-6 apply to it;
2. ``unit`` present and different from the configured unit -> converted with
   :func:`thermaliq.units.convert`; an unknown or incompatible unit -> reject naming both units;
3. non-finite value (NaN from a non-numeric cell, +-inf) -> reject;
4. outside the configured ``range`` -> reject ``out of range [lo, hi] <unit>``; without a range,
   ``|value| > PHYSICAL_LIMIT`` (1e15 in the tag's unit) -> reject ``implausible magnitude``;
5. exact duplicates (same tag, instant and value) -> one kept, the others dropped and counted
   (not quarantined: they are the same reading);
6. conflicting duplicates (same tag and instant, different values) -> one kept by the rule below,
   the others quarantined with reason ``conflicting duplicate``.

Conflict rule (deterministic, independent of row order): prefer the reading whose ``quality`` is
good (``good``, ``192`` or OPC ``0xC0``; case-insensitive), then one without a quality flag, then
any other flag; among equals keep the one with the smallest ``(source, row)``, i.e. the first
occurrence in the first source by name. The same ordering picks the survivor of exact duplicates.

Implausible reading times (before 2000 or more than a day after the ingest) are split off by
:func:`implausible_times`, which the ingest applies before cleaning (it knows the ingest time).

Time alignment, outliers, frozen meters, counters and gaps are the subject of ``thermaliq.quality.align``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermaliq import units
from thermaliq.config import Facility
from thermaliq.errors import DataError, UnitError

RAW_COLUMNS = ("tag", "ts", "value", "unit", "quality", "source", "row")
REJECT_COLUMNS = ("source", "row", "reason", "raw", "tag", "ts")
COUNT_COLUMNS = ("duplicates", "conflicts", "non_numeric", "out_of_range", "unit_errors",
                 "unknown_tag")
GOOD_QUALITY = ("good", "192", "0xc0")
#: Magnitude limit of a tag without a configured ``range`` [tag unit]: no plant meter reads 1e15
#: of anything, while a 1e308 (finite!) would swamp every average it enters.
PHYSICAL_LIMIT = 1e15
#: Plausible reading times: from 2000-01-01 to the ingest time plus one day (clock skew).
EARLIEST_TS = pd.Timestamp("2000-01-01", tz="UTC")
FUTURE_SLACK = pd.Timedelta(days=1)
MAX_RAW_CHARS = 500


@dataclass
class CleanResult:
    """Result of :func:`clean_readings`.

    Attributes
    ----------
    readings : pandas.DataFrame
        Columns ``tag, ts, value, unit, quality, source, row``; ``value`` in the configured unit,
        ``unit`` the configured unit; sorted by tag and ts; at most one row per (tag, ts).
    rejects : pandas.DataFrame
        Columns ``source, row, reason, raw`` (raw = the reading as text, at most 500 chars),
        plus ``tag, ts`` of the rejected reading (additive to docs/ARCHITECTURE.md).
    counts : pandas.DataFrame
        Indexed by tag (configured tags first, then unknown tags seen) with integer columns
        ``duplicates, conflicts, non_numeric, out_of_range, unit_errors, unknown_tag``.
    """

    readings: pd.DataFrame
    rejects: pd.DataFrame
    counts: pd.DataFrame


def _text(col: pd.Series) -> pd.Series:
    """Values as text; missing ones as an empty string (pandas 3 ``astype(str)`` keeps NaN)."""
    obj = col.astype(object)
    return obj.where(obj.notna(), "").map(str)


def _raw_text(df: pd.DataFrame) -> pd.Series:
    """The offending readings as short text ``tag=..; ts=..; value=..; unit=..; quality=..``."""
    if df.empty:
        return pd.Series([], index=df.index, dtype="object")
    text = ("tag=" + _text(df["tag"]) + "; ts=" + _text(df["ts"]) + "; value="
            + df["value"].map(str) + "; unit=" + _text(df["unit"]) + "; quality="
            + _text(df["quality"]))
    return text.str.slice(0, MAX_RAW_CHARS)


def _rejects(df: pd.DataFrame, reason) -> pd.DataFrame:
    """Quarantine rows of ``df`` with ``reason`` (a str or a Series aligned with df).

    Besides the documented ``source, row, reason, raw`` the frame carries the reading's ``tag``
    and ``ts`` (additive columns: the quarantine and the per-tag counts use them).
    """
    return pd.DataFrame({"source": df["source"].astype(object), "row": df["row"].astype("int64"),
                         "reason": reason, "raw": _raw_text(df), "tag": df["tag"].astype(object),
                         "ts": df["ts"]}, index=df.index)


def _check_columns(raw: pd.DataFrame) -> pd.DataFrame:
    """Check the raw frame's columns and add the optional ones; raise DataError naming the field."""
    missing = [c for c in ("tag", "ts", "value") if c not in raw.columns]
    if missing:
        raise DataError(f"raw readings lack column(s) {missing}; expected {list(RAW_COLUMNS)}")
    df = raw.copy(deep=False)   # copy-on-write: the caller's frame is never changed
    for col, default in (("unit", None), ("quality", None), ("source", ""), ("row", -1)):
        if col not in df.columns:
            df[col] = default
    if not isinstance(df["ts"].dtype, pd.DatetimeTZDtype):
        raise DataError(f"column 'ts' must be tz-aware datetimes (UTC), got {df['ts'].dtype}")
    df["ts"] = df["ts"].dt.tz_convert("UTC").dt.as_unit("ns")
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype("float64")
    df["row"] = pd.to_numeric(df["row"], errors="coerce").fillna(-1).astype("int64")
    return df.reset_index(drop=True)


def _convert_units(df: pd.DataFrame, code: np.ndarray, tag_units: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values in the configured units; return (values, mask of unit errors, their reasons).

    ``code`` indexes ``tag_units`` (the configured unit per tag) for each row, -1 = unknown tag.
    """
    values = df["value"].to_numpy(dtype="float64", copy=True)
    bad = np.zeros(len(df), dtype=bool)
    reasons = np.full(len(df), "", dtype=object)
    given = np.flatnonzero(df["unit"].notna().to_numpy() & (code >= 0))
    if len(given) == 0:
        return values, bad, reasons
    unit = df["unit"].to_numpy(dtype=object)[given].astype(str)
    unit = np.char.strip(unit.astype("U"))
    pos = given[(unit != "") & (unit != tag_units[code[given]].astype("U"))]
    if len(pos) == 0:
        return values, bad, reasons
    pairs = pd.DataFrame({"code": code[pos],
                          "unit": np.char.strip(df["unit"].to_numpy(dtype=object)[pos]
                                                .astype(str).astype("U"))})
    for (c, src), rows in pairs.groupby(["code", "unit"], sort=False).indices.items():
        target, at = tag_units[c], pos[rows]
        try:
            values[at] = units.convert(values[at], src, target)
        except UnitError as exc:
            bad[at] = True
            reasons[at] = (f"unit {src!r} cannot be converted to the configured unit {target!r}: "
                           f"{exc.message}")
    return values, bad, reasons


def _fmt(values: pd.Series) -> pd.Series:
    """Numbers as short text (``%g``), also for an empty Series."""
    return values.map("{:g}".format).astype(object) if len(values) else values.astype(object)


def _quality_rank(quality: pd.Series) -> np.ndarray:
    """0 for a good quality flag, 1 for none, 2 for any other flag."""
    q = quality.astype(object)
    text = q.astype(str).str.strip().str.lower()
    rank = np.where(q.isna() | (text == "") | (text == "none"), 1, 2)
    return np.where(text.isin(GOOD_QUALITY), 0, rank).astype("int8")


def _resolve_duplicates(df: pd.DataFrame, code: np.ndarray
                        ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Drop exact duplicates and resolve conflicts.

    Returns (kept readings sorted by tag and ts, tags of dropped exact duplicates, conflict
    rejects). Rows are sorted once by (tag, ts); only rows sharing a (tag, ts) are ranked.
    """
    ts = df["ts"].array.asi8
    order = np.lexsort((ts, code))
    df, code, ts = df.iloc[order], code[order], ts[order]
    same_next = (code[1:] == code[:-1]) & (ts[1:] == ts[:-1])
    shared = (np.r_[same_next, False] | np.r_[False, same_next]) if len(df) else np.zeros(0, bool)
    if not shared.any():        # the usual case: nothing to resolve
        return df, df["tag"].iloc[:0], _rejects(df.iloc[:0], pd.Series([], dtype=object))
    keep = ~shared
    pos = np.flatnonzero(shared)
    multi = df.iloc[pos].assign(_pos=pos, _code=code[pos])
    multi["_q"] = _quality_rank(multi["quality"])
    multi = multi.sort_values(["_code", "ts", "_q", "source", "row"], kind="stable")
    exact = multi.duplicated(["_code", "ts", "value"], keep="first").to_numpy()
    rest = multi[~exact]
    conflict = rest.duplicated(["_code", "ts"], keep="first").to_numpy()
    winners, losers = rest[~conflict], rest[conflict]
    keep[winners["_pos"].to_numpy()] = True
    if len(losers):
        kept_value = winners.set_index(["_code", "ts"])["value"].reindex(
            pd.MultiIndex.from_frame(losers[["_code", "ts"]])).to_numpy()
        reason = ("conflicting duplicate: kept value "
                  + _fmt(pd.Series(kept_value, index=losers.index))
                  + " (rule: good quality first, then smallest source/row)")
    else:
        reason = pd.Series([], dtype=object)
    return df[keep], multi["tag"][exact], _rejects(losers, reason)


def clean_readings(raw: pd.DataFrame, facility: Facility) -> CleanResult:
    """Validate raw readings against a facility configuration; quarantine what cannot be used.

    Parameters
    ----------
    raw : pandas.DataFrame
        Columns ``tag, ts`` (datetime64[ns, UTC]), ``value`` [tag unit, float64], optional
        ``unit, quality, source, row`` (see docs/ARCHITECTURE.md "Raw readings").
    facility : thermaliq.config.Facility
        The configuration: tags, units and ranges.

    Returns
    -------
    CleanResult
        ``readings`` in configured units, ``rejects`` with reasons, ``counts`` per tag.

    Raises
    ------
    DataError
        When a required column is missing or ``ts`` is not tz-aware.

    Examples
    --------
    A reading in kg/h of a tag configured in t/h is converted: 2000 kg/h -> 2.0 t/h.
    """
    specs = facility.tag_specs()
    tag_units, lo_of, hi_of = tag_limits(specs)
    df = _check_columns(raw)
    code = pd.Index(list(specs), dtype=object).get_indexer(df["tag"]).astype("int64")

    known = code >= 0
    values, unit_bad, unit_reason = _convert_units(df, code, tag_units)
    finite = np.isfinite(values)
    lo, hi = lo_of[code], hi_of[code]          # code -1 (unconfigured) picks the NaN sentinel
    lo, hi = np.where(known, lo, -PHYSICAL_LIMIT), np.where(known, hi, PHYSICAL_LIMIT)
    in_range = (values >= lo) & (values <= hi)
    unconfigured = ~known
    code = _codes_with_unconfigured(df["tag"], code, len(specs))
    masks = {"unit_errors": known & unit_bad,
             "non_numeric": ~unit_bad & ~finite,
             "out_of_range": ~unit_bad & finite & ~in_range}
    rng_pos = masks["out_of_range"]
    reasons = {"unit_errors": pd.Series(unit_reason[masks["unit_errors"]],
                                        index=df.index[masks["unit_errors"]]),
               "non_numeric": "non-numeric or non-finite value",
               "out_of_range": pd.Series(
                   [_range_reason(a, b, u) for a, b, u in
                    zip(lo[rng_pos], hi[rng_pos], _units_of(df, code, tag_units)[rng_pos])],
                   index=df.index[rng_pos], dtype=object)}
    none = _rejects(df.iloc[:0], pd.Series([], dtype=object))
    rejects = {k: _rejects(df[m], reasons[k]) if m.any() else none for k, m in masks.items()}

    ok = ~unit_bad & finite & in_range
    counts = {"unknown_tag": df["tag"][unconfigured & ok].value_counts()}
    df = df[ok].assign(value=values[ok], unit=_units_of(df, code, tag_units)[ok])
    df, dup_tags, rejects["conflicts"] = _resolve_duplicates(df, code[ok])

    readings = df[list(RAW_COLUMNS)].reset_index(drop=True)
    counts.update({name: r["tag"].value_counts() for name, r in rejects.items()})
    counts["duplicates"] = dup_tags.value_counts()
    order = ("unit_errors", "non_numeric", "out_of_range", "conflicts")
    parts = [rejects[k] for k in order if len(rejects[k])]
    rej = (pd.concat(parts, ignore_index=True) if parts
           else _rejects(df.iloc[:0], pd.Series([], dtype=object)))
    return CleanResult(readings, rej[list(REJECT_COLUMNS)], _counts_frame(counts, specs))


def _codes_with_unconfigured(tags: pd.Series, code: np.ndarray, n_configured: int) -> np.ndarray:
    """``code`` with a code of its own (from ``n_configured`` on) for each unconfigured tag, so
    that duplicates are resolved per tag."""
    unknown = code < 0
    if not unknown.any():
        return code
    extra, _ = pd.factorize(tags[unknown].astype(str), sort=True)
    code = code.copy()
    code[unknown] = n_configured + extra
    return code


def _units_of(df: pd.DataFrame, code: np.ndarray, tag_units: np.ndarray) -> np.ndarray:
    """The unit of every row: the configured one, or for an unconfigured tag the file's (None)."""
    n = len(tag_units)
    file_units = df["unit"].to_numpy(dtype=object) if "unit" in df else np.full(len(df), None)
    configured = tag_units[np.clip(code, 0, max(n - 1, 0))] if n else np.full(len(df), None)
    return np.where(code < n, configured, file_units).astype(object)


def tag_limits(specs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Configured unit, lowest and highest accepted value of each tag, in the order of ``specs``.

    The limit arrays have one more entry, NaN, so that the code -1 of an unknown tag picks a
    limit no value satisfies. A tag without a ``range`` gets +-:data:`PHYSICAL_LIMIT` [tag unit].
    """
    tag_units = np.array([s.unit for s in specs.values()], dtype=object)
    lo_of = np.array([s.range[0] if s.range else -PHYSICAL_LIMIT for s in specs.values()] + [np.nan])
    hi_of = np.array([s.range[1] if s.range else PHYSICAL_LIMIT for s in specs.values()] + [np.nan])
    return tag_units, lo_of, hi_of


def _range_reason(lo: float, hi: float, unit: str) -> str:
    if lo == -PHYSICAL_LIMIT and hi == PHYSICAL_LIMIT:
        return (f"implausible magnitude: |value| > {PHYSICAL_LIMIT:g} {unit} (no range configured; "
                "set the tag's range)")
    return f"out of range [{lo:g}, {hi:g}] {unit}"


def implausible_times(raw: pd.DataFrame, now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off readings stamped before :data:`EARLIEST_TS` or after ``now`` + :data:`FUTURE_SLACK`.

    Such times are clock faults (a 1970 epoch from an unset clock, a year-2099 typo); they would
    create day partitions and calculation periods nobody asked for. Returns (kept, rejects with
    reason ``timestamp out of plausible range``).
    """
    ts = raw["ts"]
    latest = pd.Timestamp(now).tz_convert("UTC") + FUTURE_SLACK
    bad = ((ts < EARLIEST_TS) | (ts > latest)).to_numpy()
    if not bad.any():
        return raw, _rejects(raw.iloc[:0], pd.Series([], dtype=object))[list(REJECT_COLUMNS)]
    df = _check_columns(raw[bad])
    reason = (f"timestamp out of plausible range ({EARLIEST_TS:%Y-%m-%d} .. ingest time + "
              f"{FUTURE_SLACK.days} day, {latest:%Y-%m-%dT%H:%MZ})")
    return raw[~bad].reset_index(drop=True), _rejects(df, reason)[list(REJECT_COLUMNS)]


def _counts_frame(counts: dict[str, pd.Series], specs) -> pd.DataFrame:
    """Assemble the per-tag counts: configured tags first, then unconfigured tags seen."""
    tags = list(specs)
    tags += sorted(set(counts["unknown_tag"].index.astype(str)) - set(tags))
    frame = pd.DataFrame({c: counts[c].reindex(tags) for c in COUNT_COLUMNS}, index=tags)
    frame = frame.fillna(0).astype("int64")
    frame.index.name = "tag"
    return frame


def facility_score(valid: pd.Series) -> float:
    """Data-quality score of a period: valid intervals / intervals (DESIGN §7).

    Parameters
    ----------
    valid : pandas.Series of bool
        One entry per interval of the period (``Aligned.valid``).

    Returns
    -------
    float
        Share of valid intervals [0..1]; NaN for an empty period.

    Examples
    --------
    >>> facility_score(pd.Series([True] * 84 + [False] * 12))
    0.875
    """
    if len(valid) == 0:
        return float("nan")
    return float(np.asarray(valid, dtype=bool).mean())
