"""Tests of thermaliq.quality.cleaning.clean_readings on hand-made readings (each repair step and its count)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thermaliq.config import parse_facility
from thermaliq.errors import DataError
from thermaliq.quality.cleaning import COUNT_COLUMNS, clean_readings, facility_score

T0 = pd.Timestamp("2024-06-01 12:00", tz="UTC")


def _facility():
    return parse_facility({
        "facility_id": "Q1", "name": "quality test", "type": "steam_boiler",
        "timezone": "America/Chicago", "source": {"kind": "files", "path": "inbox/*.csv"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "flow": {"tag": "FT-101", "unit": "m3/h", "range": [0, 2500]}},
            {"id": "steam", "role": "output", "carrier": "steam",
             "flow": {"tag": "FT-201", "unit": "t/h", "range": [0, 50]},
             "pressure": {"tag": "PT-201", "unit": "barg"},
             "feedwater_temperature": {"value": 105, "unit": "degC"}},
        ]})


def _raw(rows):
    """rows: (tag, minute, value, unit, quality, source, row)."""
    df = pd.DataFrame(rows, columns=["tag", "minute", "value", "unit", "quality", "source", "row"])
    df["ts"] = T0 + pd.to_timedelta(df.pop("minute"), unit="min")
    df["value"] = df["value"].astype("float64")
    return df[["tag", "ts", "value", "unit", "quality", "source", "row"]]


def test_clean_readings_pass_through():
    """Good readings come out unchanged, sorted, with the configured unit and zero counts."""
    raw = _raw([("FT-201", 1, 20.0, None, None, "a.csv", 2),
                ("FT-101", 0, 1000.0, "m3/h", None, "a.csv", 1)])
    res = clean_readings(raw, _facility())
    assert list(res.readings["tag"]) == ["FT-101", "FT-201"]
    assert list(res.readings["value"]) == [1000.0, 20.0]
    assert list(res.readings["unit"]) == ["m3/h", "t/h"]
    assert res.rejects.empty
    assert list(res.counts.columns) == list(COUNT_COLUMNS)
    assert list(res.counts.index) == ["FT-101", "FT-201", "PT-201"]
    assert int(res.counts.to_numpy().sum()) == 0


def test_exact_duplicates_dropped_and_counted_not_quarantined():
    """Hand case: one reading delivered three times (two files) is one reading, 2 duplicates."""
    raw = _raw([("FT-101", 0, 1000.0, None, None, "a.csv", 1),
                ("FT-101", 0, 1000.0, None, None, "b.csv", 7),
                ("FT-101", 0, 1000.0, None, None, "a.csv", 9),
                ("FT-101", 1, 1001.0, None, None, "a.csv", 2)])
    res = clean_readings(raw, _facility())
    assert len(res.readings) == 2
    assert res.counts.loc["FT-101", "duplicates"] == 2
    assert res.rejects.empty
    # the survivor is the smallest (source, row)
    assert res.readings.iloc[0][["source", "row"]].tolist() == ["a.csv", 1]


def test_conflicting_duplicates_rule_and_quarantine():
    """Hand case: good quality wins; among equal quality the smallest (source, row) wins; row order
    of the input does not matter; losers are quarantined with reason 'conflicting duplicate'."""
    raw = _raw([("FT-101", 0, 1000.0, None, "bad", "a.csv", 1),
                ("FT-101", 0, 1010.0, None, "good", "b.csv", 5),
                ("FT-101", 0, 1020.0, None, None, "a.csv", 3),
                ("FT-201", 0, 21.0, None, None, "b.csv", 2),
                ("FT-201", 0, 22.0, None, None, "a.csv", 8)])
    fac = _facility()
    res = clean_readings(raw, fac)
    kept = res.readings.set_index("tag")["value"]
    assert kept["FT-101"] == 1010.0          # quality 'good' beats no flag and 'bad'
    assert kept["FT-201"] == 22.0            # a.csv sorts before b.csv
    assert res.counts.loc["FT-101", "conflicts"] == 2
    assert res.counts.loc["FT-201", "conflicts"] == 1
    assert len(res.rejects) == 3
    assert res.rejects["reason"].str.startswith("conflicting duplicate").all()
    assert "kept value 1010" in res.rejects.set_index("row").loc[1, "reason"]
    shuffled = clean_readings(raw.sample(frac=1.0, random_state=3), fac)
    pd.testing.assert_frame_equal(shuffled.readings, res.readings)
    assert sorted(shuffled.rejects["row"]) == sorted(res.rejects["row"])


def test_spike_beyond_range_rejected_with_reason():
    """A spike of 9999 m3/h on a meter configured [0, 2500] m3/h goes to quarantine."""
    raw = _raw([("FT-101", 0, 1000.0, None, None, "a.csv", 1),
                ("FT-101", 1, 9999.0, None, None, "a.csv", 2),
                ("FT-101", 2, -1.0, None, None, "a.csv", 3),
                ("FT-101", 3, 2500.0, None, None, "a.csv", 4)])   # the bound itself is in range
    res = clean_readings(raw, _facility())
    assert list(res.readings["value"]) == [1000.0, 2500.0]
    assert res.counts.loc["FT-101", "out_of_range"] == 2
    assert list(res.rejects["reason"]) == ["out of range [0, 2500] m3/h"] * 2
    assert list(res.rejects["row"]) == [2, 3]
    assert "value=9999.0" in res.rejects["raw"].iloc[0]


def test_non_numeric_rejected_and_unconfigured_tags_kept():
    """NaN (a non-numeric cell after parsing) and inf are rejected; a tag no stream uses is kept as
    an ordinary reading with the file's unit (issue #14: unconfigured tags are not errors),
    counted, and its exact duplicate dropped like any other; its non-finite value is rejected."""
    raw = _raw([("FT-101", 0, np.nan, None, None, "a.csv", 1),
                ("FT-101", 1, np.inf, None, None, "a.csv", 2),
                ("XX-999", 0, 5.0, "bar", None, "a.csv", 3),
                ("FT-101", 2, 900.0, None, None, "a.csv", 4),
                ("XX-999", 0, 5.0, "bar", None, "a.csv", 5),
                ("YY-1", 0, np.nan, None, None, "a.csv", 6)])
    res = clean_readings(raw, _facility())
    kept = res.readings.set_index("tag")
    assert kept.loc["FT-101", "value"] == 900.0
    assert kept.loc["XX-999", "value"] == 5.0 and kept.loc["XX-999", "unit"] == "bar"
    assert len(res.readings) == 2
    assert res.counts.loc["FT-101", "non_numeric"] == 2
    assert res.counts.loc["XX-999", "unknown_tag"] == 2 and res.counts.loc["XX-999", "duplicates"] == 1
    reasons = res.rejects.set_index("row")["reason"]
    assert 3 not in reasons.index and 5 not in reasons.index
    assert reasons[1] == reasons[2] == reasons[6] == "non-numeric or non-finite value"
    assert set(res.rejects.columns) >= {"source", "row", "reason", "raw", "tag", "ts"}


def test_unit_conversion_and_incompatible_unit():
    """2000 kg/h of a tag configured in t/h is 2 t/h; 14.503774 psig is 1 barg (NIST SP 811:
    1 psi = 6894.757 Pa, so 1 bar = 14.503774 psi; a gauge difference needs no offset); degC for
    a t/h tag is rejected with a reason naming both units."""
    raw = _raw([("FT-201", 0, 2000.0, "kg/h", None, "a.csv", 1),
                ("PT-201", 0, 14.503774, "psig", None, "a.csv", 2),
                ("FT-201", 1, 80.0, "degC", None, "a.csv", 3)])
    res = clean_readings(raw, _facility())
    kept = res.readings.set_index("tag")["value"]
    assert kept["FT-201"] == pytest.approx(2.0, rel=1e-12)          # exact scale factor 1e-3
    assert kept["PT-201"] == pytest.approx(1.0, rel=1e-6)           # 7 significant digits given
    assert res.counts.loc["FT-201", "unit_errors"] == 1
    reason = res.rejects["reason"].iloc[0]
    assert "'degC'" in reason and "'t/h'" in reason


def test_range_applies_after_unit_conversion():
    """60000 kg/h = 60 t/h is beyond the [0, 50] t/h range: converted first, then rejected."""
    raw = _raw([("FT-201", 0, 60000.0, "kg/h", None, "a.csv", 1)])
    res = clean_readings(raw, _facility())
    assert res.readings.empty
    assert res.counts.loc["FT-201", "out_of_range"] == 1
    assert res.rejects["reason"].iloc[0] == "out of range [0, 50] t/h"


def test_missing_column_is_a_clear_error():
    raw = _raw([("FT-101", 0, 1.0, None, None, "a.csv", 1)]).drop(columns="value")
    with pytest.raises(DataError, match="value"):
        clean_readings(raw, _facility())


def test_facility_score_share_of_valid_intervals():
    """DESIGN §7: data_quality_score = valid intervals / intervals; 84 of 96 -> 0.875."""
    assert facility_score(pd.Series([True] * 84 + [False] * 12)) == 0.875
    assert np.isnan(facility_score(pd.Series([], dtype=bool)))


def _dq_file(lake, month: str, day: str, seq: int, **extra):
    """One ``data_quality`` file and its day's ``calculations`` row (the view keeps the rows of
    the write that made the current day row)."""
    start = pd.Timestamp(day, tz="UTC")
    for dataset, row in (("data_quality", dict(tag="FT-101", period_end=start + pd.Timedelta("1D"),
                                               expected_points=96, valid_points=90, interpolated_points=1,
                                               rejected_points=3, completeness=90 / 96,
                                               issues="3 outliers", day_start=start, **extra)),
                         ("calculations", dict(granularity="day"))):
        folder = lake / dataset / "facility_id=Q1" / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([dict(facility_id="Q1", period_start=start, write_seq=seq, **row)]).to_parquet(
            folder / f"{seq:020d}.parquet")


def test_data_quality_view_reads_partitions_written_before_outlier_points(tmp_path):
    """Lake files of older versions have no ``outlier_points``: the relation still has the column
    (NULL there, the count being only in ``issues``), alone or beside files that have it."""
    import duckdb

    from thermaliq.store.catalog import RELATIONS, view_sql

    present = {"data_quality", "calculations"}
    con = duckdb.connect()
    _dq_file(tmp_path, "2024-05", "2024-05-31", 1)                       # an older version's file
    old_only = con.execute(view_sql(tmp_path, "data_quality", present)).df()
    assert list(old_only.columns) == [c for c, _ in RELATIONS["data_quality"]]
    assert old_only["outlier_points"].isna().all() and old_only["issues"].tolist() == ["3 outliers"]
    _dq_file(tmp_path, "2024-06", "2024-06-01", 2, outlier_points=3)     # this version's file
    both = con.execute(f"SELECT period_start, outlier_points FROM ({view_sql(tmp_path, 'data_quality', present)}) "
                       "ORDER BY period_start").fetchall()
    assert [n for _, n in both] == [None, 3]
    assert con.execute(f"SELECT typeof(outlier_points) FROM ({view_sql(tmp_path, 'data_quality', present)}) "
                       "LIMIT 1").fetchone()[0] == "BIGINT"
