"""Hostile and broken input through the real ingest path (backfill flow), one test per case.

One home: facility GOOD (the constant boiler of issue #2, whose *name* is an HTML/JS injection),
facility BAD (the same plant) fed every file of tests/data/bad/ plus a generated 10 000-column
wide file, and three broken configuration files (a YAML alias bomb, a python tag, a
``../../etc`` facility_id). Each case must: leave GOOD's results complete, keep what BAD cannot
use in the ``quarantine`` relation with a reason naming file and row, and say so clearly.
Reader-level details are tested in tests/test_readers.py and config ones in tests/test_config.py;
here the point is the whole path (reader -> quality -> lake -> catalog -> reports).
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.store import catalog

pytestmark = pytest.mark.flow

BAD_DIR = Path(__file__).parent / "data" / "bad"
VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
DAY = date(2024, 5, 30)
HTML_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'
WIDE_COLUMNS = 10_000


@pytest.fixture(scope="module")
def run(prefect_harness, tmp_path_factory):
    from flows.backfill import backfill
    from thermaliq.home import Home

    home = Home.resolve(tmp_path_factory.mktemp("bad") / "home")
    good = constant_boiler_config("GOOD")
    good["name"] = HTML_NAME
    write_facility(home.root, good)
    write_daily_csv(home.root, "GOOD", constant_readings(DAY, DAY, "Europe/Berlin", VALUES, freq="5min"))
    write_facility(home.root, constant_boiler_config("BAD"))
    inbox = home.inbox / "BAD"
    inbox.mkdir(parents=True)
    for path in BAD_DIR.glob("*.csv"):
        shutil.copyfile(path, inbox / path.name)
    _write_wide(inbox / "wide_10000.csv")
    for path in (BAD_DIR / "facilities").glob("*.yaml"):
        shutil.copyfile(path, home.facilities / path.name)

    state = backfill(start=DAY.isoformat(), end=DAY.isoformat(), home=str(home.root),
                     return_state=True)
    con = catalog.memory_connection(home)
    quarantine = con.execute("SELECT * FROM quarantine WHERE facility_id = 'BAD'").df()
    readings = con.execute("SELECT * FROM readings").df()
    days = con.execute("SELECT * FROM calculations WHERE is_current AND granularity = 'day'").df()
    runs = con.execute("SELECT * FROM runs").df()
    con.close()
    return {"home": home, "state": state, "quarantine": quarantine, "readings": readings,
            "days": days, "runs": runs}


def _write_wide(path: Path) -> None:
    """timestamp, FT-101 and 9 999 unconfigured tags, two rows (generated: too big to commit)."""
    cols = ["FT-101"] + [f"X{i:04d}" for i in range(WIDE_COLUMNS - 1)]
    header = "timestamp," + ",".join(cols)
    rows = [f"2024-05-30T11:0{m}:00Z," + ",".join(["750"] + ["1"] * (WIDE_COLUMNS - 1)) for m in (0, 1)]
    path.write_text("\n".join([header, *rows]) + "\n")


def _q(run, name: str) -> pd.DataFrame:
    q = run["quarantine"]
    return q[q["source"] == f"inbox/BAD/{name}"].sort_values(["row", "reason"]).reset_index(drop=True)


def _bad_readings(run, name: str) -> pd.DataFrame:
    r = run["readings"]
    return r[(r["facility_id"] == "BAD") & (r["source"] == f"inbox/BAD/{name}")].sort_values("ts")


def test_good_facility_is_complete_and_the_run_reports_the_bad_ones(run):
    """GOOD: one full day at 79.87 % (issue #2 hand calculation) whatever BAD and the broken
    configurations do; the run ends Failed (exit 1) naming what was wrong."""
    days = run["days"].set_index("facility_id")
    assert days.loc["GOOD", "efficiency_percent"] == pytest.approx(79.87, abs=0.03)
    assert days.loc["GOOD", "data_quality_score"] == 1.0
    good = run["readings"].query("facility_id == 'GOOD'")
    assert len(good) == 4 * 288 and not good.duplicated(["tag", "ts"]).any()
    assert run["state"].is_failed()
    reason = run["runs"]["reason"].iloc[0]
    for text in ("BOMB.yaml", "PYTAG.yaml", "TRAVERSAL.yaml", "inbox/BAD/empty.csv",
                 "inbox/BAD/wrong_delimiter.csv"):
        assert text in reason, reason


def test_empty_file(run):
    q = _q(run, "empty.csv")
    assert q[["row", "reason"]].values.tolist() == [[0, "empty file (no header line)"]]


def test_header_only_file_is_no_error_and_no_data(run):
    assert _q(run, "header_only.csv").empty and _bad_readings(run, "header_only.csv").empty
    assert "header_only.csv" not in run["runs"]["reason"].iloc[0]


def test_wrong_delimiter(run):
    q = _q(run, "wrong_delimiter.csv")
    assert q["row"].tolist() == [0]
    assert "no 'timestamp' column" in q["reason"].iloc[0]


def test_bom_is_ignored(run):
    assert _bad_readings(run, "bom.csv")["value"].tolist() == [750.0, 751.0]
    assert _q(run, "bom.csv").empty


def test_mixed_encodings_read_as_windows_1252_and_units_converted(run):
    """Row 1 is UTF-8 '°C', row 2 Latin-1 '°C': not valid UTF-8, so the file is read as
    Windows-1252 (noted); row 1 then reads 'Â°C', an unknown unit -> quarantined, row 2 kept."""
    kept = _bad_readings(run, "mixed_encoding.csv")
    assert kept["value"].tolist() == [106.0]
    q = _q(run, "mixed_encoding.csv")
    assert q["row"].tolist() == [1] and "cannot be converted" in q["reason"].iloc[0]


def test_truncated_last_line(run):
    assert _bad_readings(run, "truncated_last_line.csv")["value"].tolist() == [750.0]
    q = _q(run, "truncated_last_line.csv")
    assert q[["row"]].values.ravel().tolist() == [2]
    assert q["reason"].iloc[0] in ("wrong number of fields (expected 3, got 2)", "missing value")


def test_non_numeric_values(run):
    q = _q(run, "non_numeric.csv")
    assert q["row"].tolist() == [2, 3]
    assert q["reason"].iloc[0] == "non-numeric value"
    assert q["reason"].iloc[1].startswith("wrong number of fields")     # '7,5' is two fields
    assert q["raw"].iloc[0].endswith("seven hundred")


def test_nan_and_inf(run):
    q = _q(run, "nan_inf.csv")
    assert q[["row", "reason"]].values.tolist() == [[1, "non-finite value"], [2, "non-finite value"],
                                                    [3, "non-finite value"]]
    assert _bad_readings(run, "nan_inf.csv")["value"].tolist() == [750.0]


def test_timestamps_in_mixed_forms(run):
    """Z, +02:00 with a space, naive local (Europe/Berlin: 08:02 = 06:02Z), fractional seconds
    are read; '30/05/2024' and the basic form '20240530T100500Z' are not ISO 8601 extended."""
    kept = _bad_readings(run, "mixed_timestamps.csv")
    assert kept["ts"].dt.strftime("%H:%M:%S.%f").tolist() == [
        "06:00:00.000000", "06:01:00.000000", "06:02:00.000000", "06:03:00.500000"]
    q = _q(run, "mixed_timestamps.csv")
    assert q[["row", "reason"]].values.tolist() == [[5, "unparseable timestamp"],
                                                    [6, "unparseable timestamp"]]


def test_far_future_and_1970_timestamps_are_quarantined(run):
    q = _q(run, "far_future_and_1970.csv")
    assert q["row"].tolist() == [1, 2]
    assert q["reason"].str.startswith("timestamp out of plausible range (2000-01-01 .. ingest time").all()
    assert _bad_readings(run, "far_future_and_1970.csv")["ts"].dt.year.tolist() == [2024]
    partitions = sorted(p.name for p in (run["home"].lake / "readings" / "facility_id=BAD").iterdir())
    assert partitions == ["date=2024-05-30"]              # no 1970 or 2099 day was created


def test_1e308_does_not_poison_averages(run):
    """FT-201 has no configured range: 1e308 is finite but beyond the generic physical limit."""
    q = _q(run, "huge_value.csv")
    assert q["row"].tolist() == [1]
    assert q["reason"].iloc[0].startswith("implausible magnitude: |value| > 1e+15 kg/h")
    assert _bad_readings(run, "huge_value.csv")["value"].tolist() == [10_000.0]
    steam = run["readings"].query("facility_id == 'BAD' and tag == 'FT-201'")["value"]
    assert steam.max() < 1e6


def test_duplicate_tags_with_different_units(run):
    """10 t/h = 10 000 kg/h is the same reading (one kept); 12 t/h at 10:01 conflicts with
    10 000 kg/h (rule: smallest source/row wins -> row 3 kept, row 4 quarantined); a length unit
    cannot be a mass flow."""
    kept = _bad_readings(run, "duplicate_tag_units.csv")
    assert kept["ts"].dt.strftime("%H:%M").tolist() == ["09:00", "09:01"]
    assert kept["value"].tolist() == [10_000.0, 10_000.0]
    q = _q(run, "duplicate_tag_units.csv")
    assert q["row"].tolist() == [4, 5]
    assert q["reason"].iloc[0].startswith("conflicting duplicate: kept value 10000")
    assert "'furlong' cannot be converted to the configured unit 'kg/h'" in q["reason"].iloc[1]


def test_wide_file_with_10000_columns(run):
    """Issue #14: columns no stream uses are kept as ordinary readings, never quarantined."""
    kept = _bad_readings(run, "wide_10000.csv")
    assert (kept["tag"] == "FT-101").sum() == 2
    assert len(kept) == 2 * WIDE_COLUMNS and kept["tag"].nunique() == WIDE_COLUMNS
    assert _q(run, "wide_10000.csv").empty


def test_tag_names_with_sql_are_data_not_code(run):
    kept = _bad_readings(run, "sql_tag.csv")
    assert sorted(kept["tag"]) == sorted(["FT-101'; DROP TABLE readings; --", 'x"); SELECT 1; --'])
    assert _q(run, "sql_tag.csv").empty
    assert len(run["readings"]) > 0                    # the relation is still there


def test_yaml_alias_bomb_and_python_tag_are_refused(run):
    reason = run["runs"]["reason"].iloc[0]
    assert "BOMB.yaml" in reason and "aliases" in reason
    assert "PYTAG.yaml" in reason and "not valid YAML" in reason
    assert not (run["home"].root / "pwned-by-yaml").exists()
    assert not list(Path.cwd().glob("pwned-by-yaml"))


def test_path_traversal_facility_id(run):
    home = run["home"]
    assert "TRAVERSAL.yaml" in run["runs"]["reason"].iloc[0]
    assert "not a valid facility_id" in run["runs"]["reason"].iloc[0]
    written = {p.resolve() for p in home.root.parent.rglob("*")}
    assert all(home.root in p.parents or p == home.root for p in written)
    from thermaliq.errors import ConfigError
    with pytest.raises(ConfigError, match="not a valid facility_id"):
        home.facility_file("../../etc")


def test_html_facility_name_is_escaped_in_reports(run):
    pages = list(run["home"].reports.rglob("*.html"))
    assert pages
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert "<script>alert(" not in text and "onerror=alert(1)>" not in text
    assert "&lt;script&gt;alert(" in text
