"""The ``runs`` relation: one row per flow run, written at start and replaced at the end."""
from __future__ import annotations

import json

import pandas as pd

from thermaliq.store import lake
from thermaliq.home import Home


def record_run(home: Home, run_id: str, flow: str, parameters: dict, *, status: str,
               started_at: pd.Timestamp, finished_at: pd.Timestamp | None = None,
               reason: str | None = None) -> None:
    """Write the row of one run (status ``running``, ``completed`` or ``failed``)."""
    lake.write_run(home.lake, {
        "run_id": run_id, "flow": flow, "started_at": started_at, "finished_at": finished_at,
        "status": status, "parameters": json.dumps(parameters, default=str, sort_keys=True),
        "reason": reason,
    })
