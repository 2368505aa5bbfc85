"""Small builders of homes for the flow and pipeline tests."""
from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


def constant_boiler_config(facility_id: str = "BOILER-1", timezone: str = "Europe/Berlin") -> dict:
    """The boiler of issue #2: steam 10 000 kg/h saturated at 1.0 MPa abs, feedwater 105 degC,
    gas 750 m3/h at 39.0 MJ/m3 (HHV, the facility's basis)."""
    return {
        "facility_id": facility_id, "name": "Constant test boiler", "type": "steam_boiler",
        "timezone": timezone, "interval": "15min", "basis": "HHV",
        "source": {"kind": "files", "path": f"inbox/{facility_id}/*.csv"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "flow": {"tag": "FT-101", "unit": "m3/h", "range": [0, 2500]},
             "heating_value": {"value": 39.0, "unit": "MJ/m3"}},
            {"id": "steam", "role": "output", "carrier": "steam",
             "flow": {"tag": "FT-201", "unit": "kg/h"},
             "pressure": {"tag": "PT-201", "unit": "MPa"},
             "feedwater_temperature": {"tag": "TT-202", "unit": "degC"}},
        ],
    }


def write_facility(home: Path, config: dict) -> Path:
    path = home / "facilities" / f"{config['facility_id']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def constant_readings(first: date, last: date, timezone: str, values: dict[str, float],
                      freq: str = "1min") -> pd.DataFrame:
    """Wide readings with naive local timestamps over local days first..last."""
    start = pd.Timestamp(first).tz_localize(timezone)
    end = pd.Timestamp(last + timedelta(days=1)).tz_localize(timezone)
    ts = pd.date_range(start, end, freq=freq, inclusive="left")
    frame = pd.DataFrame({"timestamp": ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")})
    for tag, value in values.items():
        frame[tag] = np.full(len(ts), value)
    return frame


def write_daily_csv(home: Path, facility_id: str, frame: pd.DataFrame) -> list[Path]:
    """One wide CSV per UTC day of ``frame`` under inbox/<facility_id>/."""
    folder = home / "inbox" / facility_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for day, part in frame.groupby(frame["timestamp"].str[:10]):
        path = folder / f"{day}.csv"
        part.to_csv(path, index=False)
        paths.append(path)
    return paths


def chromium() -> str:
    """Path of a headless-capable Chromium; fails (THERMALIQ_REQUIRE_CHROMIUM=1) or skips without one."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("THERMALIQ_REQUIRE_CHROMIUM") == "1":
        pytest.fail("Chromium is required (THERMALIQ_REQUIRE_CHROMIUM=1) but not installed")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")
