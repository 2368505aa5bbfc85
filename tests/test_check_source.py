"""check_source for the REST historian, whose API has no tag look-up: a tag is found when it has
readings in the last 24 hours (the simulator serves the 4 boiler tags, not the 16 meters)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tests.helpers import write_facility
from tests.remote_home import BOILER, twenty_tag_config
from thermaliq.config import load_facility
from thermaliq.sources.check import check_source
from thermaliq.sources.credentials import source_credentials
from thermaliq.sources.retry import reset_breakers
from thermaliq.sources.simulator import HistorianSimulator


def test_rest_historian_tags_without_recent_readings_are_missing(home, monkeypatch):
    ts = pd.date_range(pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(hours=3), periods=60,
                       freq="1min")
    data = pd.concat([pd.DataFrame({"tag": t, "ts": ts, "value": np.full(len(ts), v)})
                      for t, v in BOILER.items()], ignore_index=True)
    monkeypatch.setenv("REST_TOKEN", "tok-rest-1")
    reset_breakers()
    with HistorianSimulator(data, token="tok-rest-1") as sim:
        write_facility(home.root, twenty_tag_config("REST-1", {"kind": "historian", "url": sim.url,
                                                               "token_env": "REST_TOKEN"}))
        facility = load_facility(home.facility_file("REST-1"))
        result = check_source(home, facility, source_credentials(facility.source))
    reset_breakers()
    assert result.error is None and not result.ok
    assert dict(result.found) == {t: "60 readings in the last 24 h" for t in BOILER}
    assert len(result.missing) == 16 and result.missing[0] == ("EL-01", "no readings in the last 24 h")
