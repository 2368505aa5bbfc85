"""Windows computed side by side, stored in order (thermaliq.pipeline.jobs, thermaliq.store.stash).

The calculation job computes a window and leaves it on disk; the store job adds the alerts
(the anomaly alert reads the stored days before the window) and stores it. So the order in
which windows are computed must not matter, and the order in which they are stored must.
"""
from __future__ import annotations

import os
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.pipeline import ingest, jobs
from thermaliq.store import stash
from thermaliq.config import load_facility
from thermaliq.home import Home

TZ = "Europe/Berlin"
VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
FIRST, LAST = date(2024, 6, 1), date(2024, 6, 9)
WINDOWS = [(date(2024, 6, 1), date(2024, 6, 8)), (date(2024, 6, 9), date(2024, 6, 9))]
GX_PASSED = {"success": True, "results": [], "data_docs_path": None}


def _fouled_home(home):
    """The constant boiler of issue #2 (79.87 % HHV) for 8 days, then 20 % more gas on day 9
    for the same steam: 79.87 / 1.2 = 66.56 %, 13.3 points below the 7-day mean (> 10). Gas and
    steam flows wobble by ±0.1 % around their values (alternately), so no meter looks frozen and
    the day efficiencies stay those of the constant boiler."""
    frame = constant_readings(FIRST, LAST, TZ, VALUES, freq="5min")
    wobble = np.where(np.arange(len(frame)) % 2 == 0, 1.001, 0.999)
    frame["FT-101"] *= wobble
    frame["FT-201"] *= wobble
    local = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(TZ)
    frame.loc[local.dt.date == LAST, "FT-101"] *= 1.2
    write_facility(home.root, constant_boiler_config(timezone=TZ))
    write_daily_csv(home.root, "BOILER-1", frame)
    ingest.ingest_files(home, load_facility(home.facility_file("BOILER-1")))
    return str(home.root)


def _boiler(home: str):
    return load_facility(Home.resolve(home).facility_file("BOILER-1"))


def test_windows_computed_out_of_order_are_stored_in_order(home):
    h = _fouled_home(home)
    fac = _boiler(h)
    computed = {w: jobs.compute_window_job(h, fac, *w, "run-1") for w in reversed(WINDOWS)}
    assert all(os.path.exists(c.stash) for c in computed.values())
    assert computed[WINDOWS[1]].profile["n_readings"].sum() == 4 * 288   # day 9's own readings
    stored = [jobs.store_window_job(h, fac, computed[w], "run-1", GX_PASSED) for w in WINDOWS]

    assert [len(s.days) for s in stored] == [8, 1]
    assert stored[0].days[0].efficiency_percent == pytest.approx(79.87, abs=0.03)
    assert stored[1].days[0].efficiency_percent == pytest.approx(79.87 / 1.2, abs=0.03)
    # no below_benchmark: the DOE table is combustion efficiency and this boiler declares no
    # flue-gas loss, so there is no indirect efficiency to place (issue #14)
    assert sorted(a.kind for a in stored[1].alerts) == ["efficiency_anomaly"]
    assert not any(os.path.exists(c.stash) for c in computed.values())   # taken = removed


def test_a_window_stored_without_its_history_has_no_anomaly(home):
    """The control: day 9 alone (nothing stored before it) has no 7-day mean, so no anomaly
    (and no benchmark alert: without a flue-gas stream there is no indirect efficiency to place
    against the DOE combustion table)."""
    h = _fouled_home(home)
    fac = _boiler(h)
    stored = jobs.store_window_job(h, fac, jobs.compute_window_job(h, fac, *WINDOWS[1], "run-1"),
                                   "run-1", GX_PASSED)
    assert [a.kind for a in stored.alerts] == []


def test_a_taken_window_is_gone_and_says_so(home):
    h = _fouled_home(home)
    computed = jobs.compute_window_job(h, _boiler(h), *WINDOWS[1], "run-1")
    stash.take(computed.stash)
    with pytest.raises(FileNotFoundError, match="BOILER-1-2024-06-09-2024-06-09.pickle"):
        stash.take(computed.stash)


def test_stale_run_folders_go_and_current_ones_stay(home):
    old = stash.run_dir(home, "killed-run")
    new = stash.run_dir(home, "running/../run")       # an unsafe id stays inside _scratch
    for folder in (old, new):
        folder.mkdir(parents=True)
        (folder / "x.pickle").write_bytes(b"")
    assert new.parent == stash.scratch_root(home)
    past = time.time() - 2 * stash.STALE_AFTER_S
    os.utime(old, (past, past))
    assert stash.discard_stale(home) == 1
    assert not old.exists() and new.exists()
    stash.discard_run(home, "running/../run")
    assert not new.exists()
