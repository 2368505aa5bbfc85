"""Helpers shared by the tasks: loading a facility, retry conditions."""
from __future__ import annotations

import ctypes
import ctypes.util

from thermaliq.config import Facility, load_facility
from thermaliq.errors import ConfigError, ConfigErrors, DataError, HistorianError
from thermaliq.home import Home


def facility_of(home: str, facility_id: str) -> tuple[Home, Facility]:
    """Resolve the home and load one facility's configuration (validated)."""
    h = Home.resolve(home)
    return h, load_facility(h.facility_file(facility_id))


def retry_io_only(task, task_run, state) -> bool:
    """Retry condition: retry I/O failures, never configuration, data or auth errors."""
    try:
        state.result()
    except (ConfigError, ConfigErrors, DataError) :
        return False
    except HistorianError as exc:
        return not getattr(exc, "permanent", False)
    except OSError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not known to be transient
        return False
    return False


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc ``malloc_trim``); a no-op without glibc.

    Called at the end of the ingest and calculation tasks: task threads each keep a malloc arena,
    and without a trim the memory of every finished window stays resident, so a long backfill's
    RSS grew with the number of threads that had run a window. (No ``gc.collect()``: the
    window's frames are freed by reference counting, and a full collection cost ~0.2 s per task.)
    """
    if _TRIM is not None:
        _TRIM(0)


def _malloc_trim():
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


_TRIM = _malloc_trim()
