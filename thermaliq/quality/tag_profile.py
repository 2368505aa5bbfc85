"""Per-window tag profile: one row per tag with the exact counts the data-quality checks need.

Great Expectations validates this profile instead of every reading (``tasks/gx/validate.py``):
a window's readings are reduced here in numpy, in time proportional to their number, to one row
per configured tag (plus one per unconfigured tag found, plus one for readings without a tag),
and the expectations compare the profile's columns with each other and with fixed thresholds.
Every count is exact, so a failed expectation still says how many *readings* offend on which tag.
No Great Expectations import here (``import thermaliq`` never loads it).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq import periods
from thermaliq.config import Facility

COLUMNS = ("tag", "configured", "unit", "n_readings", "n_null_values", "n_duplicate_ts",
           "min_value", "max_value", "n_steps", "n_negative_steps", "negative_step_fraction",
           "n_spacings", "n_long_spacings", "long_spacing_fraction",
           "physical_min", "physical_max", "range_min", "range_max",
           "n_below_physical", "n_above_physical", "n_below_range", "n_above_range")


def tag_profile(readings: pd.DataFrame, facility: Facility,
                physical_limits: Mapping[str, tuple[float | None, float | None]] | None = None,
                ) -> pd.DataFrame:
    """Profile a window's readings per tag.

    Parameters
    ----------
    readings : pandas.DataFrame
        ``tag, ts`` (UTC) and ``value`` [configured unit of the tag]; row order means nothing.
    facility : thermaliq.config.Facility
        Its configured tags (units, ranges, counters) and ``thresholds.offline_after``.
    physical_limits : mapping, optional
        ``{tag: (low, high)}`` physically possible values [tag unit]; ``None`` for an open bound.

    Returns
    -------
    pandas.DataFrame
        Columns ``COLUMNS``, one row per configured tag (in configuration order, also when it has
        no readings), then one per unconfigured tag found (sorted), then one row with a missing
        ``tag`` when readings have no tag. ``n_null_values`` counts readings with a missing tag,
        timestamp or value or a non-numeric value; ``n_duplicate_ts`` counts every reading that
        shares its timestamp with another reading of its tag. Steps are the differences between
        consecutive readings of a counter tag in time order (NaN fraction for rate tags and for
        counters with no step); spacings are the times between consecutive readings of a tag,
        long when longer than ``offline_after``. Limits are NaN where there is none; readings
        below/above a limit are counted exactly.

    Examples
    --------
    Three readings of FT-101 above its configured range ``[0, 2500]`` give ``n_above_range``
    = 3 on FT-101's row.
    """
    missing = [c for c in ("tag", "ts", "value") if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack column(s) {missing}")
    specs = facility.tag_specs()
    starts, run_codes, found = _tag_runs(readings["tag"])
    names = list(specs) + sorted(set(found) - set(specs))
    # codes into ``names``; readings without a tag get the extra last code
    position = {t: i for i, t in enumerate(names)}
    remap = np.array([position[t] for t in found], dtype=np.int64)
    n_groups = len(names) + 1
    run_code = np.where(run_codes < 0, len(names), remap[run_codes] if len(remap) else run_codes)
    lengths = np.diff(np.r_[starts, len(readings)])
    code = np.repeat(run_code, lengths)
    ts = periods.utc_instants_ns(readings["ts"])
    values = readings["value"]
    values = values.to_numpy() if values.dtype == np.float64 else \
        pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if not _sorted(code, ts):                              # e.g. day partitions one after another
        order, code, ts = _tag_time_order(run_code, starts, lengths, code, ts)
        values = values[order]
    ts_null = ts == np.iinfo(np.int64).min

    def count(mask=None) -> np.ndarray:
        return np.bincount(code if mask is None else code[mask], minlength=n_groups)

    same = np.r_[False, code[1:] == code[:-1]]             # previous reading is of the same tag
    dup = same & ~ts_null & np.r_[False, ts[1:] == ts[:-1]]
    dup_any = dup | np.r_[dup[1:], False]                  # both readings of a repeated (tag, ts)
    spaced = same & ~ts_null & np.r_[False, ~ts_null[:-1]]
    spacing_ns = np.diff(ts, prepend=ts[:1])
    offline_ns = pd.Timedelta(facility.thresholds.offline_after).value
    counters = np.array([specs[t].kind == "counter" if t in specs else False for t in names]
                        + [False])
    step = np.where(same & counters[code], np.diff(values, prepend=np.nan), np.nan)
    stepped = ~np.isnan(step)

    n_readings = count()
    n_steps, n_spacings = count(stepped), count(spaced)
    n_negative, n_long = count(stepped & (step < 0)), count(spaced & (spacing_ns > offline_ns))
    low_minmax = _group_min_max(code, values, n_groups)

    limits = physical_limits or {}
    phys = np.array([_pair(limits.get(t)) for t in names] + [(np.nan, np.nan)], dtype="float64")
    rng = np.array([_pair(specs[t].range if t in specs else None) for t in names]
                   + [(np.nan, np.nan)], dtype="float64")
    with np.errstate(invalid="ignore"):
        out = pd.DataFrame({
            "tag": pd.Series(names + [None], dtype=object),
            "configured": [t in specs for t in names] + [False],
            "unit": pd.Series([specs[t].unit if t in specs else None for t in names] + [None],
                              dtype=object),
            "n_readings": n_readings,
            "n_null_values": count(np.isnan(values) | ts_null | (code == len(names))),
            "n_duplicate_ts": count(dup_any),
            "min_value": low_minmax[0], "max_value": low_minmax[1],
            "n_steps": n_steps, "n_negative_steps": n_negative,
            "negative_step_fraction": np.where(n_steps > 0, n_negative / np.maximum(n_steps, 1),
                                               np.nan),
            "n_spacings": n_spacings, "n_long_spacings": n_long,
            "long_spacing_fraction": np.where(n_spacings > 0,
                                              n_long / np.maximum(n_spacings, 1), np.nan),
            "physical_min": phys[:, 0], "physical_max": phys[:, 1],
            "range_min": rng[:, 0], "range_max": rng[:, 1],
            "n_below_physical": count(values < phys[code, 0]),
            "n_above_physical": count(values > phys[code, 1]),
            "n_below_range": count(values < rng[code, 0]),
            "n_above_range": count(values > rng[code, 1]),
        }, columns=list(COLUMNS))
    keep = np.ones(n_groups, dtype=bool)
    keep[-1] = n_readings[-1] > 0                          # the no-tag row only when needed
    return out[keep].reset_index(drop=True)


def _tag_runs(tags: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """The runs of equal tags in reading order: their first positions, a code per run into the
    sorted distinct tags (-1 for a missing tag; what ``pandas.factorize(tags, sort=True)`` gives
    each reading of the run), and those tags.

    A window's readings come in runs (a day partition holds each tag's readings together), so for
    text held by Arrow only the runs' first tags are factorized (encoding all of a 31-day
    window's 900 000 tags took ~30 ms); anything else is a run per reading."""
    if not (isinstance(tags.dtype, pd.StringDtype) and tags.dtype.storage == "pyarrow") or len(tags) < 2:
        codes, found = pd.factorize(tags, sort=True, use_na_sentinel=True)
        return np.arange(len(tags)), codes, list(found)
    held = tags.array.__arrow_array__()
    text = held.combine_chunks() if isinstance(held, pa.ChunkedArray) else held
    n = len(text)
    differs = pc.fill_null(pc.not_equal(text.slice(1), text.slice(0, n - 1)), True)  # a missing tag: a run of its own
    starts = np.flatnonzero(np.r_[True, differs.to_numpy(zero_copy_only=False)])
    codes, found = pd.factorize(text.take(pa.array(starts)).to_numpy(zero_copy_only=False),
                                sort=True, use_na_sentinel=True)
    return starts, codes, list(found)


def _tag_time_order(run_code: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                    code: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (tag, time) order of readings, ``numpy.lexsort((ts, code))``, and ``code`` and ``ts``
    in that order. When each tag's runs are in time order one after another (day partitions read
    in day order), the runs put in tag order (stable) give that order without sorting the
    readings; otherwise the two-key sort."""
    by_tag = np.argsort(run_code, kind="stable")
    lengths = lengths[by_tag]
    # each reading's position: its run's first position plus its place within the run
    order = np.arange(len(code)) + np.repeat(starts[by_tag] - (np.cumsum(lengths) - lengths), lengths)
    in_order = np.repeat(run_code[by_tag], lengths), ts[order]
    if _sorted(*in_order):
        return (order, *in_order)
    order = np.lexsort((ts, code))
    return order, code[order], ts[order]


def _sorted(code: np.ndarray, ts: np.ndarray) -> bool:
    """Whether readings are already in (tag, time) order."""
    step = np.diff(code)
    return bool((step >= 0).all() and ((step > 0) | (np.diff(ts) >= 0)).all())


def _pair(bounds) -> tuple[float, float]:
    if bounds is None:
        return (np.nan, np.nan)
    return tuple(np.nan if b is None else float(b) for b in bounds)


def _group_min_max(code: np.ndarray, values: np.ndarray, n_groups: int):
    """Smallest and largest non-NaN value per group of ``code`` (sorted) [value unit]."""
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    if len(code):
        starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
        groups = code[starts]
        with np.errstate(invalid="ignore"):
            low[groups] = np.fmin.reduceat(values, starts)
            high[groups] = np.fmax.reduceat(values, starts)
    return low, high
