"""The "CSV" link next to every report table: the table's rows as a ``data:`` URL.

The link carries the very rows the table shows (same columns, same order, the text of each cell),
so a spreadsheet gets what the page displays, also from a report opened as a file or mailed.
"""
from __future__ import annotations

import csv
import io

from markupsafe import Markup

#: Byte value 0..255 -> its character or ``%XX``: :func:`urllib.parse.quote` with ``safe=""``
#: (letters, digits and ``_.-~`` kept) as a list lookup per UTF-8 byte, ~2x faster on a table's
#: CSV than ``str.translate`` with the same mapping (itself ~30x faster than ``quote``).
_PERCENT = [chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_.-~") else f"%{b:02X}"
            for b in range(256)]


def cell_text(value: object) -> str:
    """A table cell as plain text (HTML of a cell, e.g. a severity badge, reduced to its text)."""
    if value is None:
        return ""
    return value.striptags() if isinstance(value, Markup) else str(value)


def table_csv(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """CSV text: a header of the column headings, then one line per row [RFC 4180 quoting]."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell_text(head) for _, head in columns])
    keys = [key for key, _ in columns]
    blanks = [""] * len(keys)   # row.get(key, "")
    writer.writerows([[v if type(v) is str else cell_text(v) for v in map(row.get, keys, blanks)]
                      for row in rows])
    return out.getvalue()


def csv_href(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """``data:text/csv`` URL of :func:`table_csv` (UTF-8, percent-encoded)."""
    return "data:text/csv;charset=utf-8," + percent_encoded(table_csv(rows, columns))


def percent_encoded(text: str) -> str:
    """``text`` as UTF-8, percent-encoded but for letters, digits and ``_.-~`` (exactly
    ``urllib.parse.quote(text, safe="")``)."""
    percent = _PERCENT
    return "".join([percent[b] for b in text.encode("utf-8")])
