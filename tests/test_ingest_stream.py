"""Streaming ingest (issue #3): a file read in chunks gives the lake of a one-chunk read.

Chunks are made tiny (``batch_rows`` of 2-10 records) so that every rule crosses a chunk
boundary. Expected instants are hand-worked for America/Chicago in 2024: CST = UTC-6, CDT =
UTC-5; DST began on 10 March at 02:00 local (02:00-02:59 does not exist) and ended on 3 November
at 02:00 CDT (01:00-01:59 occurs twice) — the US rule of the Energy Policy Act of 2005.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.helpers import constant_boiler_config, write_facility
from thermaliq.pipeline import ingest
from thermaliq.store import lake
from thermaliq.config import load_facility
from thermaliq.home import Home
from thermaliq.sources.readers import ReadingsStream, read_readings_file

CHI = "America/Chicago"
FID = "BOILER-1"
NOW = pd.Timestamp("2025-01-01", tz="UTC")
REPO = Path(__file__).resolve().parents[1]


def utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _home(root: Path, csv_text: str) -> tuple[Home, object]:
    home = Home.resolve(root)
    write_facility(home.root, constant_boiler_config(FID, timezone=CHI))
    inbox = home.root / "inbox" / FID
    inbox.mkdir(parents=True)
    (inbox / "readings.csv").write_text(csv_text)
    return home, load_facility(home.facility_file(FID))


def _lake_state(home: Home) -> dict:
    """Every readings partition's bytes, the quarantine rows (sorted) and the ledger."""
    parts = {str(p.relative_to(home.lake)): p.read_bytes()
             for p in sorted((home.lake / "readings").rglob("*.parquet"))}
    qfiles = sorted((home.lake / "quarantine").rglob("*.parquet"))
    quarantine = (pd.concat([pq.read_table(p).to_pandas() for p in qfiles], ignore_index=True)
                  .sort_values(["source", "row", "reason", "tag"], ignore_index=True)
                  if qfiles else pd.DataFrame())
    ledger_file = lake.ledger_path(home.lake, FID)
    ledger = pq.read_table(ledger_file).to_pandas() if ledger_file.exists() else None
    if ledger is not None:   # when each home's copy of the file was written is not the lake's content
        ledger = ledger.drop(columns="mtime_ns")
    return {"readings": parts, "quarantine": quarantine, "ledger": ledger}


def _assert_same_lake(a: dict, b: dict) -> None:
    assert a["readings"].keys() == b["readings"].keys()
    for name in a["readings"]:
        assert a["readings"][name] == b["readings"][name], f"{name} differs"
    pd.testing.assert_frame_equal(a["quarantine"], b["quarantine"])
    pd.testing.assert_frame_equal(a["ledger"], b["ledger"])


def _hourly_csv(days: int = 3, bad_row: int = 30) -> str:
    """FT-101 and PT-201 hourly over ``days`` local days from 2024-06-01 (naive local times),
    one non-numeric value at data row ``bad_row``, one malformed record after row 12."""
    lines = ["timestamp,tag,value"]
    stamps = pd.date_range("2024-06-01", periods=24 * days, freq="h")
    for ts in stamps:
        for tag, value in (("FT-101", 750.0), ("PT-201", 1.0)):
            lines.append(f"{ts:%Y-%m-%dT%H:%M:%S},{tag},{value + ts.hour}")
    lines[bad_row] = lines[bad_row].rsplit(",", 1)[0] + ",n/a"
    lines.insert(13, "2024-06-01T06:00:00,FT-101,1,extra")
    return "\n".join(lines) + "\n"


def test_file_larger_than_a_chunk_gives_the_lake_of_one_chunk(tmp_path):
    """3-record chunks against one chunk: same partitions byte for byte, same quarantine rows
    (the malformed record 13 and the non-numeric value of record 31), same ledger."""
    text = _hourly_csv()
    one, fac1 = _home(tmp_path / "one", text)
    many, fac2 = _home(tmp_path / "many", text)
    s1 = ingest.ingest_files(one, fac1, now=NOW, batch_rows=1_000_000)
    s2 = ingest.ingest_files(many, fac2, now=NOW, batch_rows=3)
    a, b = _lake_state(one), _lake_state(many)
    _assert_same_lake(a, b)
    assert len(a["readings"]) == 3                          # three local days
    assert a["quarantine"]["row"].tolist() == [13, 31]
    assert a["quarantine"]["reason"].tolist()[0].startswith("wrong number of fields")
    assert a["quarantine"]["reason"].tolist()[1] == "non-numeric value"
    assert (s1.readings_read, s1.readings_stored, s1.rejected) == (143, 143, 2)
    assert (s2.readings_read, s2.readings_stored, s2.rejected) == (143, 143, 2)
    assert a["ledger"]["rows"].tolist() == [143] and a["ledger"]["rejected"].tolist() == [2]


def test_reingest_in_chunks_leaves_the_lake_byte_identical(tmp_path):
    home, fac = _home(tmp_path / "h", _hourly_csv())
    ingest.ingest_files(home, fac, now=NOW, batch_rows=4)
    before = _lake_state(home)
    mtimes = {p: p.stat().st_mtime_ns for p in (home.lake / "readings").rglob("*.parquet")}
    again = ingest.ingest_files(home, fac, force=True, now=NOW, batch_rows=5)
    _assert_same_lake(before, _lake_state(home))
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes   # not even rewritten
    assert again.readings_stored == 0 and again.days == []


DST_CSV = """timestamp,tag,value
2024-11-03T00:30:00,FT-101,100
2024-11-03T01:30:00,FT-101,101
2024-11-03T01:30:00,FT-101,102
2024-11-03T01:45:00,FT-101,103
2024-03-10T02:10:00,FT-101,200
2024-03-10T02:40:00,FT-101,201
2024-11-03T01:45:00,FT-101,104
"""


def test_dst_repeat_and_gap_across_chunk_boundaries(tmp_path):
    """Chunks of 2 records: the repeated 01:30 is split 2|3, 01:45 is split 4|7, the two gap
    times 5|6. First occurrence in row order = CDT (UTC-5), later = CST (UTC-6); a gap time
    is read with the offset before the change (CST): 02:10 CST = 08:10Z."""
    path = tmp_path / "dst.csv"
    path.write_text(DST_CSV)
    stream = ReadingsStream(path, tz=CHI, batch_rows=2)
    chunks = list(stream)
    assert [c.readings["row"].tolist() for c in chunks] == [[1, 2], [3, 4], [5, 6], [7]]
    got = pd.concat([c.readings for c in chunks], ignore_index=True)
    assert got["ts"].tolist() == [utc("2024-11-03 05:30"), utc("2024-11-03 06:30"),
                                  utc("2024-11-03 07:30"), utc("2024-11-03 06:45"),
                                  utc("2024-03-10 08:10"), utc("2024-03-10 08:40"),
                                  utc("2024-11-03 07:45")]
    whole = read_readings_file(path, tz=CHI)
    assert stream.notes == whole.notes
    assert stream.notes[0].startswith(f"{path}: 2 reading(s) of 1 tag(s) at nonexistent")
    assert "first occurrence in row order was taken as daylight time (2)" in stream.notes[1]
    assert "later ones as standard time (2)" in stream.notes[1]
    pd.testing.assert_frame_equal(got, whole.readings)


def test_dst_repeat_across_chunks_through_the_lake(tmp_path):
    home, fac = _home(tmp_path / "h", DST_CSV)
    summary = ingest.ingest_files(home, fac, now=NOW, batch_rows=2)
    stored = lake.read_readings_days(home.lake, FID, [pd.Timestamp("2024-11-03").date()])
    assert stored["ts"].tolist() == [utc("2024-11-03 05:30"), utc("2024-11-03 06:30"),
                                     utc("2024-11-03 06:45"), utc("2024-11-03 07:30"),
                                     utc("2024-11-03 07:45")]
    assert stored["value"].tolist() == [100.0, 101.0, 103.0, 102.0, 104.0]
    assert any("nonexistent" in n for n in summary.notes)
    assert any("ambiguous" in n for n in summary.notes)


def test_reject_row_numbers_after_chunk_boundaries(tmp_path):
    """Records: 1 good, 2 malformed, 3 good, 4 non-numeric, 5 good, 6 bad timestamp, 7 malformed,
    8 good. Chunks of 2 parsed records: (1, 3), (4, 5), (6, 8); each malformed record comes with
    the chunk that holds the records around it."""
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,tag,value\n"
                    "2024-06-01T00:00:00Z,FT-101,1\n"
                    "2024-06-01T00:01:00Z,FT-101\n"
                    "2024-06-01T00:02:00Z,FT-101,3\n"
                    "2024-06-01T00:03:00Z,FT-101,n/a\n"
                    "2024-06-01T00:04:00Z,FT-101,5\n"
                    "yesterday,FT-101,6\n"
                    "2024-06-01T00:06:00Z,FT-101,7,8\n"
                    "2024-06-01T00:07:00Z,FT-101,8\n")
    chunks = list(ReadingsStream(path, tz="UTC", batch_rows=2))
    assert [c.readings["row"].tolist() for c in chunks] == [[1, 3], [5], [8]]
    assert [c.rejects["row"].tolist() for c in chunks] == [[2], [4], [6, 7]]
    reasons = pd.concat([c.rejects for c in chunks])["reason"].tolist()
    assert reasons == ["wrong number of fields (expected 3, got 2)", "non-numeric value",
                       "unparseable timestamp", "wrong number of fields (expected 3, got 4)"]
    whole = read_readings_file(path, tz="UTC")
    assert whole.rejects["row"].tolist() == [2, 4, 6, 7]
    assert whole.readings["row"].tolist() == [1, 3, 5, 8]


def test_header_only_and_unreadable_files_stream_like_before(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("timestamp,tag,value\n")
    stream = ReadingsStream(path, tz="UTC", batch_rows=2)
    assert list(stream) == [] and stream.notes == [f"{path}: header only, no data rows"]
    home, fac = _home(tmp_path / "home", "")
    summary = ingest.ingest_files(home, fac, now=NOW, batch_rows=2)
    assert summary.file_errors and "empty file" in summary.file_errors[0]
    state = _lake_state(home)
    assert state["quarantine"]["row"].tolist() == [0] and state["ledger"]["rejected"].tolist() == [1]


def test_batch_rows_setting_rejects_nonsense(monkeypatch):
    from thermaliq.sources.readers import batch_rows_setting

    monkeypatch.setenv("THERMALIQ_INGEST_BATCH_ROWS", "25")
    assert batch_rows_setting() == 25
    monkeypatch.setenv("THERMALIQ_INGEST_BATCH_ROWS", "zero")
    with pytest.raises(ValueError, match="THERMALIQ_INGEST_BATCH_ROWS"):
        batch_rows_setting()


_INGEST_SCRIPT = """
import sys
import pandas as pd
from thermaliq.pipeline import ingest
from thermaliq.config import load_facility
from thermaliq.home import Home
home = Home.resolve(sys.argv[1])
ingest.ingest_files(home, load_facility(home.facility_file("BOILER-1")),
                    now=pd.Timestamp("2025-01-01", tz="UTC"))
"""


def test_crash_between_chunks_then_rerun_gives_the_uninterrupted_lake(tmp_path):
    """kill -9 (crash hook) at the 3rd lake write, i.e. after two chunks of 10 records were
    merged into the first local day: the ledger has not recorded the file, the rerun reads it
    again and the lake equals one uninterrupted run's."""
    text = _hourly_csv()
    crashed, _ = _home(tmp_path / "crashed", text)
    env = {**os.environ, "THERMALIQ_CRASH_AT": "lake.write:3", "THERMALIQ_INGEST_BATCH_ROWS": "10",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _INGEST_SCRIPT, str(crashed.root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 137, proc.stderr[-2000:]
    partial = _lake_state(crashed)
    assert partial["ledger"] is None and partial["quarantine"].empty
    assert len(partial["readings"]) == 1                    # day 1 stored, not complete yet
    assert list(crashed.lake.rglob(".*.tmp")), "the crash should have left a temporary file"

    env.pop("THERMALIQ_CRASH_AT")
    proc = subprocess.run([sys.executable, "-c", _INGEST_SCRIPT, str(crashed.root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference, fac = _home(tmp_path / "reference", text)
    ingest.ingest_files(reference, fac, now=NOW, batch_rows=10)
    _assert_same_lake(_lake_state(crashed), _lake_state(reference))


Z_CSV = """timestamp,tag,value
2024-06-01T12:00:00Z,PT-201,1.5
2024-06-01T12:00:00Z,FT-101,750
2024-06-01T11:00:00Z,FT-101,1e3
2024-06-01T11:00:00Z,PT-201,2
2024-06-02T04:59:00Z,FT-101,10
2024-06-02T05:00:00Z,FT-101,20
"""


def _spy_fast_lane(monkeypatch) -> list[bool]:
    """Record what every call of ingest_arrow.store_new_days returned."""
    from thermaliq.pipeline import ingest_arrow

    taken, real = [], ingest_arrow.store_new_days

    def spy(*args, **kwargs):
        taken.append(real(*args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(ingest_arrow, "store_new_days", spy)
    return taken


def test_clean_chunk_of_new_days_takes_the_fast_lane_with_the_general_paths_files(tmp_path,
                                                                                  monkeypatch):
    """Six clean readings with Z instants go straight to two new local days (Chicago, CDT =
    UTC-5: 04:59Z is 23:59 on 1 June, 05:00Z midnight of 2 June). The same readings plus one
    unconfigured tag (kept, issue #14, but the chunk takes the general path) give the same
    partitions for the configured tags.
    Hand-worked order of day 1: FT-101 11:00 (1e3 = 1000), FT-101 12:00, FT-101 04:59 next UTC
    day, PT-201 11:00, PT-201 12:00."""
    taken = _spy_fast_lane(monkeypatch)
    fast, fac1 = _home(tmp_path / "fast", Z_CSV)
    general, fac2 = _home(tmp_path / "general", Z_CSV + "2024-06-01T11:00:00Z,XX-1,5\n")
    s1 = ingest.ingest_files(fast, fac1, now=NOW)
    s2 = ingest.ingest_files(general, fac2, now=NOW)
    assert taken == [True, False]
    a, b = _lake_state(fast), _lake_state(general)
    assert [str(d) for d in s1.days] == ["2024-06-01", "2024-06-02"] == [str(d) for d in s2.days]
    assert (s1.readings_read, s1.readings_stored, s1.rejected) == (6, 6, 0)
    assert (s2.readings_stored, s2.rejected, s2.unconfigured) == (7, 0, 1)
    assert b["quarantine"].empty
    assert any("1 readings of 1 tag(s) no stream uses were kept (XX-1)" in n for n in s2.notes)
    day1 = pq.read_table(lake.readings_partition(fast.lake, FID, pd.Timestamp("2024-06-01").date()))
    assert day1.column("tag").to_pylist() == ["FT-101"] * 3 + ["PT-201"] * 2
    assert day1.column("value").to_pylist() == [1000.0, 750.0, 10.0, 2.0, 1.5]
    assert day1.column("row").to_pylist() == [3, 2, 5, 4, 1]
    assert day1.column("unit").to_pylist() == ["m3/h"] * 3 + ["MPa"] * 2
    assert day1.column("quality").null_count == 5


@pytest.mark.parametrize("extra, why", [
    ("2024-06-01T12:00:00Z,FT-101,750\n", "exact duplicate (dropped, counted)"),
    ("2024-06-01T12:00:00Z,FT-101,751\n", "conflicting duplicate"),
    ("2024-06-01T13:00:00Z,FT-101,9999\n", "out of range [0, 2500]"),
    ("1999-12-31T23:00:00Z,FT-101,1\n", "implausible time"),
])
def test_chunks_cleaning_would_change_take_the_general_path(tmp_path, monkeypatch, extra, why):
    """Each extra row makes the fast lane decline (nothing written by it), and the general path
    stores the same clean readings as without the row: one FT-101 per instant, in range."""
    taken = _spy_fast_lane(monkeypatch)
    home, fac = _home(tmp_path / "h", Z_CSV + extra)
    ingest.ingest_files(home, fac, now=NOW)
    assert taken == [False], why
    ref, fac_ref = _home(tmp_path / "ref", Z_CSV)
    ingest.ingest_files(ref, fac_ref, now=NOW)
    assert _lake_state(home)["readings"] == _lake_state(ref)["readings"]


def test_second_file_of_a_stored_day_merges_on_the_general_path(tmp_path, monkeypatch):
    """Day 2024-06-02 exists after the first file, so the second file's chunk is merged by the
    general path (its 05:00Z repeat is an exact duplicate: stored once)."""
    taken = _spy_fast_lane(monkeypatch)
    home, fac = _home(tmp_path / "h", Z_CSV)
    (home.root / "inbox" / FID / "second.csv").write_text(
        "timestamp,tag,value\n2024-06-02T05:00:00Z,FT-101,20\n2024-06-02T06:00:00Z,FT-101,30\n")
    s = ingest.ingest_files(home, fac, now=NOW)
    assert taken == [True, False]            # readings.csv sorts before second.csv
    day2 = pq.read_table(lake.readings_partition(home.lake, FID, pd.Timestamp("2024-06-02").date()))
    assert day2.column("value").to_pylist() == [20.0, 30.0]
    assert day2.column("source").to_pylist() == ["inbox/BOILER-1/readings.csv",
                                                 "inbox/BOILER-1/second.csv"]
    assert s.readings_stored == 7


def test_ledger_mtime_skips_hashing_unchanged_files_and_a_new_mtime_rehashes(tmp_path, monkeypatch):
    """The ledger records size, SHA-256 and mtime. With mtime 2024-01-01T00:00:00Z
    (1 704 067 200 s) the rerun skips the file without hashing it; the same bytes with another
    mtime are hashed (and skipped: same content); a same-size edit with a new mtime is read again.
    A file modified within 2 s of its hashing gets mtime -1 (never trusted)."""
    home, fac = _home(tmp_path / "h", Z_CSV)
    path = home.root / "inbox" / FID / "readings.csv"
    old_ns = 1_704_067_200 * 10**9
    os.utime(path, ns=(old_ns, old_ns))
    ingest.ingest_files(home, fac, now=NOW)
    assert lake.read_ledger(home.lake, FID)["mtime_ns"].tolist() == [old_ns]
    hashed = []
    real = lake.file_sha256
    monkeypatch.setattr(lake, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    again = ingest.ingest_files(home, fac, now=NOW)
    assert (hashed, again.sources_skipped, again.sources_read) == ([], 1, 0)
    os.utime(path, ns=(old_ns + 10**9, old_ns + 10**9))          # touched, same bytes
    touched = ingest.ingest_files(home, fac, now=NOW)
    assert (hashed, touched.sources_skipped) == (["readings.csv"], 1)
    path.write_text(Z_CSV.replace("PT-201,1.5", "PT-201,1.7"))    # same size, new content
    edited = ingest.ingest_files(home, fac, now=NOW)
    # the edited file's readings replace what it held before (1.7, not the stored 1.5)
    assert edited.sources_read == 1 and edited.readings_stored == 6
    stored = lake.read_readings_table(home.lake, FID, lake.readings_days(home.lake, FID)[0]).to_pandas()
    assert 1.7 in set(stored.loc[stored["tag"] == "PT-201", "value"])
    assert 1.5 not in set(stored.loc[stored["tag"] == "PT-201", "value"])
    assert lake.read_ledger(home.lake, FID)["mtime_ns"].tolist() == [-1]   # just written: racy


def test_ledger_written_before_mtime_reads_as_unknown(tmp_path):
    """A ledger without ``mtime_ns`` (written by an earlier version) reads with -1 there."""
    old = pd.DataFrame({"source": ["inbox/a.csv"], "size": [10], "sha256": ["ab"], "rows": [1],
                        "rejected": [0], "ingested_at": [pd.Timestamp("2024-01-01", tz="UTC")]})
    lake.write_ledger(tmp_path, FID, old)
    assert lake.read_ledger(tmp_path, FID)["mtime_ns"].tolist() == [-1]


def test_local_days_of_instants_across_the_fall_back_day():
    """Chicago, hand-worked: 2024-11-03T04:59Z = 23:59 CDT on 2 Nov; 05:00Z = 00:00 CDT on 3 Nov;
    the 25-hour day ends at 2024-11-04T05:59Z = 23:59 CST; 06:00Z = 00:00 CST on 4 Nov."""
    from datetime import date

    from thermaliq.pipeline.ingest_arrow import _local_days_of

    ts = pd.to_datetime(["2024-11-03T05:00Z", "2024-11-03T04:59Z", "2024-11-04T06:00Z",
                         "2024-11-04T05:59Z", "2024-11-03T05:00Z"]).as_unit("ns").asi8
    inverse, instants = pd.factorize(ts)
    days, day_of_row = _local_days_of(instants, inverse, CHI)
    assert days == [date(2024, 11, 2), date(2024, 11, 3), date(2024, 11, 4)]
    assert day_of_row.tolist() == [1, 0, 2, 1, 1]


def test_tag_index_is_hashed_once_per_chunk_and_gives_the_fast_lanes_codes(tmp_path):
    """Hand-worked: tags FT-101, PT-201, FT-101, missing, PT-201 give the distinct tags
    [FT-101, PT-201, None] in order of first appearance and the positions [0, 1, 0, 2, 1]; a
    chunk keeps its index until its readings are replaced. The fast lane given the chunk's index
    writes the very bytes it writes when it hashes the tag column itself."""
    import pyarrow as pa
    from thermaliq.pipeline import ingest_arrow
    from thermaliq.sources import readers

    distinct, idx = readers.tag_index(pa.chunked_array([["FT-101", "PT-201"],
                                                        ["FT-101", None, "PT-201"]]))
    assert distinct == ["FT-101", "PT-201", None]
    assert idx.tolist() == [0, 1, 0, 2, 1]

    home, fac = _home(tmp_path / "h", Z_CSV)
    chunk = next(iter(ReadingsStream(home.root / "inbox" / FID / "readings.csv", tz=CHI,
                                     source="readings.csv")))
    assert chunk.tag_index() is chunk.tag_index()                  # built once, kept
    assert chunk.tag_index()[0] == ["PT-201", "FT-101"]
    files = {}
    for name, given in (("given", chunk.tag_index), ("hashed", None)):
        lake_dir = tmp_path / name / "lake"
        summary = ingest.IngestSummary(FID)
        assert ingest_arrow.store_new_days(lake_dir, fac, chunk.table, NOW, summary, None, given)
        files[name] = {str(p.relative_to(lake_dir)): p.read_bytes()
                       for p in sorted((lake_dir / "readings").rglob("*.parquet"))}
    assert len(files["given"]) == 2 and files["given"] == files["hashed"]


@pytest.mark.parametrize("extra_ns, plain", [(0, True), (1, False), (999, False), (1000, True),
                                             (-10**18, False), (10**18, False)])
def test_plain_times_checked_on_distinct_instants_as_on_every_row(extra_ns, plain):
    """The fast lane checks the times of a chunk's distinct instants (pandas.factorize), each
    once: the answer is the one of every row (earliest, latest, sub-µs precision), here for a
    day of 15-minute instants of two tags with one row moved by ``extra_ns``."""
    import numpy as np

    from thermaliq.pipeline import ingest_arrow

    base = pd.date_range("2024-06-01", periods=96, freq="15min", tz="UTC").as_unit("ns").asi8
    ts = np.repeat(base, 2)
    ts[7] += extra_ns
    code, values = np.tile([0, 1], 96), np.full(192, 5.0)
    lo, hi = np.array([0.0, 0.0]), np.array([10.0, 10.0])
    inverse, instants = pd.factorize(ts)
    assert len(instants) == 96 + (extra_ns != 0)
    by_rows = ingest_arrow._all_plain(code, ts, values, lo, hi, NOW)
    assert ingest_arrow._all_plain(code, instants, values, lo, hi, NOW) == by_rows == plain
    local_dates = pd.DatetimeIndex(ts).tz_localize("UTC").tz_convert(CHI).date   # row by row
    by_row = np.searchsorted(np.array(sorted(set(local_dates))), local_dates)
    assert ingest_arrow._local_days_of(instants, inverse, CHI)[1].tolist() == by_row.tolist()


def test_file_hash_through_the_reused_block_is_the_whole_files(tmp_path):
    """``lake.file_sha256`` reads into one reused buffer per thread: every file's hash is that
    of its whole bytes, whatever its size against the block (empty, shorter, equal, longer,
    several blocks), also after a longer file left its bytes in the buffer."""
    import hashlib

    sizes = [10_000, 0, 1, 6, 7, 8, 29, 7 * 300 + 5, 3]
    for block in (7, 1 << 20):
        for i, size in enumerate(sizes):
            path = tmp_path / f"{block}-{i}.bin"
            path.write_bytes(bytes((i * 31 + k) % 251 for k in range(size)))
            assert lake.file_sha256(path, chunk=block) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_of_one_chunk_is_stored_as_without_reading_ahead(tmp_path, monkeypatch):
    """A CSV file too short for a second chunk is read without the read-ahead thread
    (``ReadingsStream.one_chunk``) and leaves the lake the read-ahead leaves, rejects included.
    The bound is a record per column's worth of bytes (3 here): a chunk that many records long
    is sure, one shorter is not (nor, here, a real second chunk); a gzip file's size tells
    nothing."""
    import gzip

    from thermaliq.sources import bulk

    text = _hourly_csv(days=2)
    ahead = []
    real = bulk.prefetched
    monkeypatch.setattr(bulk, "prefetched", lambda items: ahead.append(1) or real(items))
    direct, fac1 = _home(tmp_path / "direct", text)
    ingest.ingest_files(direct, fac1, now=NOW)
    assert ahead == []
    monkeypatch.setattr(ReadingsStream, "one_chunk", lambda self: False)
    prefetched, fac2 = _home(tmp_path / "prefetched", text)
    ingest.ingest_files(prefetched, fac2, now=NOW)
    assert ahead == [1]
    a, b = _lake_state(direct), _lake_state(prefetched)
    assert len(a["readings"]) == 2 and len(a["quarantine"]) == 2
    _assert_same_lake(a, b)
    monkeypatch.undo()

    path = direct.root / "inbox" / FID / "readings.csv"
    size, records = path.stat().st_size, text.count("\n") - 1
    assert ReadingsStream(path, tz=CHI).one_chunk()
    assert ReadingsStream(path, tz=CHI, batch_rows=size // 3 + 1).one_chunk()
    assert not ReadingsStream(path, tz=CHI, batch_rows=size // 3).one_chunk()
    assert not ReadingsStream(path, tz=CHI, batch_rows=records - 1).one_chunk()
    gz = tmp_path / "readings.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert not ReadingsStream(gz, tz=CHI).one_chunk()
