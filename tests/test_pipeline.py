"""The library pipeline without Prefect: ingest → calculate → store (issues #3 and #4 acceptance)."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from thermaliq.pipeline import calculate, ingest, results
from thermaliq.store import catalog
from thermaliq.config import load_facility

TZ = "Europe/Berlin"
VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
DAY = date(2024, 6, 4)


def _home_with(home, frame: pd.DataFrame):
    write_facility(home.root, constant_boiler_config(timezone=TZ))
    write_daily_csv(home.root, "BOILER-1", frame)
    return load_facility(home.facility_file("BOILER-1"))


def _run(home, facility, first=DAY, last=DAY):
    ingest.ingest_files(home, facility)
    result = calculate.calculate_window(home, facility, first, last)
    results.store_window(home, facility, result, run_id="test")
    return result


def _hole(frame: pd.DataFrame, tag: str, start_local: str, minutes: int) -> pd.DataFrame:
    """Blank ``tag`` for ``minutes`` from a local wall time (wide frame with UTC 'Z' strings)."""
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(TZ)
    t0 = pd.Timestamp(start_local, tz=TZ)
    out = frame.copy()
    out.loc[(ts >= t0) & (ts < t0 + pd.Timedelta(minutes=minutes)), tag] = None
    return out


def test_three_hour_hole_gives_0875_low_quality_and_alerts(home):
    """Issue #4 acceptance: a 3-hour hole in one required tag (steam flow, 09:00-12:00 local)
    out of 24 hours leaves 84 of 96 quarter hours valid: score 0.875 < 0.90, status
    low_quality, a low_data_quality alert and a meter_offline alert (silent 3 h > 1 h); the
    efficiency over the valid intervals stays the constant boiler's 79.87 %."""
    frame = constant_readings(DAY, DAY, TZ, VALUES)
    facility = _home_with(home, _hole(frame, "FT-201", "2024-06-04 09:00", 180))
    result = _run(home, facility)
    day = result.days.iloc[0]
    assert day["data_quality_score"] == pytest.approx(84 / 96)
    assert day["status"] == "low_quality"
    assert day["efficiency_percent"] == pytest.approx(79.87, abs=0.03)
    kinds = set(result.alerts["kind"])
    assert {"low_data_quality", "meter_offline"} <= kinds
    con = catalog.memory_connection(home)
    assert con.execute("SELECT count(*) FROM alerts WHERE kind = 'low_data_quality'").fetchall()[0][0] == 1
    dq = con.execute("SELECT valid_points, expected_points FROM data_quality WHERE tag = 'FT-201'").fetchall()
    assert dq == [(84, 96)]


def test_ten_minute_hole_is_interpolated_and_changes_nothing(home):
    """Issue #4 acceptance: a 10-minute hole (≤ max_interpolation_gap 15 min) is interpolated:
    score 1.0, status ok, efficiency 79.87 %, and the data_quality row counts the interpolation."""
    frame = constant_readings(DAY, DAY, TZ, VALUES)
    facility = _home_with(home, _hole(frame, "FT-201", "2024-06-04 09:03", 10))
    result = _run(home, facility)
    day = result.days.iloc[0]
    assert (day["data_quality_score"], day["status"]) == (1.0, "ok")
    assert day["efficiency_percent"] == pytest.approx(79.87, abs=0.03)
    assert result.alerts.empty
    row = result.data_quality.set_index("tag").loc["FT-201"]
    assert row["interpolated_points"] >= 1 and row["valid_points"] == 96


def _lake_bytes(home) -> dict[str, bytes]:
    return {str(p.relative_to(home.lake)): p.read_bytes() for p in sorted(home.lake.rglob("*"))
            if p.is_file() and "_locks" not in p.parts}


def test_forced_reingest_leaves_the_lake_byte_identical(home):
    """Issue #3: re-reading the same files (forced, so they are really parsed again) changes no
    byte of the lake: readings partitions, quarantine and ingest ledger."""
    frame = constant_readings(DAY, DAY, TZ, VALUES).astype({"FT-101": object})
    frame.loc[5, "FT-101"] = "garbage"          # one rejected row, so quarantine is covered too
    facility = _home_with(home, frame)
    first = ingest.ingest_files(home, facility)
    assert first.rejected == 1
    before = _lake_bytes(home)
    again = ingest.ingest_files(home, facility, force=True)
    assert again.sources_read == first.sources_read and again.readings_stored == 0
    assert _lake_bytes(home) == before
    skipped = ingest.ingest_files(home, facility)
    assert skipped.sources_read == 0 and skipped.sources_skipped == first.sources_read


def test_overlapping_file_is_merged_without_duplicates(home):
    """Issue #3: a later export that repeats half a day and adds the next hours adds only the new
    readings; the `readings` relation holds each (tag, ts) once."""
    full = constant_readings(DAY, DAY, TZ, VALUES)
    facility = _home_with(home, full.iloc[:720])
    ingest.ingest_files(home, facility)
    overlap = home.root / "inbox" / "BOILER-1" / "late-export.csv"
    full.iloc[360:].to_csv(overlap, index=False)
    summary = ingest.ingest_files(home, facility)
    assert summary.readings_stored == (1440 - 720) * 4
    con = catalog.memory_connection(home)
    n, distinct = con.execute("SELECT count(*), count(DISTINCT (tag, ts)) FROM readings").fetchall()[0]
    assert n == distinct == 1440 * 4


def test_rejected_rows_are_visible_in_quarantine_with_file_and_row(home):
    """Nothing is lost: a non-numeric value and an out-of-range spike land in `quarantine` with
    the file, the row and the reason."""
    frame = constant_readings(DAY, DAY, TZ, VALUES).astype({"FT-101": object})
    frame.loc[10, "FT-101"] = "#N/A"
    frame.loc[20, "FT-101"] = 99999.0                # range [0, 2500] m3/h
    facility = _home_with(home, frame)
    ingest.ingest_files(home, facility)
    con = catalog.memory_connection(home)
    rows = con.execute("SELECT source, row, reason FROM quarantine ORDER BY row").fetchall()
    assert [(r[1], r[2]) for r in rows] == [(11, "non-numeric value"),
                                           (21, "out of range [0, 2500] m3/h")]
    assert all(r[0].startswith("inbox/BOILER-1/") for r in rows)


def test_an_edited_file_replaces_what_it_held_before(home):
    """A readings file corrected after it was ingested (FT-101 on one hour 750 -> 800 m3/h, and
    its last hour cut off): the next ingest stores the new values and drops the readings the
    file no longer holds, without --force; the other files' readings stay as they were, and the
    run says what it replaced. Before, the stored readings won the conflict rule (same file,
    same row) and the correction was lost."""
    frame = constant_readings(DAY, DAY, TZ, VALUES)
    facility = _home_with(home, frame)
    other = home.root / "inbox" / "BOILER-1" / "zz-other.csv"
    constant_readings(DAY + timedelta(days=1), DAY + timedelta(days=1), TZ, VALUES).to_csv(other, index=False)
    ingest.ingest_files(home, facility)
    path = next(p for p in sorted((home.root / "inbox" / "BOILER-1").glob("*.csv")) if p != other)
    edited = frame.copy()
    hour = edited["timestamp"].astype(str).str.contains("T10:")
    assert hour.sum() == 60
    edited.loc[hour, "FT-101"] = 800.0
    edited.iloc[:-60].to_csv(path, index=False)          # the last hour is gone
    summary = ingest.ingest_files(home, facility)
    assert summary.sources_read == 1
    assert any("earlier readings are replaced" in n for n in summary.notes), summary.notes
    con = catalog.memory_connection(home)
    got = dict(con.execute("SELECT value, count(*) FROM readings WHERE tag = 'FT-101' AND source = ? "
                           "GROUP BY value", [str(path.relative_to(home.root))]).fetchall())
    assert got == {750.0: 1440 - 120, 800.0: 60}
    assert con.execute("SELECT count(*) FROM readings WHERE source = 'inbox/BOILER-1/zz-other.csv'"
                       ).fetchall()[0][0] == 1440 * 4
