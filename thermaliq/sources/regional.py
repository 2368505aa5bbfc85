"""Readings as regional spreadsheets write them: decimal commas and day-first dates.

A European Excel export (``;`` between fields, ``1234,5`` numbers, ``19.10.2026 00:00`` times) is
turned into the text the parser reads (``1234.5``, ``2026-10-19T00:00:00``) before parsing, one
record batch at a time, so every later rule (wall-clock times, DST, rejects) applies unchanged.

* ``decimal``: ``","`` or ``"."`` from the facility's ``source.decimal``; when not given, a decimal
  comma is detected in a file whose fields are not separated by commas and whose values are written
  ``1234,5`` (never ``1234.5``). Thousands dots (``1.234,5``) are dropped with a decimal comma.
* ``timestamp_format``: a ``strftime`` format from ``source.timestamp_format`` (``%z`` for an
  offset). When not given, dates written ``DD.MM.YYYY`` (dots: day first, DIN 5008) or
  ``A/B/YYYY`` / ``A-B-YYYY`` are recognised in a file written mostly so: a first number above 12 means day first, a second one
  above 12 month first; when no row tells (every day of the file is a 1st..12th), the file is
  refused with the fix rather than guessed.

A text that does not parse keeps its original form, so the row is rejected with the parser's own
reason and its original line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thermaliq.errors import DataError
from thermaliq.sources.file_io import text_bytes

_DATE_RE = re.compile(r"^\s*(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[ T]\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*$")
#: What every :data:`_DATE_RE` match contains, in Arrow's regex syntax (RE2 has no backreference;
#: ``\p{Nd}`` is any Unicode digit, as Python's ``\d``).
_DATE_PART = r"\p{Nd}{1,2}[./-]\p{Nd}{1,2}[./-]\p{Nd}{4}"
_COMMA_NUMBER = r"^\s*[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+\s*$"
_DOT_NUMBER = r"^\s*[+-]?\d+\.\d+\s*$"
_THOUSANDS_DOT = r"^\s*[+-]?\d{1,3}(\.\d{3})+(,\d+)?\s*$"
_TIMES = (" %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M", "")


@dataclass(frozen=True)
class Regional:
    """How a file writes numbers and times: ``decimal`` (``"."`` or ``","``) and the strftime
    ``date_formats`` tried in turn for timestamps (empty: ISO 8601, parsed as it is)."""

    decimal: str = "."
    date_formats: tuple[str, ...] = ()

    def apply(self, batch: pa.RecordBatch, timestamp_idx: int, value_idx: list[int]) -> pa.RecordBatch:
        """``batch`` with its timestamp and value columns rewritten as the parser reads them."""
        if self.decimal == "." and not self.date_formats:
            return batch
        cols = list(batch.columns)
        if self.date_formats:
            cols[timestamp_idx] = _iso_times(cols[timestamp_idx], self.date_formats)
        if self.decimal == ",":
            for i in value_idx:
                cols[i] = _point_decimals(cols[i])
        return pa.record_batch(cols, names=batch.schema.names)


def regional_of(batch: pa.RecordBatch, timestamp_idx: int, value_idx: list[int], delimiter: str,
                decimal: str | None, timestamp_format: str | None, source: str) -> tuple[Regional, list[str]]:
    """The :class:`Regional` of a file from its configuration, or detected on its first batch.

    Returns the rules and notes saying what was detected. Raises ``DataError`` naming the file
    when its dates could be day-first or month-first and nothing tells which.
    """
    notes: list[str] = []
    if decimal is None:
        decimal = "."
        if delimiter != "," and value_idx:
            values = pa.chunked_array([batch.column(i) for i in value_idx], type=pa.string())
            comma = pc.any(pc.match_substring_regex(values, _COMMA_NUMBER)).as_py()
            dot = pc.any(pc.match_substring_regex(values, _DOT_NUMBER)).as_py()
            if comma and not dot:
                decimal = ","
                notes.append(f"{source}: decimal comma detected (set source.decimal to be explicit)")
    if timestamp_format is not None:
        return Regional(decimal, (timestamp_format,)), notes
    formats = _detect_dates(batch.column(timestamp_idx), source)
    if formats:
        notes.append(f"{source}: dates read as {formats[1].strip()} "
                     "(set source.timestamp_format to be explicit)")
    return Regional(decimal, formats), notes


def _detect_dates(stamps: pa.Array, source: str) -> tuple[str, ...]:
    """strftime formats of non-ISO dates in ``stamps`` (empty for ISO 8601), or DataError.

    The distinct texts (the first 5 000) decide; those that could be such a date are counted in
    Arrow first, so a file of ISO 8601 instants is never matched text by text in Python."""
    if _digits_first(stamps):
        return ()
    distinct = pc.unique(stamps).slice(0, 5000)
    if pa.types.is_string(distinct.type) or pa.types.is_large_string(distinct.type):
        texts_n = pc.sum(pc.greater(pc.utf8_length(distinct), 0)).as_py() or 0
        could_be = pc.sum(pc.match_substring_regex(distinct, _DATE_PART)).as_py() or 0
        if 2 * could_be <= texts_n:        # at most these match _DATE_RE: not more than half
            return ()
    texts = [t for t in distinct.to_pylist() if t]
    parsed = [m for m in map(_DATE_RE.match, texts) if m]
    if 2 * len(parsed) <= len(texts):
        return ()   # mostly ISO 8601: a stray other form is rejected row by row, not reinterpreted
    sep = parsed[0].group(2)
    day_first = any(int(m.group(1)) > 12 for m in parsed)
    month_first = any(int(m.group(3)) > 12 for m in parsed)
    if day_first and month_first:
        raise DataError(f"dates such as {parsed[0].group(0).strip()!r} are written both day first and "
                        "month first", source=source,
                        fix="export one date format, or set source.timestamp_format")
    if not (day_first or month_first):
        if sep != ".":
            example = parsed[0].group(0).strip()
            raise DataError(
                f"dates such as {example!r} could be day first or month first and no row tells which",
                source=source,
                fix=f"set source.timestamp_format to '%d{sep}%m{sep}%Y %H:%M' (day first) or "
                    f"'%m{sep}%d{sep}%Y %H:%M' (month first) in the facility file")
        day_first = True   # DD.MM.YYYY: dotted dates are day first (DIN 5008); no locale writes M.D.Y
    date = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
    return tuple(date + t for t in _TIMES)


def _digits_first(stamps: pa.Array, n: int = 3) -> bool:
    """Whether every text of ``stamps`` begins with ``n`` (3) ASCII digits, as ISO 8601 dates
    do (``2024-...``): no such text can match :data:`_DATE_RE` (one or two digits, then a
    separator), so a file of ISO instants needs no closer look. Read from the column's bytes."""
    if isinstance(stamps, pa.ChunkedArray):
        return all(_digits_first(chunk, n) for chunk in stamps.chunks)
    if not (pa.types.is_string(stamps.type) or pa.types.is_large_string(stamps.type)) \
            or len(stamps) == 0 or stamps.null_count:
        return False
    offsets, data = text_bytes(stamps)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    if (lengths < n).any():
        return False
    width = int(lengths[0])
    if (lengths == width).all():    # one form (``...Z`` instants): byte k of each text is a view
        texts = data[starts[0]:starts[0] + width * len(lengths)].reshape(-1, width)
        columns = (texts[:, k] for k in range(n))
    else:
        columns = (data[starts + k] for k in range(n))
    return all(_ascii_digits(c) for c in columns)


def _ascii_digits(codes: np.ndarray) -> bool:
    """Whether every byte of ``codes`` is an ASCII digit (``code - 0x30`` wraps around below
    ``0``, so one comparison tells)."""
    return bool((np.subtract(codes, 0x30, dtype=np.uint8) < 10).all())


def _iso_times(column: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    """ISO 8601 text of ``column`` parsed with the first of ``formats`` that fits; else unchanged."""
    out = column
    trimmed = pc.utf8_trim_whitespace(column)
    for fmt in reversed(formats):   # the first format wins: it is applied last
        parsed = pc.strptime(trimmed, format=fmt, unit="us", error_is_null=True)
        iso = pc.strftime(parsed, format="%Y-%m-%dT%H:%M:%S")
        if "%z" in fmt:
            iso = pc.binary_join_element_wise(iso, pa.scalar("Z"), "")
        out = pc.if_else(pc.is_valid(parsed), iso, out)
    return out


def _point_decimals(column: pa.Array) -> pa.Array:
    """``1.234,5`` -> ``1234.5`` and ``12,5`` -> ``12.5``; other texts unchanged."""
    thousands = pc.match_substring_regex(column, _THOUSANDS_DOT)
    text = pc.if_else(thousands, pc.replace_substring(column, ".", ""), column)
    return pc.replace_substring(text, ",", ".")
