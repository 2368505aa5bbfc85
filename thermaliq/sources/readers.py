"""Read plant readings files (DESIGN §4) into the raw-readings shape of docs/ARCHITECTURE.md.

``read_readings_file`` parses CSV (``.csv``, ``.csv.gz``, ``.txt``) and Parquet (``.parquet``,
``.pq``) files in long (``timestamp, tag, value`` + optional ``unit``, ``quality``) or wide
(``timestamp`` + one column per tag) format. Files are streamed in record batches through
pyarrow and every batch is parsed and checked by DuckDB (``TRY_CAST``, SQL in
:mod:`thermaliq.sources.parse`), so memory is bounded by the size of the result, not by
intermediate Python objects, and bad rows become rejects with their raw text instead of
exceptions. A long batch with nothing to reject in its simplest form (``...Z`` instants, plain
numbers) is parsed by pyarrow instead, with the same result (``parse.parse_long_fast``).
Chunks hand their readings over in Arrow form (``ReadResult.table``); the pandas frame is built
only when asked for.

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
  resolved by :func:`thermaliq.sources.wallclock.localize_wall` (DST rule there). Precision is 1 µs.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.errors import DataError
from thermaliq.sources.file_io import RecordBatches
from thermaliq.sources.parse import (RAW_MAX_CHARS, check_unique_columns, detect_format, number_records,
                                     parse_long, parse_wide, record_numbers)
from thermaliq.sources.regional import Regional, regional_of
from thermaliq.sources.wallclock import WallClock
from thermaliq.settings import load_settings

READING_COLUMNS = ["tag", "ts", "value", "unit", "quality", "source", "row"]
REJECT_COLUMNS = ["source", "row", "reason", "raw"]


class ReadResult:
    """Readings, rejects and notes of one read (shapes in docs/ARCHITECTURE.md).

    A reader may hand over the readings as an Arrow ``table`` instead (columns ``tag, ts``
    (``timestamp[ns, UTC]``), ``value, unit, quality, source, row``); ``readings`` is then built
    from it on first use, so a consumer working on Arrow never pays for the pandas frame.
    """

    def __init__(self, readings: pd.DataFrame | None, rejects: pd.DataFrame,
                 notes: list[str] | None = None, *, table: pa.Table | None = None):
        if readings is None and table is None:
            raise ValueError("ReadResult needs readings or table")
        self._readings, self.table = readings, table
        self.rejects, self.notes = rejects, [] if notes is None else notes
        self.last = False      # set by ReadingsStream on the file's last chunk
        self._tag_index: tuple[list, np.ndarray] | None = None

    @property
    def readings(self) -> pd.DataFrame:
        if self._readings is None:
            self._readings = _frame_of(self.table)
        return self._readings

    @readings.setter
    def readings(self, frame: pd.DataFrame) -> None:
        self._readings, self.table, self._tag_index = frame, None, None

    def tag_index(self) -> tuple[list, np.ndarray]:
        """:func:`tag_index` of the Arrow readings, hashed on first use and kept (the ingest's
        check for tags no stream uses and its fast lane both need it)."""
        if self._tag_index is None:
            self._tag_index = tag_index(self.table.column("tag"))
        return self._tag_index

    def __len__(self) -> int:
        """Number of readings [rows]."""
        return len(self._readings) if self._readings is not None else self.table.num_rows


def tag_index(tags: pa.ChunkedArray | pa.Array) -> tuple[list, np.ndarray]:
    """The distinct values of a tag column in order of first appearance (``None`` for a missing
    tag) and each row's position among them (``int32``): one hash of the column."""
    enc = pc.dictionary_encode(tags.combine_chunks() if isinstance(tags, pa.ChunkedArray) else tags,
                               null_encoding="encode")
    return enc.dictionary.to_pylist(), enc.indices.to_numpy()


def empty_raw_readings() -> pd.DataFrame:
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
    return _EMPTY_REJECTS.copy()   # a copy of a template: building the frame costs ~2 ms


def rejects_frame(source: str, rows, reasons, records) -> pd.DataFrame:
    """Rejects of records that came as JSON-like objects (the historian connectors): one row
    each, ``raw`` the record as JSON (cut at :data:`RAW_MAX_CHARS`), ``row`` its 1-based number."""
    rows, reasons, records = list(rows), list(reasons), list(records)
    if not rows:
        return empty_rejects()
    return pd.DataFrame({"source": pd.Series([source] * len(rows), dtype="str"),
                         "row": np.asarray(rows, dtype=np.int64),
                         "reason": pd.Series(reasons, dtype="str"),
                         "raw": pd.Series([json.dumps(r, default=str)[:RAW_MAX_CHARS] for r in records],
                                          dtype="str")})


_EMPTY_REJECTS = pd.DataFrame({"source": pd.Series([], dtype="str"),
                               "row": pd.Series([], dtype="int64"),
                               "reason": pd.Series([], dtype="str"),
                               "raw": pd.Series([], dtype="str")})


#: Rows per chunk of :class:`ReadingsStream` unless given [rows]; ``THERMALIQ_INGEST_BATCH_ROWS``.


def batch_rows_setting() -> int:
    """Rows per ingest chunk: ``THERMALIQ_INGEST_BATCH_ROWS`` or :data:`thermaliq.settings.DEFAULT_BATCH_ROWS` [rows]."""
    return load_settings().ingest_batch_rows


class ReadingsStream:
    """One readings file read in chunks of ``batch_rows`` records, with the rules of
    :func:`read_readings_file`.

    Opening reads the header and raises ``DataError`` for a file that cannot be read at all.
    Iterating yields one :class:`ReadResult` per chunk (its ``notes`` empty), in row order; a
    ``DataError`` while iterating means the file broke off (e.g. a corrupt gzip tail) after the
    chunks already yielded. Row numbers are absolute file records in every chunk, malformed CSV
    records included; a chunk's rejects also carry the malformed records up to its last row. The
    DST rule carries its state from chunk to chunk (:class:`thermaliq.sources.wallclock.WallClock`).
    After the iteration, :attr:`notes` holds the file's notes, as ``read_readings_file`` gives.

    Parameters
    ----------
    path, tz, format, source
        As for :func:`read_readings_file`.
    batch_rows : int or None
        Records per chunk [rows] (the last one may be shorter); None: the whole file in one chunk.
    """

    def __init__(self, path: str | Path, *, tz: str, format: str | None = None,
                 source: str | None = None, batch_rows: int | None = None,
                 decimal: str | None = None, timestamp_format: str | None = None,
                 parallel: bool = True):
        self.source = str(path) if source is None else source
        path = Path(path)
        self._path, self._parallel = path, parallel
        self.parallel_records = 0   # records parsed by DuckDB's parallel reader (bulk)
        if not path.is_file():
            raise DataError("file not found", source=self.source)
        if batch_rows is not None and batch_rows < 1:
            raise ValueError(f"batch_rows must be a positive number of rows, not {batch_rows!r}")
        self._batches = RecordBatches(path, self.source)
        names = self._batches.names
        self.format = detect_format(names, format, self.source)
        check_unique_columns(names, self.format, self.source)
        self._lower = [n.strip().lower() for n in names]
        self._tag_idx = [i for i, (n, lo) in enumerate(zip(names, self._lower))
                         if lo != "timestamp" and n != ""]
        self._tagnames = pa.table({"tagi": np.arange(len(self._tag_idx), dtype=np.int32),
                                   "tag": [names[i] for i in self._tag_idx]})
        self._limit = batch_rows or np.iinfo(np.int64).max
        self._clock = WallClock(tz)
        self._count = 0           # records parsed so far, malformed CSV records not counted
        self._emitted = 0         # malformed records already handed out as rejects
        self.notes: list[str] = []
        self._wanted = (decimal, timestamp_format)   # source.decimal, source.timestamp_format
        self._regional: Regional | None = None       # decided on the first batch
        self._regional_notes: list[str] = []
        self._value_idx = [self._lower.index("value")] if self.format == "long" else self._tag_idx

    def one_chunk(self) -> bool:
        """Whether the file surely holds no more records than one chunk takes: an uncompressed
        CSV file too short for more (a record takes at least one byte per column: its
        delimiters and its line end). Reading such a file ahead of its storing overlaps nothing."""
        if self._batches.kind != "csv" or self._path.name.lower().endswith(".gz"):
            return False
        return self._path.stat().st_size // max(1, len(self._lower)) + 1 <= self._limit

    def __iter__(self) -> Iterator[ReadResult]:
        goods, bads, in_chunk = [], [], 0
        for raw_batch, parse in self._units():
            offset = 0
            while offset < raw_batch.num_rows:
                take = min(raw_batch.num_rows - offset, self._limit - in_chunk)
                parse(raw_batch.slice(offset, take), goods, bads)
                offset += take
                in_chunk += take
                if in_chunk >= self._limit:
                    chunk = self._chunk(goods, bads, final=False)
                    goods, bads, in_chunk = [], [], 0    # not held while the chunk is stored
                    yield chunk
        if in_chunk or self._emitted < len(self._batches.skipped):
            yield self._chunk(goods, bads, final=True)
        self.notes = self._batches.notes + ([] if self._count else
                                            [f"{self.source}: header only, no data rows"])
        if self.format == "wide" and not self._tag_idx:
            self.notes.append(f"{self.source}: wide file without tag columns")
        self.notes.extend(f"{self.source}: {n}" for n in self._clock.notes())
        self.notes.extend(self._regional_notes)

    def _units(self) -> Iterator[tuple[pa.RecordBatch, object]]:
        """Batches of records in file order, each with the function that parses a slice of it:
        raw text batches (:meth:`_parse`) or, for a long UTF-8 CSV file read with the default
        number and date forms, batches already parsed by DuckDB's parallel reader
        (:mod:`thermaliq.sources.bulk`, :meth:`_take_parsed`). When DuckDB stops (a malformed
        record, ...), the exact reader goes on from the record after the last one taken."""
        raw = iter(self._batches)
        first = next(raw, None)
        if first is None:
            return
        self._decide_regional(first)
        from thermaliq.sources import bulk

        if self._bulk_possible() and self._path.stat().st_size >= bulk.MIN_BYTES:
            try:
                for batch in bulk.BulkLong(self._path, self._lower, self._batches.delimiter):
                    yield batch, self._take_parsed
                return
            except bulk.BulkUnavailable:
                self._batches = RecordBatches(self._path, self.source)
                raw, first = _after_records(iter(self._batches), self._count), None
        if first is not None:
            yield first, self._parse
        for batch in raw:
            yield batch, self._parse

    def _bulk_possible(self) -> bool:
        """Whether DuckDB may parse the whole file: a long UTF-8 CSV file with plain numbers and
        timestamps as written (no decimal comma, no day-first dates to rewrite) in which the
        first block held no malformed record."""
        return (self._parallel and self._batches.kind == "csv" and self._batches.encoding == "utf8"
                and self.format == "long" and self._regional.decimal == "."
                and not self._regional.date_formats and not self._batches.skipped)

    def _decide_regional(self, raw_batch: pa.RecordBatch) -> None:
        if self._regional is None:
            ts_idx = self._lower.index("timestamp")
            self._regional, self._regional_notes = regional_of(
                raw_batch, ts_idx, self._value_idx, self._batches.delimiter, *self._wanted, self.source)

    def _take_parsed(self, parsed: pa.RecordBatch, goods: list, bads: list) -> None:
        """Split a slice of DuckDB-parsed records into good rows and rejects, numbering them."""
        start = self._count
        self._count += parsed.num_rows
        self.parallel_records += parsed.num_rows
        t = pa.Table.from_batches([parsed]).append_column(
            "row", pa.array(np.arange(start + 1, start + 1 + parsed.num_rows, dtype=np.int64)))
        if t["reason"].null_count == t.num_rows:
            goods.append(t.select(["row", "tag", "inst", "wall", "value", "unit", "quality"]))
            return
        ok = pc.is_null(t["reason"])
        goods.append(t.filter(ok).select(["row", "tag", "inst", "wall", "value", "unit", "quality"]))
        bads.append(t.filter(pc.invert(ok)).select(["row", "reason", "raw"]))

    @property
    def detected(self) -> list[str]:
        """Notes on the decimal mark and date format detected (known after the first chunk)."""
        return list(self._regional_notes)

    def _parse(self, raw_batch: pa.RecordBatch, goods: list, bads: list) -> None:
        """Parse one slice of records into good rows and rejects (Arrow tables)."""
        ts_idx = self._lower.index("timestamp")
        self._decide_regional(raw_batch)
        start = self._count
        batch = number_records(self._regional.apply(raw_batch, ts_idx, self._value_idx),
                               self.format, start)
        self._count += raw_batch.num_rows
        if self.format == "long":
            good, bad = parse_long(batch, self._lower)
        else:
            good, bad = parse_wide(batch, self._lower, self._tag_idx, self._tagnames)
        goods += good
        bads += [_with_original_lines(b, raw_batch, start, self._batches.delimiter) for b in bad]

    def _chunk(self, goods: list, bads: list, final: bool) -> ReadResult:
        """Readings and rejects of the records parsed since the last chunk."""
        skipped = sorted(self._batches.skipped)
        skip_rows = np.array([s[0] for s in skipped], dtype=np.int64)
        table = _readings_table(goods, skip_rows, self.source, self._clock)
        # malformed records up to this chunk's last record (all of them at the end)
        last = int(record_numbers(np.array([self._count], dtype=np.int64), skip_rows)[0])
        fresh = [s for s in skipped[self._emitted:] if final or s[0] < last]
        self._emitted += len(fresh)
        out = ReadResult(None, _rejects_frame(bads, skip_rows, fresh, self.source), [], table=table)
        out.last = final
        return out


def read_readings_file(path: str | Path, *, tz: str, format: str | None = None,
                       source: str | None = None, parallel: bool = True) -> ReadResult:
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
    parallel : bool
        Let DuckDB's parallel reader parse a long CSV file (:mod:`thermaliq.sources.bulk`);
        False: pyarrow's reader block by block. Both give the same result.

    Returns
    -------
    ReadResult
        ``readings`` (``tag, ts, value, unit, quality, source, row``; ts in UTC, value in the
        file's unit), ``rejects`` (``source, row, reason, raw``) and ``notes`` (DST repairs, …).

    Raises
    ------
    DataError
        The file as a whole cannot be read (see the module docstring); names the file.

    Notes
    -----
    The whole file becomes one frame; :class:`ReadingsStream` reads it in bounded chunks.

    Examples
    --------
    >>> r = read_readings_file("tests/data/readings/long_offset.csv", tz="UTC")  # doctest: +SKIP
    >>> r.readings[["tag", "ts", "value"]].iloc[0].tolist()  # doctest: +SKIP
    ['FT-101', Timestamp('2024-01-15 06:00:00+0000', tz='UTC'), 1520.5]
    """
    stream = ReadingsStream(path, tz=tz, format=format, source=source, parallel=parallel)
    parts = list(stream)
    if len(parts) == 1:
        return ReadResult(parts[0].readings, parts[0].rejects, stream.notes)
    readings = [p.readings for p in parts if len(p.readings)]
    rejects = [p.rejects for p in parts if len(p.rejects)]
    return ReadResult(pd.concat(readings, ignore_index=True) if readings else empty_raw_readings(),
                      _sorted_rejects(pd.concat(rejects, ignore_index=True)) if rejects
                      else empty_rejects(), stream.notes)


def _after_records(batches: Iterator[pa.RecordBatch], skip: int) -> Iterator[pa.RecordBatch]:
    """The record batches of ``batches`` without their first ``skip`` records."""
    for batch in batches:
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        yield batch.slice(skip) if skip else batch
        skip = 0


def _with_original_lines(bad: pa.Table, raw_batch: pa.RecordBatch, start: int,
                         delimiter: str) -> pa.Table:
    """Rejects whose ``raw`` is their record as the file wrote it (its fields joined by the file's
    delimiter; quotes are not restored), not the parser's re-joined fields."""
    if not bad.num_rows:
        return bad
    rows = raw_batch.take(pc.subtract(bad["row"], start + 1).cast(pa.int64()).combine_chunks())
    fields = [pc.fill_null(c, "") for c in rows.columns]
    line = pc.binary_join_element_wise(*fields, delimiter) if len(fields) > 1 else fields[0]
    line = pc.utf8_slice_codeunits(line, 0, RAW_MAX_CHARS)
    return bad.set_column(bad.schema.get_field_index("raw"), "raw", line)


def _sorted_rejects(r: pd.DataFrame) -> pd.DataFrame:
    return r.sort_values("row", kind="stable", ignore_index=True)


def _rejects_frame(bads: list, skip_rows: np.ndarray, skipped: list, source: str) -> pd.DataFrame:
    """Rejects (``source, row, reason, raw``) of parsed rows and malformed records, by row."""
    rej = [_to_pandas_rejects(t, skip_rows) for t in bads if t.num_rows]
    if skipped:
        rej.append(pd.DataFrame({"row": np.array([s[0] for s in skipped], dtype=np.int64),
                                 "reason": [s[1] for s in skipped],
                                 "raw": [str(s[2])[:RAW_MAX_CHARS] for s in skipped]}))
    if not rej:
        return empty_rejects()
    r = _sorted_rejects(pd.concat(rej, ignore_index=True))
    return pd.DataFrame({"source": pd.Series(source, index=r.index, dtype="str"),
                         "row": r["row"].astype("int64"), "reason": r["reason"].astype("str"),
                         "raw": r["raw"].astype("str")})


def _to_pandas_rejects(t: pa.Table, skip_rows: np.ndarray) -> pd.DataFrame:
    df = t.to_pandas()
    df["row"] = record_numbers(df["row"].to_numpy(np.int64), skip_rows)
    return df


def _readings_table(goods: list, skip_rows: np.ndarray, source: str, clock: WallClock) -> pa.Table:
    """The chunk's good rows as the Arrow form of raw readings (see :class:`ReadResult`), record
    numbers counting malformed records and naive wall-clock times localised by ``clock``."""
    goods = [g for g in goods if g.num_rows]
    if not goods:
        return _arrow_of(empty_raw_readings())
    t = pa.concat_tables(goods)
    del goods
    row = record_numbers(t["row"].to_numpy(), skip_rows)
    inst = t["inst"].cast(pa.int64())
    ts = pc.fill_null(inst, 0).to_numpy(zero_copy_only=False) * 1000   # [ns]; naive rows below
    if inst.null_count:
        ts[pc.is_null(inst).to_numpy(zero_copy_only=False)] = np.iinfo(np.int64).min   # NaT
    naive = pc.is_valid(t["wall"]).to_numpy(zero_copy_only=False)
    if naive.any():
        idx = np.flatnonzero(naive)
        w = pd.Series(t["wall"].filter(pa.array(naive)).to_pandas(), dtype="datetime64[ns]")
        w.index = idx
        tags = t["tag"].take(pa.array(idx)).to_pandas()
        inst = clock.localize(w, pd.Series(tags.to_numpy(), index=idx), pd.Series(row[idx], index=idx))
        ts[idx] = inst.dt.tz_localize(None).to_numpy().astype("int64")
    n = t.num_rows
    return pa.table({"tag": t["tag"].combine_chunks().cast(pa.string()),
                     "ts": pa.array(ts, pa.int64()).view(pa.timestamp("ns", tz="UTC")),
                     "value": t["value"].combine_chunks().cast(pa.float64()),
                     "unit": t["unit"].combine_chunks().cast(pa.string()),
                     "quality": t["quality"].combine_chunks().cast(pa.string()),
                     "source": pa.repeat(pa.scalar(source, pa.string()), n),
                     "row": pa.array(row.astype("int64"))})


def _arrow_of(frame: pd.DataFrame) -> pa.Table:
    """Arrow form of an (empty) raw-readings frame."""
    return pa.table({"tag": pa.array(frame["tag"], pa.string()),
                     "ts": pa.array(frame["ts"].array.asi8, pa.int64()).view(pa.timestamp("ns", tz="UTC")),
                     "value": pa.array(frame["value"], pa.float64()),
                     "unit": pa.array(frame["unit"], pa.string()),
                     "quality": pa.array(frame["quality"], pa.string()),
                     "source": pa.array(frame["source"], pa.string()),
                     "row": pa.array(frame["row"], pa.int64())})


def _frame_of(t: pa.Table) -> pd.DataFrame:
    """The raw-readings frame (pandas, dtypes of :func:`empty_raw_readings`) of the Arrow form."""
    ts = t["ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    return pd.DataFrame({"tag": pd.Series(t["tag"].to_pandas(), dtype="str"),
                         "ts": pd.DatetimeIndex(ts.view("datetime64[ns]")).tz_localize("UTC"),
                         "value": t["value"].to_numpy(zero_copy_only=False).astype("float64"),
                         "unit": pd.Series(t["unit"].to_pandas(), dtype="str"),
                         "quality": pd.Series(t["quality"].to_pandas(), dtype="str"),
                         "source": pd.Series(t["source"].to_pandas(), dtype="str"),
                         "row": t["row"].to_numpy(zero_copy_only=False).astype("int64")})


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


__all__ = ["ReadResult", "ReadingsStream", "read_readings_file", "batch_rows_setting", "read_readings_files",
           "tag_index", "empty_raw_readings", "empty_rejects", "READING_COLUMNS", "REJECT_COLUMNS"]
