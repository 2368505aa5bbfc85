"""Wall-clock timestamps to UTC instants, with the DST rule of thermaliq.

Naive timestamps in readings files are wall-clock times in the facility's time zone
(DESIGN §4). Twice a year some of them do not name exactly one instant:

* **nonexistent** (spring forward, e.g. 02:30 on 2024-03-10 in America/Chicago): the time is
  read with the UTC offset in force *before* the change, which is what Python's
  ``zoneinfo`` does for ``fold=0`` (PEP 495). 02:30 CST is 08:30 UTC, the same instant as
  03:30 CDT. A logger that did not switch to daylight time is thereby read correctly; if the
  file also holds a 03:30 reading of the same tag, the two are duplicates for
  ``quality.clean_readings`` to resolve.
* **ambiguous** (fall back, 01:00-01:59 on 2024-11-03 in America/Chicago occurs twice): for
  each tag and wall-clock time, the occurrences are taken in file-row order; the first is the
  earlier instant (daylight time, ``fold=0``) and every later one the later instant (standard
  time, ``fold=1``). For a chronologically written file this equals pandas'
  ``tz_localize(ambiguous='infer')``; a wall time that occurs once is taken as the earlier
  instant. Row order otherwise means nothing, so only the *pairing* of values depends on it:
  a regular series that covers both passes through the repeated hour always maps to distinct
  instants, whatever the order of its rows.

Both repairs are counted and described in the notes of the ``ReadResult``; no reading is
dropped.
"""
from __future__ import annotations

from datetime import timezone
from zoneinfo import ZoneInfo

import pandas as pd


def _instant(wall: pd.Timestamp, zone: ZoneInfo, fold: int) -> pd.Timestamp:
    """UTC instant of one wall-clock time with the given PEP 495 fold."""
    dt = wall.to_pydatetime().replace(tzinfo=zone, fold=fold)
    return pd.Timestamp(dt.astimezone(timezone.utc)) + pd.Timedelta(nanoseconds=wall.nanosecond)


def _exists(wall: pd.Timestamp, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time occurs in ``zone`` (False inside a spring-forward gap)."""
    dt = wall.to_pydatetime().replace(tzinfo=zone)
    back = dt.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    return back == dt.replace(tzinfo=None)


def localize_wall(wall: pd.Series, tag: pd.Series, row: pd.Series, tz: str,
                  ) -> tuple[pd.Series, list[str]]:
    """Turn naive wall-clock times into UTC instants (see the module docstring for the rule).

    Parameters
    ----------
    wall : pandas.Series
        Naive ``datetime64`` wall-clock times [local time of ``tz``].
    tag : pandas.Series
        Tag of each reading (same index); the ambiguous-hour rule works per tag.
    row : pandas.Series
        File row of each reading (same index); gives the order of repeated wall times.
    tz : str
        IANA time zone name, e.g. ``America/Chicago``.

    Returns
    -------
    instants : pandas.Series
        ``datetime64[ns, UTC]`` instants, same index as ``wall`` [UTC].
    notes : list of str
        One sentence per kind of repair made, with counts; empty when none was needed.

    Examples
    --------
    >>> w = pd.Series(pd.to_datetime(["2024-11-03 01:30", "2024-11-03 01:30"]))
    >>> s, notes = localize_wall(w, pd.Series(["T", "T"]), pd.Series([1, 2]), "America/Chicago")
    >>> [str(x) for x in s]
    ['2024-11-03 06:30:00+00:00', '2024-11-03 07:30:00+00:00']
    """
    clock = WallClock(tz)
    out = clock.localize(wall, tag, row)
    return out, clock.notes()


class WallClock:
    """The DST rule of :func:`localize_wall` applied to a file read in consecutive chunks.

    The state carried from chunk to chunk is what the rule needs: how often each (tag, ambiguous
    wall time) was seen so far (so the first occurrence *in the file* is daylight time even when
    the repeat falls in a later chunk), and the counts behind the notes. Chunks must come in row
    order (every row of a chunk after every row of the chunks before it).

    Parameters
    ----------
    tz : str
        IANA time zone name of the wall-clock times, e.g. ``America/Chicago``.
    """

    def __init__(self, tz: str):
        self.tz, self.zone = tz, ZoneInfo(tz)
        self._gap_n, self._gap_tags, self._gap_min = 0, set(), None
        self._seen: dict[tuple[str, pd.Timestamp], int] = {}   # (tag, ambiguous wall) -> count
        self._amb_n, self._amb_tags, self._amb_min, self._fold0 = 0, set(), None, 0

    def localize(self, wall: pd.Series, tag: pd.Series, row: pd.Series) -> pd.Series:
        """UTC instants of one chunk's wall-clock times (same index as ``wall``) [UTC]."""
        wall = wall.astype("datetime64[ns]")
        local = pd.DatetimeIndex(wall).tz_localize(self.tz, ambiguous="NaT", nonexistent="NaT")
        out = pd.Series(local.tz_convert("UTC"), index=wall.index)
        unresolved = out.isna().to_numpy() & wall.notna().to_numpy()
        if not unresolved.any():
            return out
        sub = pd.DataFrame({"wall": wall[unresolved], "tag": tag[unresolved], "row": row[unresolved]})
        kinds = {w: _exists(w, self.zone) for w in sub["wall"].unique()}
        is_amb = sub["wall"].map(kinds).astype(bool)
        gap = sub[~is_amb]
        if len(gap):
            inst = {w: _instant(w, self.zone, 0) for w in gap["wall"].unique()}
            out.loc[gap.index] = gap["wall"].map(inst).astype("datetime64[ns, UTC]")
            self._gap_n += len(gap)
            self._gap_tags.update(gap["tag"])
            self._gap_min = _earliest(self._gap_min, min(gap["wall"]))
        amb = sub[is_amb].sort_values(["tag", "row"], kind="stable")
        if len(amb):
            out.loc[amb.index] = self._ambiguous(amb)
        return out

    def _ambiguous(self, amb: pd.DataFrame) -> pd.Series:
        """Instants of ambiguous wall times (sorted by tag and row), counting earlier chunks."""
        nth = amb.groupby(["tag", "wall"], sort=False).cumcount().to_numpy()
        keys = list(zip(amb["tag"], amb["wall"]))
        nth = nth + [self._seen.get(k, 0) for k in keys]
        for k in keys:
            self._seen[k] = self._seen.get(k, 0) + 1
        fold = (nth > 0).astype(int)
        table = {(w, f): _instant(w, self.zone, f) for w in amb["wall"].unique() for f in (0, 1)}
        self._amb_n += len(amb)
        self._amb_tags.update(amb["tag"])
        self._amb_min = _earliest(self._amb_min, min(amb["wall"]))
        self._fold0 += int((fold == 0).sum())
        return pd.Series([table[(w, f)] for w, f in zip(amb["wall"], fold)], index=amb.index,
                         dtype="datetime64[ns, UTC]")

    def notes(self) -> list[str]:
        """One sentence per kind of repair made so far, with counts; empty when none was needed."""
        notes = []
        if self._gap_n:
            notes.append(
                f"{self._gap_n} reading(s) of {len(self._gap_tags)} tag(s) at nonexistent local "
                f"times (spring-forward gap in {self.tz}, e.g. {self._gap_min}) were read with the "
                "UTC offset in force before the change (02:30 standard time = 03:30 daylight time)")
        if self._amb_n:
            single = sum(1 for c in self._seen.values() if c == 1)
            extra = sum(c - 2 for c in self._seen.values() if c > 2)
            note = (f"{self._amb_n} reading(s) of {len(self._amb_tags)} tag(s) at ambiguous local "
                    f"times (fall-back hour in {self.tz}, e.g. {self._amb_min}): per tag and wall "
                    "time the first occurrence in row order was taken as daylight time "
                    f"({self._fold0}) and later ones as standard time ({self._amb_n - self._fold0})")
            if single:
                note += f"; {single} occurred only once and were taken as daylight time"
            if extra:
                note += f"; {extra} occurred more than twice (left as duplicates of standard time)"
            notes.append(note)
        return notes


def _earliest(a: pd.Timestamp | None, b: pd.Timestamp) -> pd.Timestamp:
    return b if a is None or b < a else a


__all__ = ["WallClock", "localize_wall"]
