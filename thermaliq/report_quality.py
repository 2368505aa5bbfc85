"""Data-quality sums of the reports: repair counts per tag (and local day), local-time labels.

Every report page sums a few hundred ``data_quality`` rows (tags × days of its window) twice: per
tag for the table and per tag and local day for the heatmap. pandas' ``groupby`` with a text
aggregation costs ~40 ms per page for that; one pass over the rows as Python lists costs well under
a millisecond for the same sums, so these functions work on lists and numpy arrays.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

COUNTS = ("expected_points", "valid_points", "interpolated_points", "rejected_points")


def local_text(times: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> list[str | None]:
    """UTC instants as local text in ``tz`` (NaT as None).

    Pages of one facility show mostly the same days, so each instant is formatted once per process.
    """
    if not len(times):
        return []
    ns = pd.to_datetime(times, utc=True).to_numpy(dtype="datetime64[ns]").view("int64")
    distinct, inverse = np.unique(ns, return_inverse=True)
    labels = [None if v == _NAT else _label(int(v), tz, fmt) for v in distinct.tolist()]
    return [labels[i] for i in inverse.ravel().tolist()]


_NAT = np.iinfo("int64").min


def local_label(ts: pd.Timestamp, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """One instant as local text in ``tz`` (formatted once per process)."""
    return _label(pd.Timestamp(ts).value, tz, fmt)


@functools.lru_cache(maxsize=1 << 16)
def _label(ns: int, tz: str, fmt: str) -> str:
    return pd.Timestamp(ns, tz="UTC").tz_convert(tz).strftime(fmt)


def totals_by_key(keys: Sequence[Sequence], dq: pd.DataFrame) -> dict[tuple, list]:
    """Per key tuple: ``[expected, valid, interpolated, rejected, {issue texts}]`` (sorted keys).

    ``keys`` are parallel lists (one per key column) of the rows of ``dq``; rows with a missing key
    are left out and a missing count adds nothing, as in ``groupby().sum()``.
    """
    if not len(dq):
        return {}
    codes, uniques = [], []
    for k in keys:
        c, u = pd.factorize(np.asarray(k, dtype=object), sort=True)
        codes.append(c)
        uniques.append(list(u))
    ok = np.logical_and.reduce([c >= 0 for c in codes])
    combined = codes[0].astype("int64")
    for c, u in zip(codes[1:], uniques[1:]):
        combined = combined * len(u) + c
    groups, inverse = np.unique(combined[ok], return_inverse=True)
    inverse = inverse.ravel()
    sums = [np.bincount(inverse, weights=np.nan_to_num(_floats(dq[c])[ok]), minlength=len(groups)).tolist()
            for c in COUNTS]
    issues: list[set] = [set() for _ in groups]
    text = dq["issues"].to_numpy(dtype=object)[ok]
    for row in np.flatnonzero(pd.notna(text) & (text != "")).tolist():
        issues[inverse[row]].add(str(text[row]))
    parts = np.unravel_index(groups, [len(u) for u in uniques])
    keys_out = zip(*([u[j] for j in p.tolist()] for u, p in zip(uniques, parts)))
    return {key: [e, v, i, r, x] for key, e, v, i, r, x in zip(keys_out, *sums, issues)}


def _floats(counts: pd.Series) -> np.ndarray:
    """A count column as float64, NaN where missing."""
    if counts.dtype.kind in "iuf":
        return counts.to_numpy().astype("float64", copy=False)
    return counts.to_numpy(dtype="float64", na_value=np.nan)


def completeness(expected: float, valid: float) -> float:
    """valid / expected points, clipped to 0..1; NaN without expected points [0..1]."""
    return min(max(valid / expected, 0.0), 1.0) if expected > 0 else math.nan


def repair_totals(dq: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sum of ``data_quality`` counts per ``by`` keys, with the distinct issues joined by ``; ``.

    Returns a frame indexed by ``by`` (sorted) with the four counts [points] (integers), ``issues``
    and ``completeness`` (valid / expected, clipped to 0..1, NaN without expected points).
    """
    sums = totals_by_key([dq[k].tolist() for k in by], dq)
    index = (pd.MultiIndex.from_tuples(list(sums), names=by) if len(by) > 1
             else pd.Index([k[0] for k in sums], name=by[0]))
    acc = list(sums.values())
    out = pd.DataFrame({c: np.array([a[j] for a in acc], dtype="float64").astype("int64")
                        for j, c in enumerate(COUNTS)}, index=index)
    out["issues"] = ["; ".join(sorted(a[4])) for a in acc]
    out["completeness"] = [completeness(a[0], a[1]) for a in acc]
    return out
