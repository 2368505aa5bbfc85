"""The write counter of a facility's results: versions ordered by a counter, not by a clock.

Every result write of a facility (a window's or a month's rows) takes the next number of the
facility's counter, under the facility's write lock (:func:`thermaliq.store.lake.facility_lock`):
the number names the write's files (``<seq:020d>.parquet``), is stored in their ``write_seq``
column, and orders the versions (the catalog marks the highest ``write_seq`` current). A clock
could step back (NTP, a VM moved, a wrong BIOS time) and make an older write look newer; the
counter cannot.

The counter lives in ``lake/_seq/facility_id=F`` (a text file, replaced atomically). Where it is
missing (a lake written before it existed, or the file lost), it starts above the highest
``write_seq`` the facility's result files are named after, so it never goes back either.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_SEQ_NAME = re.compile(r"^(\d{1,20})\.parquet$")
RESULT_DATASETS = ("calculations", "stream_energies", "data_quality", "alerts")


def counter_path(lake: Path, facility_id: str) -> Path:
    return lake / "_seq" / f"facility_id={facility_id}"


def highest_stored_seq(lake: Path, facility_id: str) -> int:
    """The highest write number among the facility's result files (0 when there are none)."""
    best = 0
    for dataset in RESULT_DATASETS:
        folder = lake / dataset / f"facility_id={facility_id}"
        for path in folder.glob("month=*/*.parquet"):
            match = _SEQ_NAME.match(path.name)
            if match:
                best = max(best, int(match.group(1)))
    return best


def next_write_seq(lake: Path, facility_id: str) -> int:
    """Take the next write number of ``facility_id`` [count]; the caller holds the facility lock.

    Examples
    --------
    A new lake counts 1, 2, 3, ...; a lake whose files are named by the former wall-clock numbers
    (e.g. 1733130000000000000) goes on from the highest of them.
    """
    path = counter_path(lake, facility_id)
    try:
        last = int(path.read_text().strip())
    except FileNotFoundError:
        last = 0
    except ValueError:          # a damaged counter file: the files on disk still tell the highest
        last = 0
    last = max(last, highest_stored_seq(lake, facility_id)) if last == 0 else last
    seq = last + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{seq}\n")
    os.replace(tmp, path)
    return seq
