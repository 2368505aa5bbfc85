"""Helpers shared by the tasks: loading a facility, retry conditions."""
from __future__ import annotations

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
