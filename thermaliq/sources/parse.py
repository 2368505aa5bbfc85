"""Parsing of record batches for :mod:`thermaliq.sources.readers`: the DuckDB SQL and its helpers.

Every batch of all-string columns (from :mod:`thermaliq.sources.file_io`) is parsed by DuckDB
(``TRY_CAST``) into good rows and rejects with their raw text. :func:`parse_long_fast` is the
shortcut for the common long batch (every timestamp ``YYYY-MM-DDTHH:MM:SSZ``, every value a plain
decimal number, no unit or quality text): it gives the same rows with pyarrow compute at a
fraction of the cost, and ``None`` for any other batch, which then takes the DuckDB path.
"""
from __future__ import annotations

import threading

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.errors import DataError
from thermaliq.sources.file_io import RESERVED_COLUMNS, text_bytes

RAW_MAX_CHARS = 4000   # a reject's original line, cut beyond this [characters]
_ROW = "__thermaliq_row"
# An ISO 8601 time of day followed by Z or a numeric offset (date-only strings are naive).
_OFFSET_RE = r"[T ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$"


# ----------------------------------------------------------------------------- parsing SQL
# The two common forms are recognised by a full match of a fixed pattern before the search with
# _OFFSET_RE (which costs most of the parse): ``YYYY-MM-DDTHH:MM:SSZ`` matches _OFFSET_RE and a
# naive ``YYYY-MM-DD HH:MM:SS`` (or with ``T``) cannot (it ends in two digits after a colon), so
# the result is the same as without the shortcut.
_Z_FORM = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
_NAIVE_FORM = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"
_TS_SQL = f"""
    CASE WHEN regexp_full_match(t, '{_Z_FORM}') THEN TRY_CAST(t AS TIMESTAMPTZ)
         WHEN regexp_full_match(t, '{_NAIVE_FORM}') THEN NULL
         WHEN regexp_matches(t, '{_OFFSET_RE}') THEN TRY_CAST(t AS TIMESTAMPTZ) END AS inst,
    CASE WHEN regexp_full_match(t, '{_Z_FORM}') THEN NULL
         WHEN regexp_full_match(t, '{_NAIVE_FORM}') THEN TRY_CAST(t AS TIMESTAMP)
         WHEN NOT regexp_matches(t, '{_OFFSET_RE}') THEN TRY_CAST(t AS TIMESTAMP) END AS wall"""
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


def long_file_sql(scan: str, columns: list[str], lower: list[str], delimiter: str) -> str:
    """The parse of :func:`parse_long` over a whole file: ``scan`` is a DuckDB table expression
    (e.g. ``read_csv(...)``) whose all-text columns are named ``columns`` (in file order,
    ``lower`` their header names in lower case). Rows come in file order without a row number
    (the caller counts them); ``raw`` of a reject is its record's fields joined by ``delimiter``,
    as :mod:`thermaliq.sources.readers` gives it on the batch path.
    """
    col = {lo: columns[i] for i, lo in enumerate(lower) if lo in RESERVED_COLUMNS}
    unit = f"nullif(trim({col['unit']}), '')" if "unit" in col else "NULL::VARCHAR"
    qual = f"nullif(trim({col['quality']}), '')" if "quality" in col else "NULL::VARCHAR"
    sep = delimiter.replace("'", "''")
    fields = ", ".join(f"coalesce({c}, '')" for c in columns)
    line = f"concat_ws('{sep}', {fields})" if len(columns) > 1 else f"coalesce({columns[0]}, '')"
    return f"""
    WITH src AS (SELECT * FROM {scan}),
    a AS (SELECT *, nullif(trim({col['timestamp']}), '') AS t, {col['tag']} AS tag,
                 nullif(trim({col['value']}), '') AS vr, {unit} AS unit, {qual} AS quality FROM src),
    b AS (SELECT *, TRY_CAST(vr AS DOUBLE) AS v, {_TS_SQL} FROM a),
    c AS (SELECT *, coalesce({_TS_REASON}, {_VALUE_REASON}) AS reason FROM b)
    SELECT tag, inst, wall, v AS value, unit, quality, reason,
           CASE WHEN reason IS NOT NULL THEN left({line}, {RAW_MAX_CHARS}) END AS raw
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
def detect_format(names: list[str], format: str | None, source: str) -> str:
    """``'long'`` or ``'wide'``: ``format`` checked against the header ``names``, or guessed from them."""
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


def check_unique_columns(names: list[str], fmt: str, source: str) -> None:
    """Raise ``DataError`` when a reserved column (``timestamp``, ...) appears twice in the header."""
    lower = [n.strip().lower() for n in names]
    reserved = RESERVED_COLUMNS if fmt == "long" else {"timestamp"}
    twice = sorted({n for n in lower if n in reserved and lower.count(n) > 1})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once in the header", source=source)


def number_records(batch: pa.RecordBatch, fmt: str, start: int) -> pa.RecordBatch:
    """``batch`` with reserved column names in lower case and a last column of record numbers
    ``start + 1, start + 2, ...`` (before malformed records are counted in, see :func:`record_numbers`)."""
    names = [n.strip().lower() if (n.strip().lower() in RESERVED_COLUMNS and
                                   (fmt == "long" or n.strip().lower() == "timestamp")) else n
             for n in batch.schema.names]
    rows = pa.array(np.arange(start + 1, start + 1 + batch.num_rows, dtype=np.int64))
    return pa.record_batch(list(batch.columns) + [rows], names=names + [_ROW])


def record_numbers(provisional: np.ndarray, skipped: np.ndarray) -> np.ndarray:
    """Record numbers once malformed records (``skipped``, sorted) are counted in."""
    if not len(skipped):
        return provisional
    good_before = skipped - np.arange(len(skipped)) - 1
    return provisional + np.searchsorted(good_before, provisional - 1, side="right")


_LOCAL = threading.local()


def thread_connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection (opening one costs ~40 ms, once per file before)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
    return con


def _good_and_rejects(out: pa.Table) -> tuple[list[pa.Table], list[pa.Table]]:
    ok = pc.is_null(out["reason"])
    return ([out.filter(ok).drop_columns(["reason", "raw"])],
            [out.filter(pc.invert(ok)).select(["row", "reason", "raw"])])


def parse_long(batch: pa.RecordBatch, lower: list[str]) -> tuple[list[pa.Table], list[pa.Table]]:
    """Good rows and rejects (``row, reason, raw``) of a long batch numbered by :func:`number_records`.

    ``lower`` holds the file's column names in lower case. A batch :func:`parse_long_fast` reads
    gives no reject; any other is parsed by DuckDB.
    """
    fast = parse_long_fast(batch, lower)
    if fast is not None:      # the common clean batch: no reject possible
        return [fast], []
    out = thread_connection().sql(_long_sql("unit" in lower, "quality" in lower)).to_arrow_table()
    return _good_and_rejects(out)


def parse_wide(batch: pa.RecordBatch, lower: list[str], tag_idx: list[int],
               tagnames: pa.Table) -> tuple[list[pa.Table], list[pa.Table]]:
    """Good rows and rejects of a wide batch numbered by :func:`number_records`.

    ``tag_idx`` are the positions of the tag columns and ``tagnames`` maps ``tagi`` (an index into
    ``tag_idx``) to the tag name. A bad timestamp rejects its whole record; a bad cell, itself.
    """
    con = thread_connection()
    ts = batch.column(lower.index("timestamp"))
    stamps = pa.table({"timestamp": ts, _ROW: batch.column(_ROW)})  # noqa: F841  (DuckDB reads it by name)
    try:
        con.execute(_WIDE_ROWS_SQL)
        bad_stamps = con.sql(f"SELECT row, reason, left(coalesce(t, ''), {RAW_MAX_CHARS}) "
                             "AS raw FROM rows_ WHERE reason IS NOT NULL").to_arrow_table()
        if not tag_idx:
            return [], [bad_stamps]
        cells = _melt(batch, tag_idx)  # noqa: F841  (DuckDB reads it and tagnames by name)
        goods, bads = _good_and_rejects(con.sql(_WIDE_CELLS_SQL).to_arrow_table())
        return goods, [bad_stamps, *bads]
    finally:
        con.execute("DROP TABLE IF EXISTS rows_")


# ----------------------------------------------------------------------------- fast long path
# An instant written ``YYYY-MM-DDTHH:MM:SSZ`` is read alike by DuckDB's and pyarrow's casts.
_ISO_Z_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_TS_LOW = np.datetime64("1678-01-01T00:00:00", "us").astype(np.int64)    # as _TS_REASON
_TS_HIGH = np.datetime64("2261-12-31T00:00:00", "us").astype(np.int64)


def parse_long_fast(batch: pa.RecordBatch, lower: list[str]) -> pa.Table | None:
    """Good rows of a long batch numbered by :func:`number_records` as the SQL path gives them, or None.

    None unless every row passes the SQL checks in their simplest form: a timestamp written
    ``YYYY-MM-DDTHH:MM:SSZ`` naming a real instant inside the supported range, a tag that is not
    blank, a value that pyarrow's decimal parser reads as a finite number, no unit and no quality
    text. Such a batch gives no reject on the SQL path and the same values: where pyarrow's
    parser accepts a string, DuckDB's ``TRY_CAST`` gives the same double (both round correctly;
    DuckDB also accepts forms pyarrow refuses, e.g. ``' 1'`` or ``'1_000'``, which come here as
    None). Timestamps are parsed once per distinct text. For any other batch the caller takes
    the SQL path, which names every problem.
    """
    if any(batch.column(lower.index(c)).null_count < batch.num_rows
           for c in ("unit", "quality") if c in lower):
        return None
    t, tag, vr = (batch.column(lower.index(c)) for c in ("timestamp", "tag", "value"))
    if t.null_count or tag.null_count or vr.null_count:
        return None
    if _may_be_blank(tag) and any(not str(s).strip(" ") for s in pc.unique(tag).to_pylist()):
        return None   # blank tag: 'missing tag' (DuckDB's trim removes spaces only)
    try:
        value = pc.cast(vr, pa.float64())
    except pa.ArrowInvalid:
        return None   # not a number for pyarrow: DuckDB decides (and names the problem)
    if not pc.all(pc.is_finite(value)).as_py():
        return None
    us = _iso_z_instants(t)
    if us is None:
        return None
    n = batch.num_rows
    return pa.table({"row": batch.column(batch.num_columns - 1), "tag": tag,
                     "inst": pa.array(us, pa.timestamp("us", tz="UTC")),
                     "wall": pa.nulls(n, pa.timestamp("us")), "value": value,
                     "unit": pa.nulls(n, pa.string()), "quality": pa.nulls(n, pa.string())})


def _may_be_blank(texts: pa.Array) -> bool:
    """Whether a text of ``texts`` (no nulls) may be blank, i.e. empty or spaces only: only an
    empty text or one that begins with a space can be. Told from the column's bytes, so a
    column of ordinary tags is not hashed for the check."""
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        return True
    offsets, data = text_bytes(texts)
    starts = offsets[:-1]
    if not len(starts):
        return False
    if (offsets[1:] == starts).any():
        return True
    return bool((data[starts] == 0x20).any())


def _iso_z_instants(t: pa.Array) -> np.ndarray | None:
    """Instants [µs since epoch, UTC] of ``YYYY-MM-DDTHH:MM:SSZ`` texts, None if one is not one
    (or is 24:00, 30 February, a leap second, outside the range DuckDB's path accepts)."""
    texts, index = _texts_once(t)
    if not pc.all(pc.match_substring_regex(texts, _ISO_Z_RE)).as_py():
        return None
    try:   # pyarrow's ISO 8601 cast is strict (its strptime would turn 30 February into 1 March)
        inst = pc.cast(texts, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return None
    us = inst.cast(pa.int64()).to_numpy()
    if len(us) and (us.min() < _TS_LOW or us.max() > _TS_HIGH):
        return None
    return us[index]


#: Rows whose neighbours :func:`_runs_of` compares before it looks at all of them [rows].
RUN_PROBE_ROWS = 64


def _texts_once(t: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Texts that hold every text of ``t`` (no nulls) and each row's position among them, to
    parse each text about once: the runs of equal neighbours when they are few (a long file in
    time order writes each instant once per tag, one after the other), else the distinct texts."""
    runs = _runs_of(t)
    if runs is not None:
        return runs
    enc = pc.dictionary_encode(t)
    return enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)


def _runs_of(t: pa.Array) -> tuple[pa.Array, np.ndarray] | None:
    """The first text of each run of equal neighbours in ``t`` and each row's run, or None
    when the runs are not at least 2 rows long on average, in the first :data:`RUN_PROBE_ROWS`
    rows and in all (comparing neighbours costs a third of hashing every text)."""
    n = len(t)
    probe = min(n, RUN_PROBE_ROWS)
    if probe < 2 or 2 * _count_true(pc.not_equal(t.slice(1, probe - 1), t.slice(0, probe - 1))) > probe:
        return None
    start = np.empty(n, dtype=bool)
    start[0] = True
    start[1:] = pc.not_equal(t.slice(1), t.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(start)
    if 2 * len(heads) > n:
        return None
    return t.take(pa.array(heads)), np.cumsum(start) - 1


def _count_true(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)
