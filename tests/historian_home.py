"""A home whose facility reads the constant boiler from a local HistorianSimulator (127.0.0.1)."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tests.helpers import constant_boiler_config, write_facility

DAY = date(2024, 5, 30)
TZ = "Europe/Berlin"
TAGS = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}


def simulator_data(seed: int = 7) -> pd.DataFrame:
    """One local day (and an hour either side) of 1-minute readings with a little noise, so
    that every value is distinct and an exact comparison means something."""
    start = pd.Timestamp(DAY).tz_localize(TZ) - pd.Timedelta(hours=1)
    ts = pd.date_range(start, periods=26 * 60, freq="1min").tz_convert("UTC")
    rng = np.random.default_rng(seed)
    frames = [pd.DataFrame({"tag": tag, "ts": ts,
                            "value": value * (1 + 0.001 * rng.standard_normal(len(ts)))})
              for tag, value in TAGS.items()]
    return pd.concat(frames, ignore_index=True)


def write_historian_facility(home, url: str, token_env: str, facility_id: str = "HIST-1") -> None:
    config = constant_boiler_config(facility_id, TZ)
    config["source"] = {"kind": "historian", "url": url, "token_env": token_env, "timeout_s": 5,
                        "batch_tags": 2}
    write_facility(home.root, config)
