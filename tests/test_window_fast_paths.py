"""The fast paths of calculating and storing a window give exactly what the plain pandas code
they replace gives (content hashes of earlier runs, pivots, texts, grouping of readings)."""
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from thermaliq.quality import align
from thermaliq.physics import balance
from thermaliq.pipeline import results

ZONES = ["UTC", "America/Chicago", "Europe/London", "Asia/Kolkata", "America/St_Johns",
         "Australia/Lord_Howe"]


def _grid(start: str, periods: int, step_s: int = 900) -> np.ndarray:
    return pd.Timestamp(start, tz="UTC").value + np.arange(periods) * step_s * 10**9


@pytest.mark.parametrize("zone", ZONES)
def test_timestamp_texts_are_str_of_timestamps(zone):
    """Period boundaries (bulk formatting) and odd instants (LMT offsets, nanoseconds: the
    Timestamps themselves) hash as the text of the Timestamp."""
    rng = np.random.default_rng(1)
    instants = np.r_[_grid("2024-03-01", 4000), rng.integers(-2 * 10**18, 2 * 10**18, 300)]
    for ns in (instants, instants + 7):
        texts = results._timestamp_texts(ns, ZoneInfo(zone))
        stamps = pd.DatetimeIndex(ns, tz="UTC").tz_convert(ZoneInfo(zone))
        assert [str(t) for t in texts] == [str(t) for t in stamps]
        assert np.array_equal(pd.util.hash_array(texts, categorize=False),
                              pd.util.hash_array(np.asarray(stamps.astype(object))))


def _old_stream_frame(zone: str, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream energy rows as they were (interval times UTC, day times local, concatenated by
    pandas) and as they are now (UTC instants)."""
    tz = ZoneInfo(zone)
    starts = pd.DatetimeIndex(pd.Timestamp("2024-03-09", tz=tz).value
                              + np.arange(days * 96) * 900 * 10**9, tz="UTC")
    # local midnights as balance.period_results makes them (UTC instants converted to the zone)
    local_days = pd.DatetimeIndex(pd.unique(balance._local_start(starts, tz, "day"))).tz_convert(tz)
    local_days = local_days.append(balance._next_starts(local_days[-1:], tz, "day"))
    streams = ["gas", "steam"]

    def rows(granularity, begin, end):
        n = len(begin)
        return pd.DataFrame({"granularity": granularity,
                             "period_start": begin.repeat(len(streams)),
                             "period_end": end.repeat(len(streams)),
                             "stream_id": np.tile(streams, n),
                             "energy_kwh": np.arange(n * len(streams), dtype=float)})

    parts = [rows("interval", starts, starts + pd.Timedelta("15min")),
             rows("day", local_days[:-1], local_days[1:])]
    old = pd.concat(parts, ignore_index=True)
    new = pd.concat([p.assign(period_start=pd.to_datetime(p["period_start"], utc=True),
                              period_end=pd.to_datetime(p["period_end"], utc=True))
                     for p in parts], ignore_index=True)
    return old, new


@pytest.mark.parametrize("zone", ["America/Chicago", "UTC", "Etc/UTC", "Europe/London"])
def test_stream_time_hashes_reproduce_the_stored_content_hash(zone):
    """Rows that pandas used to hold as Timestamp objects of two zones (a DST change inside)
    hash as they did, so unchanged windows of earlier runs stay unchanged."""
    old, new = _old_stream_frame(zone, days=3)
    assert (old["period_start"].dtype == object) == (zone != "UTC")   # pandas' rule, as stored
    facility = SimpleNamespace(timezone=zone, tz=ZoneInfo(zone))
    want = pd.util.hash_pandas_object(old, index=False).to_numpy()
    got = results._row_hashes(new, results._stream_time_hashes(new, facility))
    assert np.array_equal(got, want)


def test_as_text_equals_astype_str():
    """Date-time columns formatted once per distinct value: the same texts, NaT and odd
    nanoseconds included (pandas then formats the whole column with fractions)."""
    frame = pd.DataFrame({
        "tag": pd.array(["a", "b", None, "a"], dtype="str"),
        "period_start": pd.DatetimeIndex(_grid("2025-01-01", 4, 86400), tz="UTC"),
        "period_end": pd.DatetimeIndex(_grid("2025-01-02", 4, 86400) + np.r_[0, 0, 1, 0],
                                       tz="UTC").tz_convert("America/Chicago"),
        "naive": pd.DatetimeIndex(_grid("2025-01-01", 4, 86400)),
        "n": [1, 2, 3, 4], "x": [0.5, np.nan, 2.0, 1e-9]})
    frame.loc[1, "period_start"] = pd.NaT
    pd.testing.assert_frame_equal(results._as_text(frame), frame.astype(str))
    pd.testing.assert_frame_equal(results._as_text(frame.iloc[:0]), frame.iloc[:0].astype(str))


def test_by_stream_equals_pivot_and_reindex():
    """Periods missing on either side and streams in sorted order, as pivot + reindex."""
    starts = pd.DatetimeIndex(_grid("2025-01-01", 6), tz="UTC")
    rows = pd.DataFrame({"period_start": starts[[0, 0, 1, 2, 2, 5]],
                         "stream_id": pd.array(["steam", "gas", "gas", "steam", "gas", "flue"],
                                               dtype="str"),
                         "energy_kwh": [1.0, 2.0, 3.0, np.nan, 5.0, 6.0],
                         "exergy_kwh": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]})
    index = starts[[0, 1, 2, 3, 4]].rename("period_start")
    got = results._by_stream(rows, index, ["energy_kwh", "exergy_kwh"])
    for name, frame in zip(["energy_kwh", "exergy_kwh"], got):
        want = rows.pivot(index="period_start", columns="stream_id", values=name).reindex(index)
        pd.testing.assert_frame_equal(frame, want)


def _tag_arrays_by_lexsort(readings):
    """The grouping _tag_arrays did before: one lexsort of (tag, time)."""
    t_all = readings["ts"].array.as_unit("ns").asi8
    v_all = readings["value"].to_numpy(dtype="float64")
    codes, names = pd.factorize(readings["tag"])
    order = np.lexsort((t_all, codes))
    t_all, v_all, c = t_all[order], v_all[order], codes[order]
    bounds = np.searchsorted(c, np.arange(len(names) + 1))
    out = {}
    for i, tag in enumerate(names):
        t, v = t_all[bounds[i]:bounds[i + 1]], v_all[bounds[i]:bounds[i + 1]]
        keep = np.concatenate(([True], np.diff(t) > 0)) & np.isfinite(v)
        out[tag] = (t[keep], v[keep])
    return out


def _readings(days: int = 3) -> pd.DataFrame:
    """Day files as stored: sorted by tag and time within each day, days one after another."""
    frames = []
    for d in range(days):
        ts = pd.DatetimeIndex(_grid("2025-01-01", 1440, 60) + d * 86400 * 10**9, tz="UTC")
        for tag in ("TT-1", "FT-2", "PT-3"):
            frames.append(pd.DataFrame({"tag": tag, "ts": ts,
                                        "value": np.sin(np.arange(1440) + d) * (1 + len(tag))}))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["tag", "ts"], kind="stable") if days == 1 else out
    out["tag"] = out["tag"].astype("str")
    out.loc[[5, 9], "value"] = np.nan              # dropped
    out.loc[7, "ts"] = out.loc[6, "ts"]             # a second sample of one instant: dropped
    return out.reset_index(drop=True)


@pytest.mark.parametrize("variant", ["stored", "shuffled", "object", "missing_tags", "one_day"])
def test_tag_arrays_equal_the_lexsort_grouping(variant):
    readings = _readings(1 if variant == "one_day" else 3)
    if variant == "shuffled":
        readings = readings.sample(frac=1.0, random_state=2).reset_index(drop=True)
    elif variant == "object":
        readings["tag"] = readings["tag"].astype(object)
    elif variant == "missing_tags":
        readings.loc[::11, "tag"] = None
    got, want = align._tag_arrays(readings), _tag_arrays_by_lexsort(readings)
    assert list(got) == list(want)
    for tag in want:
        assert np.array_equal(got[tag][0], want[tag][0])
        assert np.array_equal(got[tag][1], want[tag][1])


@pytest.mark.parametrize("zone", ["America/Chicago", "Europe/London", "UTC", "America/Havana"])
@pytest.mark.parametrize("granularity", ["day", "month"])
def test_next_starts_equal_one_by_one(zone, granularity):
    """The next local day or month start of many periods at once (DST changes at midnight in
    Havana) equals localising them one at a time."""
    tz = ZoneInfo(zone)
    index = pd.DatetimeIndex(_grid("2023-01-01", 2 * 365 * 24, 3600), tz="UTC")
    starts = pd.DatetimeIndex(pd.unique(balance._local_start(index, tz, granularity))).tz_convert(tz)
    got = balance._next_starts(starts, tz, granularity)
    for start, end in zip(starts, got):
        naive = start.tz_localize(None) + (pd.Timedelta(days=1) if granularity == "day"
                                           else pd.offsets.MonthBegin(1))
        want = pd.DatetimeIndex([naive]).tz_localize(tz, ambiguous=np.array([True]),
                                                     nonexistent="shift_forward")[0]
        assert end == want and str(end.tz) == str(want.tz)
