"""DuckDB's parallel CSV reader (issue #15): the same readings, rejects and lake as the exact reader.

Every file is ingested twice, with ``parallel=True`` (DuckDB parses the whole file,
:mod:`thermaliq.sources.bulk`) and ``parallel=False`` (pyarrow's reader, one block at a time,
the path of every release before), and the lakes are compared byte for byte: readings partitions,
quarantine rows and ledger. The files hold every kind of row problem the readers know, DST
repeats and gaps in naive local times, duplicates and conflicts, and chunks of a few records so
that every rule crosses a chunk boundary.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.test_ingest_stream import CHI, NOW, _assert_same_lake, _home, _lake_state
from thermaliq.pipeline import ingest
from thermaliq.sources import bulk, file_io
from thermaliq.sources.readers import ReadingsStream

DATA = Path(__file__).parent / "data" / "readings"


@pytest.fixture(autouse=True)
def _duckdb_for_small_files(monkeypatch):
    """DuckDB's reader for files of any size (by default only from bulk.MIN_BYTES up), a first
    block of a few records (DuckDB reads the file when the first block holds no malformed
    record, so a malformed record further on makes it stop mid-file) and DuckDB batches of 4."""
    monkeypatch.setattr(bulk, "MIN_BYTES", 0)
    monkeypatch.setattr(bulk, "BATCH_RECORDS", 4)
    monkeypatch.setattr(file_io, "BLOCK_BYTES", 256)


def _z_csv(days: int = 3) -> str:
    """FT-101 and PT-201 every 20 min over ``days`` days from 2024-06-01 00:00Z (Z instants)."""
    lines = ["timestamp,tag,value"]
    for ts in pd.date_range("2024-06-01", periods=72 * days, freq="20min"):
        lines += [f"{ts:%Y-%m-%dT%H:%M:%S}Z,FT-101,{700 + ts.minute}",
                  f"{ts:%Y-%m-%dT%H:%M:%S}Z,PT-201,{1 + ts.hour / 100}"]
    return "\n".join(lines) + "\n"


MESSY = """timestamp,tag,value
2024-11-03T00:30:00,FT-101,100
2024-11-03T01:30:00,FT-101,101
2024-11-03T01:30:00,FT-101,102
2024-11-03 01:45:00,PT-201,1.1

2024-03-10T02:10:00,FT-101,200
2024-03-10T03:10:00-05:00,FT-101,201
2024-11-03T06:00:00Z,FT-101,n/a
2024-11-03T06:10:00Z,,5
2024-11-03T06:20:00Z,FT-101,
2024-11-03T06:30:00Z,FT-101,inf
not a time,FT-101,1
"2024-11-03T07:00:00Z","FT-101","300"
2024-11-03T07:00:00Z,FT-101,300
2024-11-03T07:00:00Z,FT-101,301
2024-11-03T07:10:00Z,FT-101,99999
2024-11-03T07:20:00Z, FT-101 ,7
1999-01-01T00:00:00Z,FT-101,1
2024-11-03T07:30:00+0100,PT-201,1.2
2024-11-03T08:00:00.5Z,PT-201,1.3
2024-11-03T01:45:00,FT-101,104
"""
MALFORMED = MESSY + "2024-11-03T09:00:00Z,FT-101,1,extra\n2024-11-03T09:10:00Z,FT-101,2\n"


def _both_ways(tmp_path, text: str, batch_rows: int):
    fast, fac1 = _home(tmp_path / "parallel", text)
    exact, fac2 = _home(tmp_path / "exact", text)
    s1 = ingest.ingest_files(fast, fac1, now=NOW, batch_rows=batch_rows, parallel=True)
    s2 = ingest.ingest_files(exact, fac2, now=NOW, batch_rows=batch_rows, parallel=False)
    return (s1, _lake_state(fast)), (s2, _lake_state(exact))


@pytest.mark.parametrize("text", [_z_csv(), MESSY, MALFORMED], ids=["clean-z", "messy", "malformed"])
@pytest.mark.parametrize("batch_rows", [3, 7, 1_000_000])
def test_parallel_reader_leaves_the_exact_readers_lake_byte_for_byte(tmp_path, text, batch_rows):
    (s1, a), (s2, b) = _both_ways(tmp_path, text, batch_rows)
    _assert_same_lake(a, b)
    for field in ("readings_read", "readings_stored", "rejected", "unconfigured", "days",
                  "notes", "file_errors"):
        assert getattr(s1, field) == getattr(s2, field), field
    assert a["readings"], "something was stored"


def test_messy_file_rejects_keep_row_numbers_and_reasons(tmp_path):
    """Hand-counted records of MESSY (the empty line is no record, so the line after it is
    record 5): every reject's row and reason, on the parallel path. Record 5 (02:10 in the
    spring gap, read as CST = 08:10Z) and record 6 (03:10-05:00 = 08:10Z) conflict: the
    smaller row keeps its value; records 12 and 13 are exact duplicates (one dropped, not
    quarantined) and 14 conflicts with them."""
    (s1, a), _ = _both_ways(tmp_path, MESSY, 4)
    q = a["quarantine"]
    got = [(int(r), why.split(":")[0].split(" [")[0].split(" (")[0]) for r, why in zip(q["row"], q["reason"])]
    assert got == [(6, "conflicting duplicate"), (7, "non-numeric value"), (8, "missing tag"),
                   (9, "missing value"), (10, "non-finite value"), (11, "unparseable timestamp"),
                   (14, "conflicting duplicate"), (15, "out of range"),
                   (17, "timestamp out of plausible range")]
    assert q["raw"].tolist()[1] == "2024-11-03T06:00:00Z,FT-101,n/a"   # the record as written
    assert s1.unconfigured == 1          # ' FT-101 ' is kept verbatim, as a tag no stream uses


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv")
                                        if p.name not in ("empty.csv", "wrong_delimiter.csv")))
def test_reader_gives_the_same_chunks_both_ways(name):
    """Every test readings file: the same readings and rejects, chunk by chunk, and notes."""
    def chunks(parallel: bool):
        stream = ReadingsStream(DATA / name, tz=CHI, batch_rows=5, parallel=parallel)
        out = [(c.readings.reset_index(drop=True), c.rejects.reset_index(drop=True)) for c in stream]
        return out, stream.notes

    (fast, notes1), (exact, notes2) = chunks(True), chunks(False)
    assert notes1 == notes2
    assert len(fast) == len(exact)
    for (r1, j1), (r2, j2) in zip(fast, exact):
        pd.testing.assert_frame_equal(r1, r2)
        pd.testing.assert_frame_equal(j1, j2)


ODD = {
    "crlf": "timestamp,tag,value\r\n2024-06-01T00:00:00Z,FT-101,1\r\n2024-06-01T00:01:00Z,FT-101,2\r\n",
    "cr-only": "timestamp,tag,value\r2024-06-01T00:00:00Z,FT-101,1\r2024-06-01T00:01:00Z,FT-101,2\r",
    "quote-inside": 'timestamp,tag,value\n2024-06-01T00:00:00Z,FT-101,1\n2024-06-01T00:01:00Z,F"T,2\n',
    "escaped-quote": 'timestamp,tag,value\n2024-06-01T00:00:00Z,"F""T",1\n2024-06-01T00:01:00Z,FT-101,2\n',
    "no-final-newline": "timestamp,tag,value\n2024-06-01T00:00:00Z,FT-101,1\n2024-06-01T00:01:00Z,FT-101,2",
    "blank-line": "timestamp,tag,value\n2024-06-01T00:00:00Z,FT-101,1\n   \n2024-06-01T00:01:00Z,FT-101,2\n",
    "trailing-delimiter": "timestamp,tag,value,\n2024-06-01T00:00:00Z,FT-101,1,\n2024-06-01T00:01:00Z,FT-101,2,\n",
    "semicolon": "timestamp;tag;value\n2024-06-01T00:00:00Z;FT-101;1.5\n2024-06-01T00:01:00Z;FT-101;2\n",
    "unicode-tag": "timestamp,tag,value\n2024-06-01T00:00:00Z,Dampf-\u00fc,1\n2024-06-01T00:01:00Z,FT-101,2\n",
    "offsets": "timestamp,tag,value\n2024-06-01T00:00:00+02:00,FT-101,1\n2024-06-01 00:01:00Z,FT-101,2\n"
               "2024-06-01T00:02:00.123456Z,FT-101,3\n2024-06-01,FT-101,4\n",
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_csv_forms_read_alike_both_ways(tmp_path, name):
    """Line endings, quotes, blank lines, other delimiters, offsets and fractions of a second:
    DuckDB reads them as the exact reader does, or stops and leaves them to it."""
    path = tmp_path / "odd.csv"
    path.write_bytes(ODD[name].encode())
    fast = [(c.readings, c.rejects) for c in ReadingsStream(path, tz=CHI, batch_rows=2)]
    exact = [(c.readings, c.rejects) for c in ReadingsStream(path, tz=CHI, batch_rows=2, parallel=False)]
    assert len(fast) == len(exact) and fast
    for (r1, j1), (r2, j2) in zip(fast, exact):
        pd.testing.assert_frame_equal(r1.reset_index(drop=True), r2.reset_index(drop=True))
        pd.testing.assert_frame_equal(j1.reset_index(drop=True), j2.reset_index(drop=True))


def test_clean_long_file_is_parsed_by_duckdb_and_a_malformed_one_falls_back(tmp_path):
    """A clean file: every record through DuckDB. A malformed record at record 150 (after the
    first block): DuckDB hands over some records, stops, and the exact reader goes on from the
    next record, naming record 150; the readings are those of the exact reader."""
    clean = tmp_path / "clean.csv"
    clean.write_text(_z_csv(1))
    stream = ReadingsStream(clean, tz=CHI, batch_rows=50)
    rows = sum(len(c) for c in stream)
    assert rows == 144 and stream.parallel_records == 144
    lines = _z_csv(2).splitlines()
    lines.insert(150, "2024-06-01T09:00:00Z,FT-101,1,extra")     # header is line 0: record 150
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    stream = ReadingsStream(bad, tz=CHI, batch_rows=50)
    chunks = list(stream)
    assert stream.parallel_records < 288        # DuckDB stopped at or before record 150
    rejects = pd.concat([c.rejects for c in chunks])
    assert rejects["row"].tolist() == [150]
    assert rejects["reason"].iloc[0].startswith("wrong number of fields")
    got = pd.concat([c.readings for c in chunks], ignore_index=True)
    exact = pd.concat([c.readings for c in ReadingsStream(bad, tz=CHI, batch_rows=50, parallel=False)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(got, exact)
    assert got["row"].tolist() == [r for r in range(1, 290) if r != 150]


def test_duckdb_stopping_mid_file_resumes_at_the_next_record(tmp_path, monkeypatch):
    """DuckDB hands over 8 records, then stops (as it does on a malformed record when it has
    already handed over the records before it): the exact reader goes on from record 9, and the
    chunks equal the exact reader's, rejects and row numbers included."""
    real = bulk.BulkLong
    tail = _z_csv(1).split("\n", 1)[1]
    path, clean = tmp_path / "r.csv", tmp_path / "clean.csv"
    path.write_text(MESSY + "2024-11-03T09:00:00Z,FT-101,1,extra\n" + tail)
    clean.write_text(MESSY + tail)      # the same first records, without the malformed one

    class StopsAfterTwoBatches:      # DuckDB's parse of the first records, then a stop
        def __init__(self, p, lower, delimiter):
            self.inner = real(clean, lower, delimiter)

        def __iter__(self):
            for i, batch in enumerate(self.inner):
                if i == 2:
                    raise bulk.BulkUnavailable("stopped")
                yield batch

    monkeypatch.setattr(bulk, "BulkLong", StopsAfterTwoBatches)
    stream = ReadingsStream(path, tz=CHI, batch_rows=6)
    fast = [(c.readings, c.rejects) for c in stream]
    assert stream.parallel_records == 8
    exact = [(c.readings, c.rejects) for c in ReadingsStream(path, tz=CHI, batch_rows=6, parallel=False)]
    assert len(fast) == len(exact)
    for (r1, j1), (r2, j2) in zip(fast, exact):
        pd.testing.assert_frame_equal(r1.reset_index(drop=True), r2.reset_index(drop=True))
        pd.testing.assert_frame_equal(j1.reset_index(drop=True), j2.reset_index(drop=True))
    rejects = pd.concat([j for _, j in fast])
    assert "wrong number of fields" in " ".join(rejects["reason"])


def test_prefetched_hands_over_items_in_order_and_raises_the_producers_error():
    assert list(bulk.prefetched(iter(range(50)), depth=2)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("tail")

    got = []
    with pytest.raises(ValueError, match="tail"):
        for item in bulk.prefetched(broken()):
            got.append(item)
    assert got == [1]
    it = bulk.prefetched(iter(range(1000)))
    assert next(it) == 0
    it.close()        # the consumer stops early: the producer thread ends
