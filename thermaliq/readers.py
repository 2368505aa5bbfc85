"""Read plant readings files (DESIGN §4) into the raw-readings shape of docs/ARCHITECTURE.md.

``read_readings_file`` parses CSV (``.csv``, ``.csv.gz``, ``.txt``) and Parquet (``.parquet``,
``.pq``) files in long (``timestamp, tag, value`` + optional ``unit``, ``quality``) or wide
(``timestamp`` + one column per tag) format. Files are streamed in record batches through
pyarrow and every batch is parsed and checked by DuckDB (``TRY_CAST``), so memory is bounded by
the size of the result, not by intermediate Python objects, and bad rows become rejects with
their raw text instead of exceptions.

Rules (the README's readings section should repeat them for users):

* The delimiter is sniffed from the header line among ``,`` ``;`` tab ``|``; a UTF-8 BOM is
  ignored; column names ``timestamp``/``tag``/``value``/``unit``/``quality`` are matched
  case-insensitively. Tag names (long-format cells, wide-format headers) are kept verbatim.
* ``row`` is the 1-based record number in the file (header = row 0); a quoted value spanning
  several lines is one record.
* A whole-file problem raises ``DataError`` naming the file: unsupported suffix, unreadable or
  empty file, no ``timestamp`` column (often a wrong delimiter), a long file without ``tag`` or
  ``value``. A file with a header and no data rows is *not* an error: it gives an empty result
  and a note.
* Row problems become rejects, with reasons ``missing timestamp``, ``unparseable timestamp``,
  ``timestamp out of range``, ``missing tag``, ``missing value``, ``non-numeric value``,
  ``non-finite value`` (inf, NaN; ``1e308`` is finite and kept), ``wrong number of fields``.
  In wide files an empty cell is simply no reading; a bad timestamp rejects the row once.
* Text is UTF-8; a CSV file whose first MiB is not valid UTF-8 is read as Windows-1252 (with a
  note); bytes that fit neither raise ``DataError``. Repeated ``timestamp`` (or, in long files,
  ``tag``/``value``/``unit``/``quality``) columns raise ``DataError``.
* ``source`` is stored on every row (pandas ``str``), which costs its length in bytes per row.
* Timestamps with an offset or ``Z`` are instants; naive ones are wall-clock times in ``tz``
  resolved by :func:`thermaliq.readers_time.localize_wall` (DST rule there). Precision is 1 µs.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.errors import DataError
from thermaliq.readers_io import RESERVED_COLUMNS, RecordBatches
from thermaliq.readers_time import localize_wall

READING_COLUMNS = ["tag", "ts", "value", "unit", "quality", "source", "row"]
REJECT_COLUMNS = ["source", "row", "reason", "raw"]
RAW_MAX_CHARS = 500
_ROW = "__thermaliq_row"
# An ISO 8601 time of day followed by Z or a numeric offset (date-only strings are naive).
_OFFSET_RE = r"[T ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$"


@dataclass
class ReadResult:
    """Readings, rejects and notes of one read (shapes in docs/ARCHITECTURE.md)."""

    readings: pd.DataFrame
    rejects: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def empty_readings() -> pd.DataFrame:
    """An empty raw-readings frame with the documented dtypes."""
    return pd.DataFrame({"tag": pd.Series([], dtype="str"),
                         "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                         "value": pd.Series([], dtype="float64"),
                         "unit": pd.Series([], dtype="str"),
                         "quality": pd.Series([], dtype="str"),
                         "source": pd.Series([], dtype="str"),
                         "row": pd.Series([], dtype="int64")})


def empty_rejects() -> pd.DataFrame:
    """An empty rejects frame (``source, row, reason, raw``)."""
    return pd.DataFrame({"source": pd.Series([], dtype="str"), "row": pd.Series([], dtype="int64"),
                         "reason": pd.Series([], dtype="str"), "raw": pd.Series([], dtype="str")})


# ----------------------------------------------------------------------------- parsing SQL
_TS_SQL = f"""
    CASE WHEN regexp_matches(t, '{_OFFSET_RE}') THEN TRY_CAST(t AS TIMESTAMPTZ) END AS inst,
    CASE WHEN NOT regexp_matches(t, '{_OFFSET_RE}') THEN TRY_CAST(t AS TIMESTAMP) END AS wall"""
_TS_REASON = """
    CASE WHEN t IS NULL THEN 'missing timestamp'
         WHEN inst IS NULL AND wall IS NULL THEN 'unparseable timestamp'
         WHEN coalesce(inst::TIMESTAMP, wall)
              NOT BETWEEN TIMESTAMP '1678-01-01' AND TIMESTAMP '2261-12-31' THEN 'timestamp out of range'
    END"""
_VALUE_REASON = """
    CASE WHEN tag IS NULL OR trim(tag) = '' THEN 'missing tag'
         WHEN vr IS NULL THEN 'missing value'
         WHEN v IS NULL THEN 'non-numeric value'
         WHEN NOT isfinite(v) THEN 'non-finite value' END"""


def _long_sql(has_unit: bool, has_quality: bool) -> str:
    unit = "nullif(trim(unit), '')" if has_unit else "NULL::VARCHAR"
    qual = "nullif(trim(quality), '')" if has_quality else "NULL::VARCHAR"
    return f"""
    WITH a AS (SELECT {_ROW} AS row, nullif(trim("timestamp"), '') AS t, tag, nullif(trim(value), '') AS vr,
                      {unit} AS unit, {qual} AS quality FROM batch),
    b AS (SELECT *, TRY_CAST(vr AS DOUBLE) AS v, {_TS_SQL} FROM a),
    c AS (SELECT *, coalesce({_TS_REASON}, {_VALUE_REASON}) AS reason FROM b)
    SELECT row, tag, inst, wall, v AS value, unit, quality, reason,
           CASE WHEN reason IS NOT NULL THEN left(concat_ws(',', coalesce(t, ''), coalesce(tag, ''),
                                                            coalesce(vr, '')), {RAW_MAX_CHARS}) END AS raw
    FROM c"""


_WIDE_ROWS_SQL = f"""
    CREATE OR REPLACE TEMP TABLE rows_ AS
    WITH a AS (SELECT {_ROW} AS row, nullif(trim("timestamp"), '') AS t FROM stamps),
    b AS (SELECT *, {_TS_SQL} FROM a)
    SELECT row, t, inst, wall, {_TS_REASON} AS reason FROM b"""
_WIDE_CELLS_SQL = f"""
    WITH b AS (SELECT c.{_ROW} AS row, n.tag, nullif(trim(c.vr), '') AS vr, r.inst, r.wall, r.t
               FROM cells c JOIN rows_ r ON r.row = c.{_ROW} JOIN tagnames n ON n.tagi = c.tagi
               WHERE r.reason IS NULL),
    c AS (SELECT *, TRY_CAST(vr AS DOUBLE) AS v FROM b WHERE vr IS NOT NULL)
    SELECT row, tag, inst, wall, v AS value, NULL::VARCHAR AS unit, NULL::VARCHAR AS quality,
           {_VALUE_REASON} AS reason,
           CASE WHEN {_VALUE_REASON} IS NOT NULL THEN left(concat_ws(',', t, tag, vr), {RAW_MAX_CHARS})
           END AS raw
    FROM c"""


def _melt(batch: pa.RecordBatch, tag_idx: list[int]) -> pa.Table:
    """Wide batch -> non-empty cells ``(row, tagi, vr)``, tagi indexing ``tag_idx``."""
    rows = batch.column(batch.num_columns - 1).to_numpy()
    vals = pa.chunked_array([batch.column(i) for i in tag_idx], type=pa.string()).combine_chunks()
    cells = pa.table({_ROW: np.tile(rows, len(tag_idx)),
                      "tagi": np.repeat(np.arange(len(tag_idx), dtype=np.int32), batch.num_rows),
                      "vr": vals})
    return cells.filter(pc.is_valid(vals))


# ----------------------------------------------------------------------------- main reader
def _detect_format(names: list[str], format: str | None, source: str) -> str:
    lower = [n.strip().lower() for n in names]
    if "timestamp" not in lower:
        raise DataError(f"no 'timestamp' column (columns found: {names[:10]!r}"
                        f"{' ...' if len(names) > 10 else ''}); wrong delimiter or header?",
                        source=source)
    is_long = "tag" in lower and "value" in lower
    if format is None:
        return "long" if is_long else "wide"
    if format == "long" and not is_long:
        raise DataError("format 'long' needs columns timestamp, tag and value "
                        f"(columns found: {names[:10]!r})", source=source)
    if format not in ("long", "wide"):
        raise ValueError(f"format must be 'long', 'wide' or None, not {format!r}")
    return format


def _check_unique(names: list[str], fmt: str, source: str) -> None:
    lower = [n.strip().lower() for n in names]
    reserved = RESERVED_COLUMNS if fmt == "long" else {"timestamp"}
    twice = sorted({n for n in lower if n in reserved and lower.count(n) > 1})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once in the header", source=source)


def _rename(batch: pa.RecordBatch, fmt: str, start: int) -> pa.RecordBatch:
    names = [n.strip().lower() if (n.strip().lower() in RESERVED_COLUMNS and
                                   (fmt == "long" or n.strip().lower() == "timestamp")) else n
             for n in batch.schema.names]
    rows = pa.array(np.arange(start + 1, start + 1 + batch.num_rows, dtype=np.int64))
    return pa.record_batch(list(batch.columns) + [rows], names=names + [_ROW])


def _fix_rows(provisional: np.ndarray, skipped: np.ndarray) -> np.ndarray:
    """Record numbers once malformed records (``skipped``, sorted) are counted in."""
    if not len(skipped):
        return provisional
    good_before = skipped - np.arange(len(skipped)) - 1
    return provisional + np.searchsorted(good_before, provisional - 1, side="right")


_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection (opening one costs ~40 ms, once per file before)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
    return con


def read_readings_file(path: str | Path, *, tz: str, format: str | None = None,
                       source: str | None = None) -> ReadResult:
    """Read one readings file (CSV or Parquet, long or wide) into raw readings and rejects.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; ``.csv``, ``.csv.gz``, ``.txt``, ``.parquet`` or ``.pq``.
    tz : str
        IANA time zone of naive (wall-clock) timestamps, e.g. ``America/Chicago``.
    format : {'long', 'wide'} or None
        File layout; detected when None (long iff the file has ``tag`` and ``value`` columns).
    source : str, optional
        Value of the ``source`` column of readings and rejects; default: ``path`` as given.

    Returns
    -------
    ReadResult
        ``readings`` (``tag, ts, value, unit, quality, source, row``; ts in UTC, value in the
        file's unit), ``rejects`` (``source, row, reason, raw``) and ``notes`` (DST repairs, …).

    Raises
    ------
    DataError
        The file as a whole cannot be read (see the module docstring); names the file.

    Examples
    --------
    >>> r = read_readings_file("tests/data/readings/long_offset.csv", tz="UTC")  # doctest: +SKIP
    >>> r.readings[["tag", "ts", "value"]].iloc[0].tolist()  # doctest: +SKIP
    ['FT-101', Timestamp('2024-01-15 06:00:00+0000', tz='UTC'), 1520.5]
    """
    source = str(path) if source is None else source
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=source)
    batches = RecordBatches(path, source)
    fmt = _detect_format(batches.names, format, source)
    _check_unique(batches.names, fmt, source)
    lower = [n.strip().lower() for n in batches.names]
    tag_idx = [i for i, (n, lo) in enumerate(zip(batches.names, lower))
               if lo != "timestamp" and n != ""]
    ts_i = lower.index("timestamp")
    tagnames = pa.table({"tagi": np.arange(len(tag_idx), dtype=np.int32),  # noqa: F841
                         "tag": [batches.names[i] for i in tag_idx]})
    con = _connection()
    try:
        goods, bads, count = [], [], 0
        for raw_batch in batches:
            batch = _rename(raw_batch, fmt, count)  # noqa: F841  (DuckDB reads it by name)
            count += raw_batch.num_rows
            if fmt == "long":
                out = con.sql(_long_sql("unit" in lower, "quality" in lower)).to_arrow_table()
            else:
                stamps = pa.table({"timestamp": batch.column(ts_i), _ROW: batch.column(_ROW)})  # noqa: F841
                con.execute(_WIDE_ROWS_SQL)
                bads.append(con.sql(f"SELECT row, reason, left(coalesce(t, ''), {RAW_MAX_CHARS}) "
                                    "AS raw FROM rows_ WHERE reason IS NOT NULL").to_arrow_table())
                out = None
                if tag_idx:
                    cells = _melt(batch, tag_idx)  # noqa: F841  (DuckDB reads it by name)
                    out = con.sql(_WIDE_CELLS_SQL).to_arrow_table()
            if out is not None:
                ok = pc.is_null(out["reason"])
                goods.append(out.filter(ok).drop_columns(["reason", "raw"]))
                bads.append(out.filter(pc.invert(ok)).select(["row", "reason", "raw"]))
    finally:
        con.execute("DROP TABLE IF EXISTS rows_")
    notes = batches.notes + ([] if count else [f"{source}: header only, no data rows"])
    if fmt == "wide" and not tag_idx:
        notes.append(f"{source}: wide file without tag columns")
    return _assemble(goods, bads, batches, source, tz, notes)


def _assemble(goods, bads, batches: RecordBatches, source: str, tz: str, notes: list[str]) -> ReadResult:
    skipped = sorted(batches.skipped)
    skip_rows = np.array([s[0] for s in skipped], dtype=np.int64)
    readings = _readings_frame(goods, skip_rows, source, tz, notes)
    rej = [_to_pandas_rejects(t, skip_rows) for t in bads if t.num_rows]
    if skipped:
        rej.append(pd.DataFrame({"row": skip_rows, "reason": [s[1] for s in skipped],
                                 "raw": [str(s[2])[:RAW_MAX_CHARS] for s in skipped]}))
    rejects = empty_rejects()
    if rej:
        r = pd.concat(rej, ignore_index=True).sort_values("row", kind="stable", ignore_index=True)
        rejects = pd.DataFrame({"source": pd.Series(source, index=r.index, dtype="str"),
                                "row": r["row"].astype("int64"), "reason": r["reason"].astype("str"),
                                "raw": r["raw"].astype("str")})
    return ReadResult(readings, rejects, notes)


def _to_pandas_rejects(t: pa.Table, skip_rows: np.ndarray) -> pd.DataFrame:
    df = t.to_pandas()
    df["row"] = _fix_rows(df["row"].to_numpy(np.int64), skip_rows)
    return df


def _readings_frame(goods, skip_rows, source, tz, notes) -> pd.DataFrame:
    goods = [g for g in goods if g.num_rows]
    if not goods:
        return empty_readings()
    t = pa.concat_tables(goods)
    del goods
    row = _fix_rows(t["row"].to_numpy(), skip_rows)
    tag = pd.Series(t["tag"].to_pandas(), dtype="str")
    ts = pd.Series(t["inst"].to_pandas(), dtype="datetime64[ns, UTC]").dt.tz_localize(None).to_numpy().copy()
    wall = t["wall"]
    t = t.drop_columns(["inst", "wall", "row", "tag"])
    naive = pc.is_valid(wall).to_numpy(zero_copy_only=False)
    if naive.any():
        w = pd.Series(wall.filter(pa.array(naive)).to_pandas(), dtype="datetime64[ns]")
        idx = np.flatnonzero(naive)
        w.index = idx
        inst, dst_notes = localize_wall(w, pd.Series(tag.to_numpy()[idx], index=idx),
                                        pd.Series(row[idx], index=idx), tz)
        ts[idx] = inst.dt.tz_localize(None).to_numpy()
        notes.extend(f"{source}: {n}" for n in dst_notes)
    return pd.DataFrame({"tag": tag, "ts": pd.DatetimeIndex(ts).tz_localize("UTC"),
                         "value": t["value"].to_numpy(zero_copy_only=False).astype("float64"),
                         "unit": pd.Series(t["unit"].to_pandas(), dtype="str"),
                         "quality": pd.Series(t["quality"].to_pandas(), dtype="str"),
                         "source": pd.Series(pa.repeat(source, len(row)).to_pandas(), dtype="str"),
                         "row": row.astype("int64")})


def read_readings_files(paths: Iterable[str | Path], tz: str, format: str | None = None,
                        ) -> Iterator[tuple[Path, ReadResult]]:
    """Read several files one at a time (bounded memory), yielding ``(path, ReadResult)``.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Files to read, in the order given.
    tz : str
        IANA time zone of naive timestamps.
    format : {'long', 'wide'} or None
        Layout of every file; detected per file when None.
    """
    for p in paths:
        yield Path(p), read_readings_file(p, tz=tz, format=format)


__all__ = ["ReadResult", "read_readings_file", "read_readings_files", "empty_readings",
           "empty_rejects", "READING_COLUMNS", "REJECT_COLUMNS"]
