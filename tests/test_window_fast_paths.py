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


def _plain_stored_types(df: pd.DataFrame) -> pd.DataFrame:
    """The conversion result files had before they were built as Arrow tables: one type per
    column in pandas, then ``pyarrow.Table.from_pandas``."""
    out = {}
    for col in df.columns:
        values = df[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[col] = values.astype("datetime64[us, UTC]")
        elif col in results.TIME_COLUMNS:
            out[col] = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
        elif col in results.TEXT_COLUMNS or values.dtype == object:
            out[col] = values.astype("string")
        else:
            out[col] = values
    return pd.DataFrame(out)


def test_stable_table_equals_the_pandas_conversion():
    """Result files keep their column types: local and UTC instants mixed (objects), NaT, a text
    column of NaN or None only, nullable integers, booleans, text with missing values."""
    import pyarrow as pa

    berlin = pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Berlin")
    df = pd.DataFrame({
        "period_start": berlin, "period_end": berlin + pd.Timedelta("1D"),
        "calculated_at": [pd.Timestamp("2024-04-01 02:00", tz="UTC"), pd.NaT,
                          pd.Timestamp("2024-04-01 02:00", tz="America/New_York")],
        "reason": [np.nan] * 3, "run_id": [None] * 3,
        "status": pd.array(["ok", None, "no data"], dtype="str"),
        "message": pd.array(["a", pd.NA, "<b>"], dtype="string"),
        "version": [1, 2, 3], "ok": [True, False, True], "energy_kwh": [1.5, np.nan, 2.0],
        "valid_intervals": pd.array([96, None, 92], dtype="Int64")})
    expected = pa.Table.from_pandas(_plain_stored_types(df), preserve_index=False) \
        .replace_schema_metadata(None)
    table = results._stable_table(df)
    assert table.schema.equals(expected.schema)
    assert table.equals(expected)
    assert table["reason"].type == pa.large_string() and table["reason"].null_count == 3
    assert table["calculated_at"].to_pylist()[1] is None
    assert table["energy_kwh"].null_count == 1              # NaN stored as null, as before


def test_month_uncertainty_from_effects_adds_sources_as_the_row_loop():
    """The sources' contributions taken as arrays add up, source by source, to the same bits as
    the row-by-row loop (hand-made effects, one missing)."""
    from thermaliq.physics import budget

    facility = SimpleNamespace(streams=[SimpleNamespace(role="input"), SimpleNamespace(role="loss")])
    effects = pd.DataFrame({"source": ["a", "b", "c"],
                            "input_effect_kwh": [120.0, -3.5, np.nan],
                            "output_effect_kwh": [0.0, 80.25, 1.0e-3],
                            "losses_effect_kwh": [7.0, 0.0, 2.5]})
    inp, out, loss = 10_000.0, 8_450.0, 1_200.0
    squares = {q: 0.0 for q in budget.QUANTITIES}
    for r in effects.itertuples():
        for q, c in budget.contributions(inp, out, loss, r.input_effect_kwh, r.output_effect_kwh,
                                         r.losses_effect_kwh, True).items():
            squares[q] += float(np.nan_to_num(c)) ** 2
    got = budget.uncertainty_from_effects(facility, inp, out, loss, effects)
    for q, column in budget.QUANTITIES.items():
        assert got[column] == budget.COVERAGE_EXPANDED * float(np.sqrt(squares[q]))


def test_text_codes_tell_values_apart_as_factorize_does():
    """Codes of text held by Arrow (dictionary encoding over several columns and chunks) are equal
    exactly where the values are, -1 where one is missing, and count the distinct values as
    ``pandas.factorize`` of the concatenated columns does; other columns take that path."""
    from thermaliq.store import versions
    rng = np.random.default_rng(3)
    words = np.array(["interval", "day", "month", "gas", "steam", None], dtype=object)
    parts = [words[rng.integers(0, len(words), n)] for n in (500, 0, 37, 1200)]
    arrow = [pd.Series(p, dtype="str") for p in parts]
    arrow[3] = pd.concat([arrow[3].iloc[:600], arrow[3].iloc[600:]])       # two chunks
    for columns in (arrow, arrow[:1] + [pd.Series(parts[1], dtype=object)] + arrow[2:]):
        codes, distinct = versions.text_codes(columns)
        expected, uniques = pd.factorize(np.concatenate(parts).astype(object))
        assert distinct == len(uniques)
        assert np.array_equal(codes == -1, expected == -1)
        same = codes[:, None] == codes[None, :]
        assert np.array_equal(same, expected[:, None] == expected[None, :])


def _energy_rows(text_dtype, zone: str) -> pd.DataFrame:
    """Stream energy rows of the constant boiler (and an electricity import) over three
    intervals and a day, as stored (text as ``text_dtype``, times in ``zone``)."""
    starts = pd.DatetimeIndex(["2025-01-01 00:00", "2025-01-01 00:15", "2025-01-01 00:30",
                               "2025-01-01 00:00"], tz="UTC").tz_convert(zone)
    n = len(starts)
    rows = pd.DataFrame({
        "granularity": pd.array(["interval"] * 3 + ["day"], dtype=text_dtype),
        "period_start": starts, "period_end": starts + pd.Timedelta("15min"),
        "energy_kwh": [100.0, 110.0, np.nan, 5000.0], "balance_energy_kwh": [99.0, 109.0, np.nan, 4900.0],
        "version": [1, 1, 2, 3]})
    out = pd.concat([rows.assign(stream_id=pd.array([s] * n, dtype=text_dtype))
                     for s in ("gas", "steam", "grid")], ignore_index=True)
    return out.iloc[[0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]].reset_index(drop=True)


def test_emission_rows_of_arrow_text_equal_the_general_path():
    """Emission rows and the CO2e columns taken from text held by Arrow and UTC instants (the
    shortcuts) equal those of text as Python objects and local times."""
    from tests.helpers import constant_boiler_config
    from thermaliq.config import parse_facility
    from thermaliq.pipeline import carbon
    config = constant_boiler_config()
    config["streams"].append({"id": "grid", "role": "input", "carrier": "electricity",
                              "flow": {"tag": "JT-1", "unit": "kW"}})
    facility = parse_facility({**config, "emission_factors": {
        "gwp": "AR5", "electricity": {"value": 0.4, "unit": "kg/kWh"}}})
    fast = carbon.emission_rows(facility, _energy_rows("str", "UTC"))
    plain = carbon.emission_rows(facility, _energy_rows(object, "Europe/Berlin"))
    pd.testing.assert_frame_equal(fast, plain)
    assert list(fast["stream_id"]) == ["gas", "grid"] * 4          # the rows' order kept
    assert fast["co2e_kg"].isna().tolist() == [False] * 4 + [True] * 2 + [False] * 2  # NaN energy
    assert fast["co2e_kg"].iloc[7] == pytest.approx(4900 * 0.4)     # grid day: kWh x kg/kWh
    calc = pd.DataFrame({"granularity": pd.array(["interval", "day", "month"], dtype="str"),
                         "period_start": pd.DatetimeIndex(["2025-01-01 00:15", "2025-01-01 00:00",
                                                           "2025-01-01 00:00"], tz="UTC"),
                         "useful_output_kwh": [400.0, 9000.0, 0.0]})
    with_fast, with_plain = carbon.with_co2e(calc, fast), carbon.with_co2e(calc, plain)
    pd.testing.assert_frame_equal(with_fast, with_plain)
    gas_and_grid = fast[(fast["granularity"] == "day")]["co2e_kg"].sum()
    assert with_fast["co2e_kg"].iloc[1] == pytest.approx(gas_and_grid)
    assert np.isnan(with_fast["co2e_kg"].iloc[2])                   # no month rows: NaN


@pytest.mark.parametrize("index", [pd.RangeIndex(3), pd.Index([5, 2, 9]), pd.Index([1, 1, 2]),
                                   pd.RangeIndex(0)])
@pytest.mark.parametrize("existing", [False, True])
def test_columns_added_in_one_step_equal_setting_them_one_by_one(index, existing):
    """The bookkeeping columns of stored rows (text, None, an instant, numbers, a value per row)
    added in one step give the frame that setting them one by one gives."""
    n = len(index)
    frame = pd.DataFrame({"efficiency_percent": np.linspace(80, 90, n),
                          "granularity": pd.array(["day"] * n, dtype="str")}, index=index)
    if existing:
        frame["run_id"] = "older"
    columns = {"facility_id": "F1", "version": np.arange(n, dtype="int64") + 1,
               "calculated_at": pd.Timestamp("2026-12-03 07:00", tz="UTC"), "run_id": "r1",
               "reason": None, "write_seq": 7, "content_hash": [f"h{i}" for i in range(n)]}
    expected = frame.copy()
    for name, value in columns.items():
        expected[name] = value
    pd.testing.assert_frame_equal(results._with_columns(frame, columns), expected)
    assert "facility_id" not in frame                                     # the input is kept


@pytest.mark.parametrize("keep", [[True] * 6, [False, True, True, True, False, False],
                                  [True, False, True, True, False, True], [False] * 6,
                                  [False, False, False, False, False, True]])
def test_rows_where_is_boolean_picking(keep):
    """A block of kept rows comes as a slice, anything else as boolean picking: the same rows."""
    from thermaliq.pipeline.jobs import rows_where
    frame = pd.DataFrame({"tag": pd.array(list("abcdef"), dtype="str"), "value": np.arange(6.0)},
                         index=np.arange(10, 16))
    keep = np.array(keep)
    pd.testing.assert_frame_equal(rows_where(frame, keep), frame[keep])


def _trailing_mean_by_pandas(days: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """The trailing mean as pandas spelled it before: concatenated, de-duplicated (the later
    row), sorted by start, rolled."""
    from thermaliq.quality.alerts import trailing_mean_of
    cols = ["period_start", "efficiency_percent", "status"]
    both = pd.concat([history[cols] if not history.empty else pd.DataFrame(columns=cols), days[cols]],
                     ignore_index=True)
    both["period_start"] = pd.to_datetime(both["period_start"], utc=True)
    both = both.drop_duplicates("period_start", keep="last").sort_values("period_start")
    mean = pd.Series(trailing_mean_of(both["efficiency_percent"].to_numpy(), both["status"].to_numpy()),
                     index=pd.DatetimeIndex(both["period_start"]))
    return mean.reindex(pd.DatetimeIndex(pd.to_datetime(days["period_start"], utc=True)))


@pytest.mark.parametrize("seed", range(6))
def test_trailing_mean_equals_the_pandas_spelling(seed):
    """Day rows and stored history in any order, overlapping (a day in both is taken from the
    day rows), in the facility's zone or UTC, with unusable days: the same means bit for bit."""
    from thermaliq.physics.balance import STATUS_OK
    from thermaliq.quality.alerts import trailing_mean
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2025-03-01", tz="Europe/Berlin")

    def rows(n: int, first_day: int, zone: str) -> pd.DataFrame:
        starts = [base + pd.Timedelta(days=int(d)) for d in rng.integers(first_day, first_day + 12, n)]
        return pd.DataFrame({"period_start": pd.DatetimeIndex(starts).as_unit("ns").tz_convert(zone),
                             "efficiency_percent": rng.normal(85, 3, n),
                             "status": rng.choice([STATUS_OK, "no_data"], n, p=[0.8, 0.2])})

    for n_history, n_days in ((0, 1), (1, 1), (9, 3), (14, 5)):
        history = rows(n_history, 0, "UTC") if n_history else pd.DataFrame()
        days = rows(n_days, 5, "Europe/Berlin" if seed % 2 else "UTC")
        pd.testing.assert_series_equal(trailing_mean(days, history), _trailing_mean_by_pandas(days, history))
