"""A home with a 20-tag facility for the OPC UA and PI Web API tests, and the same data as files."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tests.helpers import constant_boiler_config, write_facility
from thermaliq import periods
from thermaliq.config import load_facility
from thermaliq.pipeline import ingest
from thermaliq.store import catalog

TZ = "Europe/Berlin"
FIRST, LAST = date(2024, 5, 27), date(2024, 6, 2)        # a week of local days
BOILER = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
METERS = {f"EL-{i:02d}": 50.0 + 10 * i for i in range(1, 17)}    # 16 electricity feeders [kW]
TAGS = {**BOILER, **METERS}                                       # 20 tags


def twenty_tag_config(facility_id: str, source: dict) -> dict:
    """The constant boiler plus 16 metered electricity inputs: 20 tags, all configured."""
    config = constant_boiler_config(facility_id, TZ)
    config["source"] = source
    config["streams"] += [{"id": f"power-{tag}", "role": "input", "carrier": "electricity",
                           "flow": {"tag": tag, "unit": "kW"}} for tag in METERS]
    return config


def week_data(seed: int = 11) -> pd.DataFrame:
    """A week (local days FIRST..LAST) of 1-minute readings of the 20 tags, each value distinct
    (noise of 0.1 %), so that an exact comparison means something. Columns ``tag, ts, value``."""
    start, end = periods.day_window(FIRST, LAST, TZ)
    ts = pd.date_range(start, end, freq="1min", inclusive="left").tz_convert("UTC")
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"tag": tag, "ts": ts,
                                    "value": v * (1 + 0.001 * rng.standard_normal(len(ts)))})
                      for tag, v in TAGS.items()], ignore_index=True)


def ingest_as_files(home, facility_id: str, data: pd.DataFrame) -> None:
    """The same readings as a long CSV (``timestamp, tag, value, quality``) through a files facility."""
    write_facility(home.root, twenty_tag_config(facility_id, {
        "kind": "files", "path": f"inbox/{facility_id}/*.csv", "format": "long"}))
    folder = home.root / "inbox" / facility_id
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": data["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "tag": data["tag"],
                  "value": data["value"].map(repr), "quality": data["quality"]}
                 ).to_csv(folder / "week.csv", index=False)
    facility = load_facility(home.facility_file(facility_id))
    summary = ingest.ingest_files(home, facility)
    assert summary.file_errors == [] and summary.rejected == 0, summary


def stored(home, facility_id: str) -> pd.DataFrame:
    """The lake's readings of a facility (tag, ts, value, quality), in order."""
    con = catalog.memory_connection(home)
    try:
        return con.execute("SELECT tag, ts, value, quality FROM readings WHERE facility_id = ? "
                           "ORDER BY tag, ts", [facility_id]).df()
    finally:
        con.close()


def quarantined(home, facility_id: str) -> pd.DataFrame:
    con = catalog.memory_connection(home)
    try:
        return con.execute("SELECT * FROM quarantine WHERE facility_id = ?", [facility_id]).df()
    finally:
        con.close()
