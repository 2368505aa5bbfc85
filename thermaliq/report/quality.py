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

from thermaliq.report.data import NAT_NS

COUNTS = ("expected_points", "valid_points", "interpolated_points", "rejected_points")
_NO_ISSUES: frozenset = frozenset()


def local_text(times: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> list[str | None]:
    """UTC instants as local text in ``tz`` (NaT as None).

    Pages of one facility show mostly the same days, so each instant is formatted once per process.
    """
    if not len(times):
        return []
    return local_text_ns(pd.to_datetime(times, utc=True).to_numpy(dtype="datetime64[ns]").view("int64"), tz, fmt)


def local_text_ns(ns: np.ndarray, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> list[str | None]:
    """UTC instants given as int64 nanoseconds as local text in ``tz`` (:data:`~thermaliq.report.data.NAT_NS` as None)."""
    return [None if v == NAT_NS else _label(v, tz, fmt) for v in ns.tolist()]


def local_label(ts: pd.Timestamp, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """One instant as local text in ``tz`` (formatted once per process)."""
    return _label(pd.Timestamp(ts).value, tz, fmt)


@functools.lru_cache(maxsize=1 << 16)
def _label(ns: int, tz: str, fmt: str) -> str:
    return pd.Timestamp(ns, tz="UTC").tz_convert(tz).strftime(fmt)


def totals_by_key(keys: Sequence[Sequence], dq: pd.DataFrame) -> dict[tuple, list]:
    """Per key tuple: ``[expected, valid, interpolated, rejected, {issue texts}]`` (sorted keys).

    ``keys`` are parallel lists (one per key column) of the rows of ``dq``; rows with a missing key
    are left out and a missing count adds nothing, as in ``groupby().sum()``. The issue texts are
    a set (not to be changed: groups without issues share one empty set).
    """
    return RepairCounts(keys, dq).totals() if len(dq) else {}


class RepairCounts:
    """The ``data_quality`` counts of some rows, keyed, ready to be summed over any subset of them.

    Pages of a facility sum different windows of the same rows: the keys are factorized (sorted)
    and the counts converted once, and :meth:`totals` sums a subset in a few numpy calls.
    ``keys`` are parallel lists (one per key column) of the rows of ``dq``.
    """

    def __init__(self, keys: Sequence[Sequence], dq: pd.DataFrame):
        codes, self.uniques = [], []
        for k in keys:
            c, u = pd.factorize(np.asarray(k, dtype=object), sort=True)
            codes.append(c)
            self.uniques.append(list(u))
        self.sizes = [len(u) for u in self.uniques]
        combined = codes[0].astype("int64")
        for c, n in zip(codes[1:], self.sizes[1:]):
            combined = combined * n + c
        #: one code per row, ordered as the sorted key tuples; -1 where a key is missing
        self.codes = np.where(np.logical_and.reduce([c >= 0 for c in codes]), combined, -1)
        self.counts = [np.nan_to_num(_floats(dq[c])) for c in COUNTS]
        text = dq["issues"].to_numpy(dtype=object)
        self.issues = text
        self.has_issue = np.asarray(pd.notna(text) & (text != ""), dtype=bool)
        present = np.unique(self.codes[self.codes >= 0])
        parts = np.unravel_index(present, self.sizes) if len(present) else [present for _ in self.sizes]
        #: the key tuple of each combined code that occurs
        self.keys = dict(zip(present.tolist(), zip(*([u[j] for j in p.tolist()]
                                                     for u, p in zip(self.uniques, parts)))))
        #: rows per group as an array of :attr:`sizes` (two keys; made by :meth:`block`)
        self._group_rows: np.ndarray | None = None

    def block(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """For two keys: the codes (indices into :attr:`uniques`, ascending) of the first and of
        the second keys of ``rows`` (distinct row numbers), when ``rows`` are every row of every
        group of those first keys × those second keys; else (or without a keyed row) None.

        Then each group's totals over ``rows`` are its totals over all rows (the same rows,
        summed in the same order), which a caller can compute once for every page.
        """
        if len(self.sizes) != 2:
            raise ValueError(f"block needs two keys, not {len(self.sizes)}")
        codes = self.codes[np.asarray(rows, dtype="int64")]
        codes = codes[codes >= 0]
        if not len(codes):
            return None
        if self._group_rows is None:
            every = self.codes[self.codes >= 0]
            self._group_rows = np.bincount(every, minlength=self.sizes[0] * self.sizes[1]).reshape(self.sizes)
        # the distinct codes of each key, ascending (as np.unique; a count per code is cheaper)
        first, second = (np.flatnonzero(np.bincount(k, minlength=n))
                         for k, n in zip(np.divmod(codes, self.sizes[1]), self.sizes))
        if int(self._group_rows[np.ix_(first, second)].sum()) != len(codes):
            return None
        return first, second

    def totals(self, rows: np.ndarray | None = None) -> dict[tuple, list]:
        """Per key tuple of ``rows`` (all rows when None): ``[expected, valid, interpolated,
        rejected, {issue texts}]`` [points], in sorted key order (see :func:`totals_by_key`)."""
        every = np.arange(len(self.codes)) if rows is None else np.asarray(rows, dtype="int64")
        keep = every[self.codes[every] >= 0]
        groups, inverse = np.unique(self.codes[keep], return_inverse=True)
        if not len(groups):
            return {}
        inverse = inverse.ravel()
        sums = [np.bincount(inverse, weights=c[keep], minlength=len(groups)).tolist() for c in self.counts]
        issues: list[set] = [_NO_ISSUES] * len(groups)  # a set of its own once a group has one
        for row in np.flatnonzero(self.has_issue[keep]).tolist():
            group = inverse[row]
            if issues[group] is _NO_ISSUES:
                issues[group] = set()
            issues[group].add(str(self.issues[keep[row]]))
        keys = self.keys
        return {keys[g]: [e, v, i, r, x] for g, e, v, i, r, x in zip(groups.tolist(), *sums, issues)}


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
