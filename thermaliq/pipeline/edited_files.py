"""A readings file edited after it was ingested: its new content replaces what it held before.

The conflict rule (:mod:`thermaliq.quality.cleaning`) settles two readings of one tag and instant
by quality flag, then by (source file, row); an edited file's old and new reading of an instant
have the same file and usually the same row, so the stored one stayed and the correction was
lost. Before a changed file (new size or SHA-256 against the ledger) is read again, the readings
it contributed are therefore removed from the facility's day partitions; the file's new content
then goes in as it would into a lake that never saw the old one. Readings of other files are not
touched, and the file's old rejects stay in quarantine (nothing is lost).

Crash safety: the ledger still holds the old SHA-256 until the new content is in, so a run that
dies in between sees the file as changed again and repeats both steps.
"""
from __future__ import annotations

from datetime import date

import pyarrow.compute as pc
import pyarrow.parquet as pq

from thermaliq.home import Home
from thermaliq.store import lake


def forget_source(home: Home, facility_id: str, source: str) -> int:
    """Remove the stored readings of file ``source`` (path relative to the home) [rows removed].

    Holds the facility's write lock; a day left without readings loses its partition.
    """
    removed = 0
    with lake.facility_lock(home.lake, facility_id):
        for day in lake.readings_days(home.lake, facility_id):
            path = lake.readings_partition(home.lake, facility_id, day)
            sources = pq.read_table(path, columns=["source"]).column("source")
            if not pc.any(pc.equal(sources, source)).as_py():
                continue
            table = lake.read_readings_table(home.lake, facility_id, day)
            kept = table.filter(pc.invert(pc.equal(table.column("source"), source)))
            removed += table.num_rows - kept.num_rows
            _replace_day(home, facility_id, day, kept)
    return removed


def _replace_day(home: Home, facility_id: str, day: date, kept) -> None:
    if kept.num_rows:
        lake.write_readings_day(home.lake, facility_id, day, kept)
    else:
        lake.remove_readings_day(home.lake, facility_id, day)
