"""File access for :mod:`thermaliq.sources.readers`: suffixes, CSV header sniffing, record batches.

Every file is turned into a stream of Arrow record batches whose columns are all strings, so
that :mod:`thermaliq.sources.readers` parses CSV and Parquet the same way. CSV is streamed with
``pyarrow.csv.open_csv`` (single-threaded, so malformed records come back with their record
number, see ``RecordBatches.skipped``); Parquet with ``ParquetFile.iter_batches``.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from thermaliq.errors import DataError

_DELIMITERS = [",", ";", "\t", "|"]
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
BLOCK_BYTES = 16 << 20   # bytes of CSV text per record batch (the first one decides decimal and date forms)
_FIRST_LINE = re.compile("[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*")
# The same for ASCII bytes: the line breaks of str.splitlines and the characters str.isspace
# takes for white space, among the ASCII ones.
_ASCII_FIRST_LINE = re.compile(b"[^\n\r\x0b\x0c\x1c\x1d\x1e]*")
_ASCII_BLANK = re.compile(b"[\t\n\x0b\x0c\r\x1c-\x1f ]*")
RESERVED_COLUMNS = {"timestamp", "tag", "value", "unit", "quality"}  # matched case-insensitively


def _suffix_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(f"unsupported file type (expected {', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)})",
                    source=str(path))


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _sniff_header(path: Path, source: str) -> tuple[str, list[str], str]:
    """Delimiter, column names and encoding (UTF-8, else Windows-1252) of a CSV file."""
    with _open_bytes(path) as fh:
        try:
            head = _read_head(fh)
        except (OSError, EOFError) as exc:
            raise DataError(f"cannot read file: {exc}", source=source) from exc
    first, encoding = header_line(head)
    if first is None:
        raise DataError("empty file (no header line)", source=source)
    best = max(_DELIMITERS, key=lambda d: len(next(csv.reader([first], delimiter=d))))
    names = next(csv.reader([first], delimiter=best))
    return best, [n.strip() if n.strip().lower() in RESERVED_COLUMNS else n for n in names], encoding


#: Bytes of a CSV file read to find its header line and encoding [bytes].
HEAD_BYTES = 1 << 20
_HEAD = threading.local()


def _read_head(fh) -> memoryview:
    """The first :data:`HEAD_BYTES` of an open file (fewer when it is shorter), read into this
    thread's reused buffer (a new MiB per file cost ~0.3 ms of allocation and page faults);
    valid until the next call in the same thread."""
    buf = getattr(_HEAD, "buf", None)
    if buf is None:
        buf = _HEAD.buf = memoryview(bytearray(HEAD_BYTES))
    n = 0
    while n < HEAD_BYTES:
        got = fh.readinto(buf[n:])
        if not got:
            break
        n += got
    return buf[:n]


def header_line(head: bytes | memoryview) -> tuple[str | None, str]:
    """The first line of a CSV file's first bytes ``head`` (None when they hold nothing but white
    space) and its encoding (``utf8``, else ``cp1252``), as :func:`decoded_header_line` tells.

    ASCII bytes (most files) are UTF-8 as they are: only the first line is decoded, instead of
    the whole MiB, and ASCII white space and line breaks are told from the bytes.
    """
    if len(head) and np.frombuffer(head, dtype=np.uint8).max() >= 0x80:
        return decoded_header_line(bytes(head))
    if _ASCII_BLANK.fullmatch(head):
        return None, "utf8"
    return _ASCII_FIRST_LINE.match(head).group().decode("ascii"), "utf8"


def decoded_header_line(head: bytes) -> tuple[str | None, str]:
    """:func:`header_line` of any bytes: ``head`` decoded as UTF-8 (a character cut off at its
    end is fine; without the BOM), else as Windows-1252."""
    try:
        text, encoding = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False), "utf8"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    if not text or text.isspace():   # = not text.strip(), without copying 1 MiB
        return None, encoding
    return _FIRST_LINE.match(text).group(), encoding   # = text.splitlines()[0], without splitting


def text_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (``len(texts) + 1``) and the data bytes of an Arrow string or large-string array,
    as views of its buffers: text ``i`` is ``data[offsets[i]:offsets[i + 1]]`` (checks that read
    the bytes instead of the Python strings)."""
    _, offsets_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if pa.types.is_large_string(texts.type)
                            else np.int32)[texts.offset:texts.offset + len(texts) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    return offsets, data


class RecordBatches:
    """Record batches of all-string columns plus the record numbers of malformed CSV rows."""

    def __init__(self, path: Path, source: str):
        self.path, self.source = path, source
        self.kind = _suffix_kind(path)
        self.skipped: list[tuple[int, str, str]] = []
        self.delimiter, self.encoding, self.notes = ",", "utf8", []
        if self.kind == "csv":
            self.delimiter, self.names, self.encoding = _sniff_header(path, source)
            if self.encoding != "utf8":
                self.notes.append(f"{source}: not UTF-8; read as Windows-1252 ({self.encoding})")
        else:
            try:
                self._pq = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"not a readable Parquet file: {exc}", source=source) from exc
            self.names = list(self._pq.schema_arrow.names)

    def _on_invalid(self, row) -> str:
        reason = f"wrong number of fields (expected {row.expected_columns}, got {row.actual_columns})"
        self.skipped.append((int(row.number) - 1, reason, row.text))
        return "skip"

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self.kind == "parquet":
            for b in self._pq.iter_batches(batch_size=1 << 20):
                yield pa.record_batch([c if pa.types.is_string(c.type) else pc.cast(c, pa.string())
                                       for c in b.columns], names=self.names)
            return
        names = [f"c{i}" for i in range(len(self.names))]  # positional: names may repeat
        try:
            reader = pcsv.open_csv(
                pa.input_stream(str(self.path), compression="detect"),
                read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False,
                                              block_size=BLOCK_BYTES, encoding=self.encoding),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                invalid_row_handler=self._on_invalid),
                convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                    null_values=[""], strings_can_be_null=True,
                                                    quoted_strings_can_be_null=True))
            for b in reader:
                yield pa.record_batch(b.columns, names=self.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"cannot parse CSV ({self.encoding}): {exc}", source=self.source) from exc
