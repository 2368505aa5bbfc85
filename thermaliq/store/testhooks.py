"""Test hook: simulate a hard crash (``kill -9``) at a chosen point of a run.

Only the crash-safety tests use this. With the environment variable ``THERMALIQ_CRASH_AT`` set to
``<point>:<n>`` the process ends with ``os._exit(137)`` (the exit status of SIGKILL) the ``n``-th
time it reaches :func:`crash_point` with that name: no ``finally`` block, no ``atexit`` handler
and no flush runs, exactly as after ``kill -9``. Without the variable the call costs one
dictionary lookup.

Points in the code:

* ``lake.write``: every Parquet write of the lake, after the temporary file is complete and
  before it is renamed into place (readings days, quarantine, ledger, results, runs);
* ``catalog.refresh``: inside the transaction that rewrites ``thermaliq.duckdb``, before COMMIT;
* ``report.write``: every HTML report page, before it is renamed into place.
"""
from __future__ import annotations

import os
import threading

from thermaliq.settings import crash_point_setting

ENV = "THERMALIQ_CRASH_AT"
_lock = threading.Lock()
_seen: dict[str, int] = {}


def crash_point(name: str) -> None:
    """End the process at once if ``THERMALIQ_CRASH_AT`` names this point and its count is due."""
    wanted = crash_point_setting()
    if not wanted:
        return
    point, _, nth = wanted.rpartition(":")
    if point != name:
        return
    with _lock:
        _seen[name] = _seen.get(name, 0) + 1
        due = _seen[name] == int(nth)
    if due:
        os._exit(137)
