"""Tests of thermaliq.sources.readers (readings files, DESIGN §4) and thermaliq.sources.wallclock (DST rule).

Expected instants are hand-worked from the IANA tz database rules for America/Chicago: standard
time CST = UTC-6, daylight time CDT = UTC-5; in 2024 DST began on 10 March at 02:00 local (clocks
to 03:00, so that local day has 23 hours) and ended on 3 November at 02:00 local (clocks back to
01:00, so that day has 25 hours) — the US rule of the Energy Policy Act of 2005.
"""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thermaliq.errors import DataError
from thermaliq.sources.readers import READING_COLUMNS, REJECT_COLUMNS, read_readings_file, read_readings_files

DATA = Path(__file__).parent / "data" / "readings"
CHI = "America/Chicago"


def utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def check_shapes(r) -> None:
    assert list(r.readings.columns) == READING_COLUMNS
    assert list(r.rejects.columns) == REJECT_COLUMNS
    assert str(r.readings["ts"].dtype) == "datetime64[ns, UTC]"
    assert r.readings["value"].dtype == np.float64
    assert r.readings["row"].dtype == np.int64
    assert r.rejects["row"].dtype == np.int64


def test_long_with_offsets_z_unit_and_quality():
    """Offsets and Z are instants whatever tz is given (hand-worked: 00:15-06:00 = 06:15Z)."""
    r = read_readings_file(DATA / "long_offset.csv", tz=CHI)
    check_shapes(r)
    got = r.readings
    assert got["ts"].tolist() == [utc("2024-01-15 06:00"), utc("2024-01-15 06:15"),
                                  utc("2024-01-15 06:30"), utc("2024-01-15 06:45:00.250")]
    assert got["value"].tolist() == [1520.5, 1530.25, 185.0, 10.2]
    assert got["unit"].tolist() == ["m3/h", "m3/h", "degC", "barg"]
    assert got["quality"].iloc[0] == "good" and pd.isna(got["quality"].iloc[2])
    assert got["row"].tolist() == [1, 2, 3, 4]
    assert set(got["source"]) == {str(DATA / "long_offset.csv")}
    assert r.rejects.empty and r.notes == []


def test_naive_local_bom_semicolon_and_quoted_tag():
    """Naive times are Chicago wall clock: CST in January (+6 h), CDT in July (+5 h).

    The file has a UTF-8 BOM, ';' delimiters, capitalised header names and a quoted tag holding
    a quote and a semicolon; a date alone is local midnight; 1e308 is finite and kept.
    """
    r = read_readings_file(DATA / "long_naive_semicolon_bom.csv", tz=CHI, source="inbox/x.csv")
    check_shapes(r)
    got = r.readings
    assert got["tag"].tolist() == ['FT;"101"', "FT-101", "TT-201"]
    assert got["ts"].tolist() == [utc("2024-01-15 06:00"), utc("2024-07-01 17:00"),
                                  utc("2024-01-15 06:00")]
    assert got["value"].tolist() == [1520.5, 1e308, -0.5]
    assert set(got["source"]) == {"inbox/x.csv"}
    assert got["unit"].isna().all()


def test_wide_format_melted_with_row_numbers_and_rejects():
    """Wide file: every non-empty cell is a reading of its column's tag; an empty cell is no reading,
    a non-numeric cell is rejected, a bad timestamp rejects its row once."""
    r = read_readings_file(DATA / "wide_naive.csv", tz=CHI)
    check_shapes(r)
    got = r.readings.sort_values(["row", "tag"]).reset_index(drop=True)
    expected = [("FT-101", 1, 1520.5), ('PT 201 "main"', 1, 10.2), ("TT-201", 1, 185.0),
                ("FT-101", 2, 1530.0), ('PT 201 "main"', 2, 10.3), ("TT-201", 3, 186.0)]
    assert list(zip(got["tag"], got["row"], got["value"])) == expected
    # 00:15 CST = 06:15 UTC
    assert got.loc[got["row"] == 2, "ts"].unique().tolist() == [utc("2024-01-15 06:15")]
    assert list(zip(r.rejects["row"], r.rejects["reason"])) == [
        (3, "non-numeric value"), (4, "unparseable timestamp")]
    assert "abc" in r.rejects["raw"].iloc[0]


def test_bad_rows_rejected_with_reason_and_record_number():
    """Each bad row of bad_rows.csv gives one reject with its reason and 1-based record number;
    record 10 has a quoted newline inside its tag, so record numbers are not line numbers."""
    r = read_readings_file(DATA / "bad_rows.csv", tz=CHI)
    check_shapes(r)
    assert r.readings["row"].tolist() == [1, 10, 12]
    assert r.readings["tag"].tolist() == ["FT-101", "FT\n101", "FT-101"]
    assert list(zip(r.rejects["row"], r.rejects["reason"])) == [
        (2, "non-numeric value"), (3, "non-finite value"), (4, "non-finite value"),
        (5, "unparseable timestamp"), (6, "missing timestamp"), (7, "missing tag"),
        (8, "missing value"), (9, "wrong number of fields (expected 3, got 4)"),
        (11, "unparseable timestamp")]
    assert r.rejects.loc[r.rejects["row"] == 2, "raw"].item() == "2024-01-15T00:15:00Z,FT-101,twelve"
    assert (r.rejects["raw"].str.len() <= 500).all()


@pytest.mark.parametrize("name, message", [
    ("empty.csv", "empty file"),
    ("wrong_delimiter.csv", "no 'timestamp' column"),
])
def test_whole_file_problems_raise_data_error_naming_the_file(name, message):
    with pytest.raises(DataError, match=message) as err:
        read_readings_file(DATA / name, tz=CHI)
    assert name in str(err.value)


def test_timestamp_forms_and_value_spellings(tmp_path):
    """More ISO 8601 forms (space separator, fractional seconds, +0530 and +05:30 offsets) and
    value spellings: padded numbers and exponents are numbers, 'NA' and 'null' are non-numeric,
    a year-3000 time is out of datetime64[ns] range. Hand-worked: 12:00+05:30 = 06:30Z."""
    p = tmp_path / "forms.csv"
    p.write_text("timestamp,tag,value\n"
                 "2024-01-15 12:00:00.5+0530,A, 7 \n"
                 "2024-01-15T12:00:00+05:30,A,NA\n"
                 "2024-01-15T12:00:00+05:30,A,null\n"
                 "3000-01-01T00:00:00Z,A,1\n"
                 "2024-01-15T12:00:00+05:30,A,-1.5E3\n")
    r = read_readings_file(str(p), tz=CHI)
    assert r.readings["ts"].tolist() == [utc("2024-01-15 06:30:00.5"), utc("2024-01-15 06:30")]
    assert r.readings["value"].tolist() == [7.0, -1500.0]
    assert r.readings["row"].tolist() == [1, 5]
    assert list(zip(r.rejects["row"], r.rejects["reason"])) == [
        (2, "non-numeric value"), (3, "non-numeric value"), (4, "timestamp out of range")]
    assert set(r.readings["source"]) == {str(p)}


def test_windows_1252_file_is_decoded_and_noted():
    """Byte 0xB0 is '°' in Windows-1252 (and invalid as UTF-8): the unit reads 'degree C'."""
    r = read_readings_file(DATA / "windows1252.csv", tz=CHI)
    assert r.readings["unit"].tolist() == ["\u00b0C"]
    assert "Windows-1252" in r.notes[0]


def test_header_only_gives_empty_result_and_a_note():
    r = read_readings_file(DATA / "header_only.csv", tz=CHI)
    check_shapes(r)
    assert r.readings.empty and r.rejects.empty
    assert "header only" in r.notes[0]


def test_other_file_level_errors(tmp_path):
    (tmp_path / "x.xlsx").write_text("a")
    with pytest.raises(DataError, match="unsupported file type"):
        read_readings_file(tmp_path / "x.xlsx", tz=CHI)
    with pytest.raises(DataError, match="file not found"):
        read_readings_file(tmp_path / "missing.csv", tz=CHI)
    with pytest.raises(DataError, match="format 'long' needs"):
        read_readings_file(DATA / "wide_naive.csv", tz=CHI, format="long")
    (tmp_path / "dup.csv").write_text("timestamp,tag,value,Value\n2024-01-15,A,1,2\n")
    with pytest.raises(DataError, match="appear more than once"):
        read_readings_file(tmp_path / "dup.csv", tz=CHI)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_readings_file(bad, tz=CHI)


def test_gzip_csv_reads_like_the_plain_file(tmp_path):
    gz = tmp_path / "long_offset.csv.gz"
    with open(DATA / "long_offset.csv", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a = read_readings_file(DATA / "long_offset.csv", tz=CHI).readings.drop(columns="source")
    b = read_readings_file(gz, tz=CHI).readings.drop(columns="source")
    pd.testing.assert_frame_equal(a, b)


def test_parquet_long_typed_and_wide_naive(tmp_path):
    """Parquet with typed columns: an aware timestamp column is instants, a naive one wall clock."""
    long = pa.table({"timestamp": pa.array(pd.to_datetime(["2024-01-15 06:00", "2024-01-15 06:15"],
                                                          utc=True)),
                     "tag": ["FT-101", "FT-101"], "value": [1.5, float("nan")], "unit": ["kW", "kW"]})
    pq.write_table(long, tmp_path / "long.parquet")
    r = read_readings_file(tmp_path / "long.parquet", tz=CHI)
    check_shapes(r)
    assert r.readings[["ts", "value", "unit", "row"]].values.tolist() == [
        [utc("2024-01-15 06:00"), 1.5, "kW", 1]]
    assert list(zip(r.rejects["row"], r.rejects["reason"])) == [(2, "non-finite value")]

    wide = pa.table({"timestamp": pa.array(pd.to_datetime(["2024-07-01 12:00"])),
                     "FT-101": [2.0], "TT-201": pa.array([7], pa.int64())})
    pq.write_table(wide, tmp_path / "wide.pq")
    r = read_readings_file(tmp_path / "wide.pq", tz=CHI)
    got = r.readings.sort_values("tag")
    assert got["tag"].tolist() == ["FT-101", "TT-201"]
    assert got["value"].tolist() == [2.0, 7.0]
    assert set(got["ts"]) == {utc("2024-07-01 17:00")}  # 12:00 CDT = 17:00 UTC


def test_wide_file_with_10000_columns(tmp_path):
    """10 000 tag columns are melted (2 rows -> 20 000 readings), values land on their tags."""
    n = 10_000
    tags = [f"T{i:05d}" for i in range(n)]
    lines = ["timestamp," + ",".join(tags)]
    for k, t in enumerate(["2024-01-15T00:00:00Z", "2024-01-15T00:15:00Z"]):
        lines.append(t + "," + ",".join(str(i + k / 2) for i in range(n)))
    p = tmp_path / "wide.csv"
    p.write_text("\n".join(lines) + "\n")
    r = read_readings_file(p, tz=CHI)
    assert len(r.readings) == 2 * n and r.rejects.empty
    got = r.readings.set_index(["tag", "row"])["value"]
    assert got[("T00000", 1)] == 0.0 and got[("T09999", 2)] == 9999.5 and got[("T04321", 1)] == 4321.0


def _series_csv(path: Path, wall: list[pd.Timestamp], values, shuffle_seed: int | None = None):
    df = pd.DataFrame({"timestamp": [w.strftime("%Y-%m-%dT%H:%M:%S") for w in wall],
                       "tag": "FT-101", "value": values})
    if shuffle_seed is not None:
        df = df.sample(frac=1.0, random_state=shuffle_seed)
    df.to_csv(path, index=False)


def test_spring_forward_day_has_23_hours(tmp_path):
    """2024-03-10 in Chicago: a correct 1-minute logger writes 23 × 60 = 1380 wall times (no 02:xx)
    and they map to 1380 distinct instants from 06:00Z to 04:59Z the next day, no repair needed."""
    wall = [w for w in pd.date_range("2024-03-10", periods=1440, freq="1min") if w.hour != 2]
    _series_csv(tmp_path / "d.csv", wall, range(len(wall)))
    r = read_readings_file(tmp_path / "d.csv", tz=CHI)
    ts = r.readings["ts"]
    assert ts.nunique() == 1380 and r.notes == []
    assert ts.min() == utc("2024-03-10 06:00") and ts.max() == utc("2024-03-11 04:59")


def test_spring_forward_nonexistent_times_are_repaired_and_reported(tmp_path):
    """A 15-minute logger that writes 96 wall times on 2024-03-10 (including the nonexistent 02:xx):
    02:xx is read with the offset before the change (CST), so 02:15 -> 08:15Z, the same instant as
    03:15 CDT; 96 readings map to 92 distinct instants (23 h × 4) and the note counts 4 repairs."""
    wall = list(pd.date_range("2024-03-10", periods=96, freq="15min"))
    _series_csv(tmp_path / "d.csv", wall, range(96), shuffle_seed=3)
    r = read_readings_file(tmp_path / "d.csv", tz=CHI)
    assert len(r.readings) == 96 and r.rejects.empty
    assert r.readings["ts"].nunique() == 92
    by_value = r.readings.set_index("value")["ts"]
    assert by_value[9.0] == utc("2024-03-10 08:15")  # 02:15 CST
    assert by_value[13.0] == utc("2024-03-10 08:15")  # 03:15 CDT
    assert len(r.notes) == 1 and "4 reading(s)" in r.notes[0] and "nonexistent" in r.notes[0]


def test_fall_back_day_has_25_hours_in_file_order(tmp_path):
    """2024-11-03 in Chicago: a 15-minute series written in time order has 100 rows, 01:00-01:45
    twice. The first of each pair is CDT, the second CST: row k is the instant 05:00Z + 15 min × k,
    exactly (what pandas' ambiguous='infer' gives for such a file)."""
    day = list(pd.date_range("2024-11-03", periods=96, freq="15min"))
    wall = day[:8] + day[4:]  # 00:00 .. 01:45 (CDT), 01:00 .. 23:45 (CST)
    _series_csv(tmp_path / "d.csv", wall, range(100))
    r = read_readings_file(tmp_path / "d.csv", tz=CHI)
    expected = pd.date_range("2024-11-03 05:00", periods=100, freq="15min", tz="UTC")
    assert r.readings.sort_values("row")["ts"].tolist() == list(expected)
    assert len(r.notes) == 1
    assert "8 reading(s)" in r.notes[0] and "daylight time (4)" in r.notes[0]
    assert "standard time (4)" in r.notes[0]


def test_fall_back_day_shuffled_rows_and_1_minute_series(tmp_path):
    """Row order means nothing: a shuffled 1-minute series of the 25-hour day (1500 rows, 60 wall
    times twice) still maps to 1500 distinct instants covering 05:00Z .. 05:59Z next day."""
    day = list(pd.date_range("2024-11-03", periods=1440, freq="1min"))
    wall = day[:120] + day[60:]
    _series_csv(tmp_path / "d.csv", wall, range(1500), shuffle_seed=11)
    r = read_readings_file(tmp_path / "d.csv", tz=CHI)
    ts = r.readings["ts"]
    assert ts.nunique() == 1500
    assert ts.min() == utc("2024-11-03 05:00") and ts.max() == utc("2024-11-04 05:59")
    assert "120 reading(s)" in r.notes[0]


def test_ambiguous_time_seen_once_is_daylight_time(tmp_path):
    """01:30 on 2024-11-03 alone: taken as 01:30 CDT = 06:30Z, and reported."""
    _series_csv(tmp_path / "d.csv", [pd.Timestamp("2024-11-03 01:30")], [1.0])
    r = read_readings_file(tmp_path / "d.csv", tz=CHI)
    assert r.readings["ts"].tolist() == [utc("2024-11-03 06:30")]
    assert "occurred only once" in r.notes[0]


def test_read_readings_files_iterates(tmp_path):
    out = list(read_readings_files([DATA / "long_offset.csv", DATA / "wide_naive.csv"], CHI))
    assert [p.name for p, _ in out] == ["long_offset.csv", "wide_naive.csv"]
    assert [len(r.readings) for _, r in out] == [4, 6]


def test_instants_with_z_and_plain_numbers_take_the_fast_parse_with_the_sql_values(tmp_path,
                                                                                   monkeypatch):
    """A batch of ``YYYY-MM-DDTHH:MM:SSZ`` instants and numbers pyarrow parses is read without
    DuckDB (parse.parse_long_fast); spellings hand-worked: '1.' = 1, '.5' = 0.5,
    '+2' = 2, '1E+05' = 100 000, '007.25' = 7.25, '-0' = -0.0. One padded value (' 3', which
    pyarrow refuses and DuckDB trims) sends the whole batch through SQL: same values."""
    from thermaliq.sources import parse

    rows = ["1.", ".5", "+2", "1E+05", "007.25", "-0"]
    text = "timestamp,tag,value\n" + "".join(
        f"2024-01-15T06:0{i}:00Z,A,{v}\n" for i, v in enumerate(rows))
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    fast.write_text(text)
    slow.write_text(text + "2024-01-15T06:09:00Z,A, 3\n")
    calls = []
    real = parse.parse_long_fast

    def spy(batch, lower):
        calls.append(real(batch, lower) is not None)
        return real(batch, lower)

    monkeypatch.setattr("thermaliq.sources.parse.parse_long_fast", spy)
    # the batch path (DuckDB's whole-file parse is compared in tests/test_ingest_parallel_csv.py)
    a = read_readings_file(fast, tz=CHI, source="f.csv", parallel=False)
    b = read_readings_file(slow, tz=CHI, source="f.csv", parallel=False)
    assert calls == [True, False]
    expected = [1.0, 0.5, 2.0, 100_000.0, 7.25, -0.0]
    assert a.readings["value"].tolist() == expected
    assert np.signbit(a.readings["value"].to_numpy()[-1])
    assert b.readings["value"].tolist() == expected + [3.0]
    assert a.readings["ts"].tolist() == [utc(f"2024-01-15 06:0{i}") for i in range(6)]
    pd.testing.assert_frame_equal(a.readings, b.readings.iloc[:6])
    assert a.rejects.empty and b.rejects.empty


@pytest.mark.parametrize("stamp, reason", [
    ("2024-02-30T06:00:00Z", "unparseable timestamp"),      # no 30 February (not 1 March)
    ("2023-02-29T06:00:00Z", "unparseable timestamp"),      # 2023 is no leap year
    ("2024-12-31T23:59:60Z", "unparseable timestamp"),      # leap seconds are not read
    ("1600-01-01T06:00:00Z", "timestamp out of range"),     # before 1678 (datetime64[ns])
    ("2024-01-15T06:00:00+00:00", None),                    # offset form: the SQL path, kept
])
def test_z_stamps_the_fast_parse_cannot_vouch_for_go_through_sql(tmp_path, stamp, reason):
    p = tmp_path / "odd.csv"
    p.write_text(f"timestamp,tag,value\n2024-01-15T05:00:00Z,A,1\n{stamp},A,2\n")
    r = read_readings_file(p, tz=CHI)
    if reason is None:
        assert r.readings["ts"].tolist() == [utc("2024-01-15 05:00"), utc("2024-01-15 06:00")]
        assert r.rejects.empty
    else:
        assert r.readings["value"].tolist() == [1.0]
        assert list(zip(r.rejects["row"], r.rejects["reason"])) == [(2, reason)]


def test_ascii_header_line_is_the_decoded_ones():
    """The header sniffing's ASCII shortcut (bytes, no decoding of the whole MiB) gives the first
    line, or None for white space only, that decoding the bytes gives (``str.isspace``,
    ``str.splitlines`` line breaks), for every ASCII character alone, repeated, between others
    and before a line; a non-ASCII head takes the decoding path."""
    from thermaliq.sources import file_io

    for code in range(128):
        c = bytes([code])
        for head in (c, c * 3, b"ts,tag" + c + b"value\nx", c + b"ts;v\n", b" " + c + b"\t\n"):
            expected = file_io.decoded_header_line(head)
            assert file_io.header_line(head) == expected, head
            assert file_io.header_line(memoryview(bytearray(head))) == expected, head
    assert file_io.header_line(b"") == (None, "utf8")
    assert file_io.header_line("\ufeffts;wert\n".encode()) == ("ts;wert", "utf8")
    assert file_io.header_line("ts;W\xe4rme\n".encode("cp1252")) == ("ts;W\xe4rme", "cp1252")


def test_header_sniffing_reuses_its_buffer_without_leftovers(tmp_path):
    """A file of white space read after a longer file (its bytes still in the reused buffer
    beyond the short file's end) is still an empty file; a file longer than the head is
    sniffed from its first MiB."""
    from thermaliq.sources import file_io

    long = tmp_path / "long.csv"
    long.write_text("timestamp;tag;value\n" + "2024-01-01T00:00:00Z;A;1\n" * 60_000)
    blank = tmp_path / "blank.csv"
    blank.write_text(" \n\n")
    assert file_io.RecordBatches(long, "long.csv").delimiter == ";"
    with pytest.raises(DataError, match="empty file"):
        file_io.RecordBatches(blank, "blank.csv")


def test_z_instants_parsed_once_per_run_of_equal_neighbours_as_once_per_distinct_text(
        monkeypatch):
    """A long file in time order writes each instant once per tag, one after the other: its
    texts are parsed once per run of equal neighbours instead of once per distinct text
    (hashing). Both give every row's instant, or both None, for columns in time order (3 tags,
    an instant again later, a 30 February inside), shuffled, alternating, and short ones."""
    from thermaliq.sources import parse

    stamps = [f"2024-01-15T{h:02d}:{m:02d}:00Z" for h in range(3) for m in range(0, 60, 15)]
    ordered = [s for s in stamps for _ in range(3)]
    columns = {"ordered": ordered, "again": ordered + ordered[:6],
               "30 Feb": ordered[:9] + ["2024-02-30T06:00:00Z"] * 3 + ordered[9:],
               "shuffled": list(np.random.default_rng(7).permutation(ordered)),
               "alternating": stamps * 3, "one": stamps[:1], "two equal": stamps[:1] * 2,
               "two": stamps[:2], "none": []}
    got = {}
    for name, texts in columns.items():
        column = pa.array(texts, pa.string())
        runs = parse._runs_of(column)
        if runs is not None:
            assert runs[0].take(pa.array(runs[1])).equals(column)
        got[name] = (runs is not None, parse._iso_z_instants(column))
    assert [name for name, (by_runs, _) in got.items() if by_runs] == \
        ["ordered", "again", "30 Feb", "two equal"]
    monkeypatch.setattr(parse, "_runs_of", lambda column: None)
    for name, texts in columns.items():
        expected = parse._iso_z_instants(pa.array(texts, pa.string()))
        if expected is None:
            assert got[name][1] is None, name
        else:
            assert got[name][1].tolist() == expected.tolist(), name
    assert got["30 Feb"][1] is None and got["ordered"][1] is not None


def test_blank_tags_told_from_first_bytes_as_by_their_distinct_texts():
    """The fast parse's check for blank tags (empty or spaces only, 'missing tag' on the SQL
    path) looks at the distinct tags only when a tag is empty or begins with a space: for
    every mix of ordinary, padded and blank tags, plain, sliced and large strings, the bytes'
    'may be blank' is true wherever a distinct tag is blank."""
    import itertools

    from thermaliq.sources import parse

    kinds = ["FT-101", "A ", " A", "", " ", "   ", "Ä", "x\\t"]
    for a, b in itertools.product(kinds, repeat=2):
        texts = ["PT-1", a, "PT-2", b]
        blank = any(not t.strip(" ") for t in texts)
        for column in (pa.array(texts), pa.array(texts, pa.large_string()),
                       pa.array([" "] + texts + [""]).slice(1, 4)):
            assert not blank or parse._may_be_blank(column), (a, b)
            assert parse._may_be_blank(column) == (any(t == "" or t[0] == " " for t in texts))
    assert not parse._may_be_blank(pa.array([], pa.string()))
