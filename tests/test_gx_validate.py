"""Tests of tasks/gx_validate.py: suites from expectations/*.json, a real GX run, Data Docs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.gx_validate import (readings_frame, suite_expectations, suite_parameters,
                               validate_readings)
from thermaliq.config import parse_facility

ROOT = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2024-06-03 05:00", tz="UTC")       # local midnight in America/Chicago


def _facility():
    return parse_facility({
        "facility_id": "GX1", "name": "gx test", "type": "steam_boiler",
        "timezone": "America/Chicago", "source": {"kind": "files", "path": "inbox/*.csv"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "flow": {"tag": "FT-101", "unit": "m3/h", "range": [0, 2500]}},
            {"id": "power", "role": "input", "carrier": "electricity",
             "counter": {"tag": "JQ-301", "unit": "kWh"}},
            {"id": "steam", "role": "output", "carrier": "steam",
             "flow": {"tag": "FT-201", "unit": "t/h"},
             "pressure": {"tag": "PT-201", "unit": "barg"},
             "temperature": {"tag": "TT-201", "unit": "degC"},
             "feedwater_temperature": {"value": 105, "unit": "degC"}},
        ]})


def _day() -> pd.DataFrame:
    ts = pd.date_range(START, periods=1440, freq="1min")
    m = np.arange(1440.0)
    series = {"FT-101": 1000 + 0.1 * m, "JQ-301": 5000 + 2 * m, "FT-201": 20 + 0 * m,
              "PT-201": 10 + 0 * m, "TT-201": 200 + 0 * m}
    return pd.concat([pd.DataFrame({"tag": t, "ts": ts, "value": v}) for t, v in series.items()],
                     ignore_index=True)


def test_physical_limits_converted_to_each_tags_unit():
    """Limits of expectations/thermaliq_physical_limits.json are SI: 173.15 K = -100 degC,
    2273.15 K = 2000 degC; 0 Pa absolute = -1.01325 barg (standard atmosphere, ISO 2533);
    100 MPa = 1000 bar = 998.98675 barg."""
    exps = suite_expectations(_facility())
    by = {(e["meta"].get("tag"), e["meta"]["check"].split(" [")[0]): e["kwargs"] for e in exps}
    tt = by[("TT-201", "physical limits of a temperature")]
    assert tt["min_value"] == pytest.approx(-100.0, abs=1e-9)      # float offset arithmetic
    assert tt["max_value"] == pytest.approx(2000.0, abs=1e-9)
    pt = by[("PT-201", "physical limits of a pressure")]
    assert pt["min_value"] == pytest.approx(-1.01325, abs=1e-9)
    assert pt["max_value"] == pytest.approx(998.98675, abs=1e-6)   # pint factor round-off
    assert by[("FT-101", "configured range")]["max_value"] == 2500.0
    assert by[("JQ-301", "physical limits of a energy")]["min_value"] == 0.0
    assert by[("FT-101", "configured range")]["column"] == "value:FT-101"
    assert suite_parameters(_facility())["max_spacing_s"] == 3600.0


def test_readings_frame_derived_columns():
    """counter_step only for counters, spacing_s per tag; hand-made three readings per tag."""
    df = pd.DataFrame({"tag": ["JQ-301", "FT-101", "JQ-301", "JQ-301", "FT-101"],
                       "ts": START + pd.to_timedelta([0, 0, 60, 180, 120], unit="s"),
                       "value": [10.0, 5.0, 12.0, 1.0, 6.0]})
    out = readings_frame(df, _facility()).set_index(["tag", "ts"])
    jq = out.loc["JQ-301"]
    assert np.isnan(jq["counter_step"].iloc[0])
    assert jq["counter_step"].iloc[1:].tolist() == [2.0, -11.0]
    assert jq["spacing_s"].iloc[1:].tolist() == [60.0, 120.0]
    assert out.loc["FT-101", "counter_step"].isna().all()
    assert out.loc["FT-101", "spacing_s"].iloc[1] == 120.0


def test_import_does_not_load_great_expectations():
    """The module imports great_expectations lazily (its import costs seconds)."""
    code = "import sys, tasks.gx_validate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One clean and one faulty validation in the same GX context (GX costs seconds per run)."""
    gx_dir = tmp_path_factory.mktemp("home") / "gx"
    fac = _facility()
    clean = validate_readings(_day(), fac, gx_dir, "GX1-clean")
    suite_file = gx_dir / "expectations" / "thermaliq_readings_GX1.json"
    ids_before = json.loads(suite_file.read_text())
    bad = _day()
    bad.loc[bad.index[(bad["tag"] == "FT-101")][:3], "value"] = -5.0       # impossible flow
    bad = pd.concat([bad, bad.iloc[[10]].assign(value=999.0),              # duplicate (tag, ts)
                     pd.DataFrame({"tag": ["XX-1"], "ts": [START], "value": [1.0]})],
                    ignore_index=True)
    jq = bad.index[bad["tag"] == "JQ-301"]
    bad.loc[jq[::20], "value"] = 0.0                                        # 5 % counter drops
    faulty = validate_readings(bad, fac, gx_dir, "GX1-faulty")
    ids_after = json.loads(suite_file.read_text())
    return gx_dir, clean, faulty, ids_before, ids_after


def test_clean_day_passes_and_data_docs_browsable(runs):
    gx_dir, clean, _, _, _ = runs
    assert clean["success"] is True
    assert all(r["success"] for r in clean["results"])
    index = Path(clean["data_docs_path"])
    assert index.name == "index.html" and index.is_file()
    assert gx_dir.resolve() in index.resolve().parents
    assert "GX1-faulty" in index.read_text()                 # the later run is listed too
    config = (gx_dir / "great_expectations.yml").read_text()
    assert "globally: false" in config                        # progress bars off


def test_faulty_day_reports_each_failed_expectation(runs):
    _, _, faulty, _, _ = runs
    assert faulty["success"] is False
    failed = {(r["expectation"], r["column"], r["tag"]): r for r in faulty["results"]
              if not r["success"]}
    phys = [r for r in faulty["results"] if not r["success"] and r["tag"] == "FT-101"]
    assert len(phys) == 2                                     # physical limit and configured range
    assert all(r["unexpected_count"] == 3 for r in phys)
    # 3 of FT-101's 1441 readings (1440 + the duplicate): the percentage is per tag (own column)
    assert phys[0]["unexpected_percent"] == pytest.approx(100 * 3 / 1441)
    assert failed[("expect_compound_columns_to_be_unique", "tag,ts", None)]["unexpected_count"] == 2
    assert failed[("expect_column_values_to_be_in_set", "tag", None)]["unexpected_count"] == 1
    steps = failed[("expect_column_values_to_be_between", "counter_step", None)]
    # every 20th of 1440 readings set to 0: 72 zeros, the first one has no previous reading
    assert steps["unexpected_count"] == 71
    passed = {(r["expectation"], r["column"]) for r in faulty["results"] if r["success"]}
    assert ("expect_column_values_to_be_between", "spacing_s") in passed


def test_suite_ids_do_not_churn(runs):
    _, _, _, before, after = runs
    assert before["id"] == after["id"]
    assert [e["id"] for e in before["expectations"]] == [e["id"] for e in after["expectations"]]
