"""Tests of tasks/gx/validate.py and thermaliq/quality/tag_profile.py: the tag profile GX validates, real
GX runs with hand-counted faults, the suite stored once per home, Data Docs built once per run,
pruning, and the data_quality issues text of tasks/calculate.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.gx import validate as gx_validate
from thermaliq.pipeline.jobs import merge_gx_issues
from tasks.gx.docs import build_data_docs, prune_validation_results
from tasks.gx.validate import (facility_of_run_name, profile, run_name, validate_profiles,
                               validate_readings)
from thermaliq.config import parse_facility
from thermaliq.quality.window_profile import physical_limits
from thermaliq.quality.tag_profile import tag_profile

ROOT = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2024-06-03 05:00", tz="UTC")       # local midnight in America/Chicago
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
BETWEEN = "expect_column_values_to_be_between"


def _facility(facility_id="GX1"):
    return parse_facility({
        "facility_id": facility_id, "name": "gx test", "type": "steam_boiler",
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


def _counter_drops(day: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` isolated readings of the counter JQ-301 set to 0: exactly ``n`` negative steps."""
    jq = day.index[day["tag"] == "JQ-301"]
    day.loc[jq[10::49][:n], "value"] = 0.0
    return day


def test_physical_limits_converted_to_each_tags_unit():
    """Limits of expectations/thermaliq_physical_limits.json are SI: 173.15 K = -100 degC,
    2273.15 K = 2000 degC; 0 Pa absolute = -1.01325 barg (standard atmosphere, ISO 2533);
    100 MPa = 1000 bar = 998.98675 barg; flows and energies are not negative, no upper bound."""
    limits = physical_limits(_facility())
    assert limits["TT-201"][0] == pytest.approx(-100.0, abs=1e-9)  # float offset arithmetic
    assert limits["TT-201"][1] == pytest.approx(2000.0, abs=1e-9)
    assert limits["PT-201"][0] == pytest.approx(-1.01325, abs=1e-9)
    assert limits["PT-201"][1] == pytest.approx(998.98675, abs=1e-6)  # pint factor round-off
    assert limits["JQ-301"] == (0.0, None)
    assert limits["FT-101"] == (0.0, None)


def test_tag_profile_counts_by_hand():
    """Eight hand-made readings; every count below is worked out by hand."""
    offsets = [0, 60, 7400,          # JQ-301: steps +2, -11 (one negative); spacing 7340 s > 1 h
               0, 120, 120, 180,     # FT-101: 120 s twice (2 duplicate readings), 3000 > 2500
               0, 0]                 # an unconfigured tag and a reading without a tag
    df = pd.DataFrame({"tag": ["JQ-301", "JQ-301", "JQ-301", "FT-101", "FT-101", "FT-101",
                               "FT-101", "XX-1", None],
                       "ts": START + pd.to_timedelta(offsets, unit="s"),
                       "value": [10.0, 12.0, 1.0, 5.0, 6.0, 3000.0, np.nan, 1.0, 2.0]})
    p = tag_profile(df.sample(frac=1.0, random_state=1), _facility(),   # row order means nothing
                    {"FT-101": (0.0, None)}).set_index("tag", drop=False)
    assert p["tag"].tolist()[:5] == ["FT-101", "JQ-301", "FT-201", "PT-201", "TT-201"]
    assert p["tag"].tolist()[5] == "XX-1" and p["tag"].isna().tolist()[6]
    ft, jq, xx = p.loc["FT-101"], p.loc["JQ-301"], p.loc["XX-1"]
    assert (ft["n_readings"], ft["n_null_values"], ft["n_duplicate_ts"]) == (4, 1, 2)
    assert (ft["min_value"], ft["max_value"]) == (5.0, 3000.0)           # NaN skipped
    assert (ft["n_above_range"], ft["n_below_range"], ft["n_below_physical"]) == (1, 0, 0)
    assert np.isnan(ft["physical_max"]) and ft["range_max"] == 2500.0
    assert ft["n_steps"] == 0 and np.isnan(ft["negative_step_fraction"])  # a rate tag
    assert (ft["n_spacings"], ft["n_long_spacings"]) == (3, 0)
    assert (jq["n_steps"], jq["n_negative_steps"], jq["negative_step_fraction"]) == (2, 1, 0.5)
    assert (jq["n_spacings"], jq["n_long_spacings"], jq["long_spacing_fraction"]) == (2, 1, 0.5)
    assert bool(xx["configured"]) is False and xx["n_readings"] == 1 and xx["unit"] is None
    none_row = p[p["tag"].isna()].iloc[0]
    assert (none_row["n_readings"], none_row["n_null_values"]) == (1, 1)  # no tag is a null
    assert p.loc["FT-201", "n_readings"] == 0 and np.isnan(p.loc["FT-201", "min_value"])


def test_tag_profile_has_no_tagless_row_when_every_reading_has_a_tag():
    assert tag_profile(_day(), _facility())["tag"].notna().all()


@pytest.mark.parametrize("order", ["day by day", "shuffled", "duplicate instants"])
def test_tag_profile_of_arrow_text_equals_the_pandas_path(order):
    """The shortcuts (tags dictionary-encoded by Arrow, float values as they are, readings read
    day by day put in tag order by tag alone) give the profile of text as Python objects and
    values through ``pandas.to_numeric``, bit for bit, with unconfigured and missing tags."""
    days = []
    for d in range(3):
        day = _counter_drops(_day(), 3)
        day["ts"] = day["ts"] + pd.Timedelta(days=d)
        day.loc[day.index[::97], "tag"] = "XX-1"
        day.loc[day.index[5::211], "tag"] = None
        day.loc[day.index[7::301], "value"] = np.nan
        days.append(day)
    readings = pd.concat(days, ignore_index=True)
    if order == "shuffled":
        readings = readings.sample(frac=1.0, random_state=3)
    elif order == "duplicate instants":
        readings = pd.concat([readings, readings.iloc[100:140]], ignore_index=True)
    fast = readings.assign(tag=readings["tag"].astype("str"))
    plain = readings.assign(tag=readings["tag"].astype(object), value=readings["value"].astype(object))
    assert fast["tag"].dtype.storage == "pyarrow"
    got, expected = tag_profile(fast, _facility()), tag_profile(plain, _facility())
    pd.testing.assert_frame_equal(got, expected)
    assert got["tag"].tolist()[-2:][0] == "XX-1" and got["tag"].isna().iloc[-1]
    # the counter's 3 drops a day, and its restart at 5000 after 7878 at each of 2 day changes
    assert got.set_index("tag").loc["JQ-301", "n_negative_steps"] == 3 * 3 + 2


def test_run_name_round_trip():
    """Facility ids may contain dashes and digits; the dates and run id close the name."""
    for fid in ("GX1", "FAC-001", "A-2024-01-01-B"):
        name = run_name(fid, "2024-06-03", "2024-07-03", "0123456789abcdef")
        assert name == f"{fid}-2024-06-03-2024-07-03-01234567"
        assert facility_of_run_name(name) == fid
    assert facility_of_run_name("bench-day") == "bench-day"


def test_import_does_not_load_great_expectations():
    """The module imports great_expectations lazily (its import costs seconds)."""
    code = "import sys, tasks.gx.validate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _faulty_day() -> pd.DataFrame:
    bad = _counter_drops(_day(), 29)                                       # 29/1439 = 2.0 %
    ft = bad.index[bad["tag"] == "FT-101"]
    bad.loc[ft[:3], "value"] = -5.0                       # impossible flow, below the range too
    bad.loc[ft[100:102], "value"] = 3000.0                # above the range (no physical maximum)
    bad = bad[(bad["tag"] != "PT-201") | (bad["ts"].dt.minute == 0) & (bad["ts"].dt.hour % 2 == 0)]
    tt = bad.index[bad["tag"] == "TT-201"]
    bad.loc[tt[5], "value"] = np.nan
    return pd.concat([bad, bad.loc[[ft[10]]].assign(value=999.0),          # duplicate (tag, ts)
                      pd.DataFrame({"tag": ["XX-1", "XX-1"], "ts": [START, START + pd.Timedelta("1min")],
                                    "value": [1.0, 2.0]})], ignore_index=True)


def _stored_objects(gx_dir: Path) -> dict[str, str]:
    """Suites, validation definitions and checkpoints as stored (not the results)."""
    return {str(p.relative_to(gx_dir)): p.read_text() for p in gx_dir.rglob("*.json")
            if "uncommitted" not in p.parts}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Validations in one GX context: GX1 clean (0.5 % counter drops), GX1 faulty, GX2 clean."""
    gx_dir = tmp_path_factory.mktemp("home") / "gx"
    clean = validate_readings(_counter_drops(_day(), 7), _facility(), gx_dir,   # 7/1439 = 0.49 %
                              run_name("GX1", "2024-06-03", "2024-06-03", "aaaaaaaa1"))
    stored = _stored_objects(gx_dir)
    docs_after_run = (gx_dir / "uncommitted/data_docs/local_site/index.html").exists()
    faulty = validate_readings(_faulty_day(), _facility(), gx_dir,
                               run_name("GX1", "2024-06-04", "2024-06-04", "bbbbbbbb2"))
    gx_validate._CHECKPOINTS.clear()          # as a new process: look up what is stored
    other = validate_readings(_day(), _facility("GX2"), gx_dir,
                              run_name("GX2", "2024-06-03", "2024-06-03", "cccccccc3"))
    stored_after = _stored_objects(gx_dir)
    return {"gx_dir": gx_dir, "clean": clean, "faulty": faulty, "other": other,
            "stored": stored, "stored_after": stored_after, "docs_after_run": docs_after_run}


def _failed(result) -> dict:
    return {(r["expectation"], r["column"], r["tag"]): r for r in result["results"]
            if not r["success"]}


def test_clean_day_passes_with_half_a_percent_counter_drops(runs):
    assert runs["clean"]["success"] is True and runs["other"]["success"] is True
    assert all(r["success"] and r["unexpected_count"] == 0 for r in runs["clean"]["results"])
    assert len(runs["clean"]["results"]) == 9             # one row per expectation of the suite


def test_faulty_day_reports_offending_readings_per_tag(runs):
    faulty = runs["faulty"]
    assert faulty["success"] is False
    failed = _failed(faulty)
    assert failed[(PAIR, "min_value,physical_min", "FT-101")]["unexpected_count"] == 3
    assert failed[(PAIR, "min_value,range_min", "FT-101")]["unexpected_count"] == 3
    above = failed[(PAIR, "range_max,max_value", "FT-101")]
    assert above["unexpected_count"] == 2
    assert above["unexpected_percent"] == pytest.approx(100 * 2 / 1441)   # of FT-101's readings
    assert failed[(BETWEEN, "n_duplicate_ts", "FT-101")]["unexpected_count"] == 2
    # issue #14: readings of a tag no stream uses (XX-1) are ordinary readings, not failures
    assert not any(tag == "XX-1" for _, _, tag in failed)
    steps = failed[(BETWEEN, "negative_step_fraction", "JQ-301")]
    assert steps["unexpected_count"] == 29
    assert steps["unexpected_percent"] == pytest.approx(100 * 29 / 1439)
    # PT-201 every 2 hours: 12 readings, 11 spacings of 7200 s > offline_after 1 h
    assert failed[(BETWEEN, "long_spacing_fraction", "PT-201")]["unexpected_count"] == 11
    assert failed[(BETWEEN, "n_null_values", "TT-201")]["unexpected_count"] == 1
    assert len(failed) == 7                               # nothing else failed
    assert (PAIR, "physical_max,max_value", None) in {
        (r["expectation"], r["column"], r["tag"]) for r in faulty["results"] if r["success"]}


def test_empty_window_fails_readings_present(tmp_path):
    empty = pd.DataFrame({"tag": pd.Series([], dtype=object),
                          "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                          "value": pd.Series([], dtype="float64")})
    out = validate_readings(empty, _facility(), tmp_path / "gx", "GX1-empty")
    failed = _failed(out)
    assert list(failed) == [("expect_column_values_to_be_between", "window_readings", None)]
    assert out["success"] is False


def test_several_facilities_in_one_run_keep_their_own_outcomes(runs, tmp_path):
    """A fleet's night is one GX run: GX1's faults stay GX1's (same offending counts as when
    validated alone), GX2 passes, and an empty GX3 fails only "readings present"."""
    empty = _day().iloc[:0]
    out = validate_profiles([(_facility(), profile(_faulty_day(), _facility())),
                             (_facility("GX2"), profile(_day(), _facility("GX2"))),
                             (_facility("GX3"), profile(empty, _facility("GX3")))],
                            tmp_path / "gx", run_name("fleet", "2024-06-04", "2024-06-04", "dddddddd4"))
    assert sorted(out) == [("GX1", ""), ("GX2", ""), ("GX3", "")]
    out = {fid: r for (fid, _), r in out.items()}
    alone = _failed(runs["faulty"])
    together = _failed(out["GX1"])
    assert together.keys() == alone.keys()
    assert {k: r["unexpected_count"] for k, r in together.items()} == \
        {k: r["unexpected_count"] for k, r in alone.items()}
    assert out["GX1"]["success"] is False and out["GX2"]["success"] is True
    assert out["GX2"]["results"] and not _failed(out["GX2"])
    assert list(_failed(out["GX3"])) == [("expect_column_values_to_be_between", "window_readings", None)]


def test_several_windows_of_a_facility_in_one_run_keep_their_own_outcomes(runs, tmp_path):
    """Windows of a backfill validated in one run: the faulty window's failures (the same
    offending counts as when validated alone) stay its own; the clean window passes."""
    fac = _facility()
    faulty, clean = "2024-06-04..2024-06-04", "2024-06-05..2024-06-05"
    out = validate_profiles([(fac, profile(_faulty_day(), fac, faulty)), (fac, profile(_day(), fac, clean))],
                            tmp_path / "gx", run_name("GX1", "2024-06-04", "2024-06-05", "eeeeeeee5"))
    assert sorted(out) == [("GX1", faulty), ("GX1", clean)]
    assert {k: r["unexpected_count"] for k, r in _failed(out[("GX1", faulty)]).items()} == \
        {k: r["unexpected_count"] for k, r in _failed(runs["faulty"]).items()}
    assert out[("GX1", faulty)]["success"] is False
    assert out[("GX1", clean)]["success"] is True and not _failed(out[("GX1", clean)])


def test_suite_stored_once_and_reused_across_processes(runs):
    """One suite, validation definition and checkpoint per home, not rewritten by later runs
    nor by a new process (cache cleared) nor by another facility."""
    stored = runs["stored_after"]
    assert runs["stored"] == stored
    assert sorted(stored) == ["checkpoints/thermaliq_readings.json",
                              "expectations/thermaliq_readings.json",
                              "validation_definitions/thermaliq_readings.json"]
    assert json.loads(stored["checkpoints/thermaliq_readings.json"])["actions"] == []
    suite = json.loads(stored["expectations/thermaliq_readings.json"])
    assert len(suite["expectations"]) == 9


def test_data_docs_built_once_per_run_and_pruned(runs):
    gx_dir = runs["gx_dir"]
    assert runs["docs_after_run"] is False                 # validations no longer build docs
    index = Path(build_data_docs(gx_dir))
    assert index.name == "index.html" and index.is_file()
    assert gx_dir.resolve() in index.resolve().parents
    text = index.read_text()
    for name in ("GX1-2024-06-03-2024-06-03-aaaaaaaa", "GX1-2024-06-04-2024-06-04-bbbbbbbb",
                 "GX2-2024-06-03-2024-06-03-cccccccc"):
        assert name in text
    mtime = index.stat().st_mtime_ns
    assert build_data_docs(gx_dir) == str(index) and index.stat().st_mtime_ns == mtime  # no-op
    assert prune_validation_results(gx_dir, keep_per_facility=1) == 1     # GX1's older run
    text = Path(build_data_docs(gx_dir)).read_text()
    assert "aaaaaaaa" not in text and "bbbbbbbb" in text and "cccccccc" in text
    pages = [p.name for p in (index.parent / "validations").rglob("*.html")]
    assert len(pages) == 2                                 # the pruned result's page is gone
    assert "globally: false" in (gx_dir / "great_expectations.yml").read_text()  # no progress bars


def test_build_data_docs_without_gx_context(tmp_path):
    assert build_data_docs(tmp_path / "gx") is None
    assert prune_validation_results(tmp_path / "gx") == 0
    with pytest.raises(ValueError, match="keep_per_facility"):
        prune_validation_results(tmp_path / "gx", keep_per_facility=0)


def test_merge_gx_issues_puts_counts_on_the_offending_tag(runs):
    """FT-101's rows get its own counts; a tag without a row (PT-201) goes on every row."""
    dq = pd.DataFrame({"tag": ["FT-101", "FT-101", "JQ-301", "FT-201"],
                       "period_start": [START, START + pd.Timedelta("1D"), START, START],
                       "issues": ["3 outliers", "", None, ""]})
    out = merge_gx_issues(dq, runs["faulty"]).set_index(["tag", "period_start"])["issues"]
    ft = out.loc[("FT-101", START)]
    assert ft.startswith("3 outliers; ")
    assert f"GX {PAIR}: 3 unexpected" in ft and f"GX {PAIR}: 2 unexpected" in ft
    assert f"GX {BETWEEN}: 2 unexpected" in ft                            # duplicates
    assert f"GX {BETWEEN}: 29 unexpected" in out.loc[("JQ-301", START)]
    # PT-201 (no data_quality row here) spaced 2 h: its 11 long spacings go on every row; the
    # unconfigured tag XX-1 fails nothing any more (issue #14)
    window_wide = f"GX {BETWEEN}: 11 unexpected"
    assert all(window_wide in text for text in out)
    assert not any("expect_column_values_to_be_in_set" in text for text in out)
    assert "29 unexpected" not in out.loc[("FT-201", START)]
    assert merge_gx_issues(dq, runs["clean"]).equals(dq)                  # nothing failed
