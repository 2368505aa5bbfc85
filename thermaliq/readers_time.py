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
    zone = ZoneInfo(tz)
    wall = wall.astype("datetime64[ns]")
    local = pd.DatetimeIndex(wall).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    out = pd.Series(local.tz_convert("UTC"), index=wall.index)
    unresolved = out.isna().to_numpy() & wall.notna().to_numpy()
    if not unresolved.any():
        return out, []
    sub = pd.DataFrame({"wall": wall[unresolved], "tag": tag[unresolved], "row": row[unresolved]})
    kinds = {w: _exists(w, zone) for w in sub["wall"].unique()}
    is_amb = sub["wall"].map(kinds).astype(bool)
    notes = []
    gap = sub[~is_amb]
    if len(gap):
        inst = {w: _instant(w, zone, 0) for w in gap["wall"].unique()}
        out.loc[gap.index] = gap["wall"].map(inst).astype("datetime64[ns, UTC]")
        notes.append(
            f"{len(gap)} reading(s) of {gap['tag'].nunique()} tag(s) at nonexistent local times "
            f"(spring-forward gap in {tz}, e.g. {min(gap['wall'])}) were read with the UTC offset "
            "in force before the change (02:30 standard time = 03:30 daylight time)")
    amb = sub[is_amb].sort_values(["tag", "row"], kind="stable")
    if len(amb):
        nth = amb.groupby(["tag", "wall"], sort=False).cumcount()
        per = amb.groupby(["tag", "wall"], sort=False)["row"].transform("size")
        fold = (nth > 0).astype(int)
        table = {(w, f): _instant(w, zone, f) for w in amb["wall"].unique() for f in (0, 1)}
        keys = list(zip(amb["wall"], fold))
        out.loc[amb.index] = pd.Series([table[k] for k in keys], index=amb.index,
                                       dtype="datetime64[ns, UTC]")
        single = int((per == 1).sum())
        extra = int((nth > 1).sum())
        note = (f"{len(amb)} reading(s) of {amb['tag'].nunique()} tag(s) at ambiguous local times "
                f"(fall-back hour in {tz}, e.g. {min(amb['wall'])}): per tag and wall time the "
                f"first occurrence in row order was taken as daylight time "
                f"({int((fold == 0).sum())}) and later ones as standard time "
                f"({int((fold == 1).sum())})")
        if single:
            note += f"; {single} occurred only once and were taken as daylight time"
        if extra:
            note += f"; {extra} occurred more than twice (left as duplicates of standard time)"
        notes.append(note)
    return out, notes


__all__ = ["localize_wall"]
