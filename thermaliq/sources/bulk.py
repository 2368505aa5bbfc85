"""A whole long CSV file parsed by DuckDB's parallel CSV reader, record for record as the batch path.

:class:`thermaliq.sources.readers.ReadingsStream` reads a file through pyarrow's CSV reader one
block at a time, in one thread, so that a malformed record (a wrong number of fields) comes back
with its record number. Most files hold none; for them this module lets DuckDB read and parse the
whole file on every core (``read_csv`` with every column as text, then the SQL of
:func:`thermaliq.sources.parse.long_file_sql`, the same expressions as the batch path) and hands
over the parsed records in file order (DuckDB keeps the insertion order), so the caller numbers
them by counting: record *k* of the output is record *k* of the file.

DuckDB's reader runs in strict mode: a malformed record, a quote it reads differently, a file
that is not valid UTF-8 or a broken gzip stream stops it with an error. :class:`BulkLong` then
raises :class:`BulkUnavailable` after the records already handed over, and the caller goes on
with the exact reader from the next record (every record before the error was well formed, so
the record numbers stay exact). Empty lines are skipped and a quoted value may span lines, as in
pyarrow's reader.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from thermaliq.sources.parse import long_file_sql, thread_connection

T = TypeVar("T")

#: Smallest file DuckDB's reader is used for [bytes]: below, the block-by-block reader is as fast
#: (a day file of 30 000 readings costs ~40 ms more through DuckDB's query start-up).
MIN_BYTES = 32 << 20

#: Records per batch handed over by DuckDB [rows].
BATCH_RECORDS = 1 << 19


class BulkUnavailable(Exception):
    """DuckDB's reader stopped (a malformed record, bad bytes, ...): read the rest exactly."""


def csv_scan(path: Path, ncols: int, delimiter: str) -> tuple[str, list[str]]:
    """The ``read_csv`` table expression of a file's data records (all columns text, header
    skipped) and its column names ``c0, c1, ...``."""
    names = [f"c{i}" for i in range(ncols)]
    columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
    quoted = str(path).replace("'", "''")
    compression = "gzip" if path.name.lower().endswith(".gz") else "none"
    sep = delimiter.replace("'", "''")
    scan = (f"read_csv('{quoted}', header = true, auto_detect = false, delim = '{sep}', "
            f"quote = '\"', escape = '\"', strict_mode = true, compression = '{compression}', "
            f"columns = {{{columns}}})")
    return scan, names


class BulkLong:
    """The parsed records of a long CSV file (columns ``tag, inst, wall, value, unit, quality,
    reason, raw``; ``reason`` null for a good record) in record batches, in file order.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file (UTF-8; ``.gz`` decompressed).
    lower : list of str
        The header's column names in lower case (``timestamp``, ``tag``, ``value`` among them).
    delimiter : str
        The field delimiter sniffed from the header.
    """

    def __init__(self, path: Path, lower: list[str], delimiter: str):
        scan, names = csv_scan(path, len(lower), delimiter)
        self.sql = long_file_sql(scan, names, lower, delimiter)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            reader = thread_connection().sql(self.sql).to_arrow_reader(BATCH_RECORDS)
            for batch in reader:
                if batch.num_rows:
                    yield batch
        except (duckdb.Error, pa.ArrowException) as exc:
            raise BulkUnavailable(str(exc).splitlines()[0]) from exc


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items`` produced in a background thread, at most ``depth`` ahead of the consumer.

    The reader (DuckDB's parse, pyarrow's casts) runs while the caller stores the item before,
    so both cores work. The producer starts an item only when fewer than ``depth`` items wait
    or are in the making, so memory holds the consumer's item plus ``depth`` more. An exception
    of the producer is raised here, in order; when the consumer stops early the producer stops
    before its next item.
    """
    q: queue.Queue = queue.Queue()
    slots = threading.Semaphore(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            it = iter(items)
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                item = next(it, done)
                q.put((item, None))
                if item is done:
                    return
        except BaseException as exc:   # handed to the consumer, raised there  # noqa: BLE001
            q.put((done, exc))

    thread = threading.Thread(target=produce, name="thermaliq-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            slots.release()            # taken: the producer may start the next one
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        slots.release()                # a producer waiting for a slot sees ``stop``
        thread.join()


__all__ = ["BulkLong", "BulkUnavailable", "BATCH_RECORDS", "MIN_BYTES", "csv_scan", "prefetched"]
