"""The columnar page view (``thermaliq.report.view``) against the pandas functions it replaces.

Every page of ``render_reports`` is derived from a :class:`FacilityView`; these tests check on the
hand-built month of ``test_report`` that each derived piece equals what ``ReportData.period`` and
the ``report_periods`` functions give for the same period (exact equality: the pages must be
byte-identical), for day, week (no exact row: summed) and month periods.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from tests.test_report import TZ, connect, make_facility, make_relations
from thermaliq.periods import local_midnight
from thermaliq.report.data import load_facility_period
from thermaliq.report.figures import quality_heatmap
from thermaliq.report.periods import daily_results, period_stream_energies, period_summary
from thermaliq.report.render import facility_page
from thermaliq.report.quality import totals_by_key
from thermaliq.report.view import DAY_COLUMNS, STREAM_COLUMNS, FacilityView, columns_of

PERIODS = [(date(2026, 11, 1), 1), (date(2026, 11, 18), 1), (date(2026, 11, 30), 1),
           (date(2026, 11, 3), 7), (date(2026, 11, 1), 30)]


@pytest.fixture(scope="module")
def loaded():
    """The whole month plus a trailing window, as ``render_reports`` loads a facility."""
    con = connect(make_relations())
    try:
        yield load_facility_period(con, "FAC-R1", date(2026, 11, 1), date(2026, 12, 1), tz=TZ, trailing_days=60)
    finally:
        con.close()


def _bounds(first: date, days: int):
    return local_midnight(first, TZ), local_midnight(first + timedelta(days=days), TZ)


def _same(a, b) -> bool:
    """Equal values, NaN equal to NaN."""
    return all((x == y) or (pd.isna(x) and pd.isna(y)) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("first,days", PERIODS)
def test_view_equals_pandas_period(loaded, first, days):
    """Summary, stream energies, day results, repair sums and alerts of a page equal the pandas ones."""
    start, end = _bounds(first, days)
    view = FacilityView(loaded, TZ).period(start, end, 30)
    data = loaded.period(start, end, 30)
    expected = period_summary(data)
    got = view.summary()
    for key in ("basis", "efficiency_percent", "balance_error_percent", "data_quality_score", "status", "source"):
        assert _same([got[key]], [expected[key]]), key
    order = ["gas", "power_in", "steam", "flue", "shell"]
    frame, how = period_stream_energies(data, order)
    energies, how_view = view.stream_energies_of_period(order)
    assert how_view == how
    for c in STREAM_COLUMNS:
        assert _same(energies[c], frame[c].tolist()), c
    days_pd = columns_of(daily_results(data)[list(DAY_COLUMNS)])
    days_view = view.days()
    for c in DAY_COLUMNS:
        assert _same(days_view[c].tolist(), days_pd[c].tolist()), c  # bit-equal floats, not approx
    dq = data.data_quality
    day_labels = [f"{t.tz_convert(TZ):%Y-%m-%d}" for t in dq["period_start"]]
    assert view.facility.quality_by_day.totals(view.data_quality) == totals_by_key([dq["tag"].tolist(), day_labels], dq)
    assert len(view.alerts) == len(data.alerts)
    pd.testing.assert_frame_equal(view.alerts_frame(), data.alerts)


def test_repeated_day_rows_fall_back_to_trailing_mean(loaded):
    """Two current rows of one day (not written by the pipeline, but possible in a hand-made
    relation): the view defers to ``calculate.trailing_mean``'s own de-duplication."""
    c = loaded.calculations
    twice = pd.concat([c, c[c["granularity"] == "day"].iloc[[5]]], ignore_index=True)
    twice = twice.sort_values("period_start", kind="stable").reset_index(drop=True)
    data = type(loaded)(**{**loaded.__dict__, "calculations": twice})
    start, end = _bounds(date(2026, 11, 12), 1)
    view = FacilityView(data, TZ).period(start, end, 30)
    expected = daily_results(data.period(start, end, 30))["efficiency_mean_percent"].tolist()
    assert _same(view.days()["efficiency_mean_percent"].tolist(), expected)


def test_facility_page_same_from_view_and_from_period_data(loaded):
    """A page built from the facility's view equals the page built from ``ReportData.period``."""
    facility = make_facility()
    start, end = _bounds(date(2026, 11, 18), 1)
    view = FacilityView(loaded, TZ).period(start, end, 30)
    fast = facility_page(view, facility, "day 2026-11-18", nav="")
    slow = facility_page(loaded.period(start, end, 30), facility, "day 2026-11-18", nav="")
    stamp = re.compile(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")  # the page's generation time
    assert stamp.sub("", fast) == stamp.sub("", slow)


@pytest.mark.parametrize("first,days", PERIODS)
def test_quality_heatmap_cells_made_once_equal_the_page_sums(loaded, first, days):
    """The heatmap from the facility's grid of cells (a page's rows are whole (tag, day) groups)
    equals the heatmap of the page's own sums."""
    start, end = _bounds(first, days)
    facility = FacilityView(loaded, TZ)
    view = facility.period(start, end, 30)
    assert facility.quality_by_day.block(view.data_quality) is not None   # the grid's path is taken
    got = facility.quality_heatmap.figure(view.data_quality, tz=TZ, minimum=0.9)
    assert got == quality_heatmap(view.facility.quality_by_day.totals(view.data_quality), tz=TZ, minimum=0.9)
    assert len(got["data"][0]["z"]) == len({tag for tag, _ in view.facility.quality_by_day.totals(view.data_quality)})


def test_quality_heatmap_of_rows_cutting_a_group(loaded):
    """Rows that hold only part of a (tag, day) group, or leave out a group of their tags × days,
    are summed for the page: the grid's cells (over all rows) would be wrong for them."""
    dq = loaded.data_quality
    half = dq.iloc[[0]].assign(period_start=dq["period_start"].iloc[0] + pd.Timedelta(hours=1),
                               valid_points=1, issues="half a day")
    data = type(loaded)(**{**loaded.__dict__, "data_quality": pd.concat([dq, half], ignore_index=True)})
    facility = FacilityView(data, TZ)
    counts = facility.quality_by_day
    tag, day = counts.keys[counts.codes[0]]
    same_group = [r for r in range(len(counts.codes)) if counts.keys.get(counts.codes[r]) == (tag, day)]
    assert len(same_group) == 2
    rows = np.array([r for r in range(len(counts.codes)) if r != same_group[1]])   # one of the group's two
    other = np.array([r for r in range(len(counts.codes)) if r != 1])   # a group of the block left out
    for cut in (rows, other):
        assert counts.block(cut) is None
        assert facility.quality_heatmap.figure(cut, tz=TZ, minimum=0.9) == quality_heatmap(
            counts.totals(cut), tz=TZ, minimum=0.9)
    whole = np.arange(len(counts.codes))
    assert counts.block(whole) is not None
    assert facility.quality_heatmap.figure(whole, tz=TZ, minimum=0.9) == quality_heatmap(
        counts.totals(whole), tz=TZ, minimum=0.9)


@pytest.mark.parametrize("first,days", PERIODS)
def test_quality_heatmap_json_from_cells_is_plotlys(loaded, first, days):
    """The heatmap's JSON joined from its cells' JSON is ``plotly.io.to_json`` of its figure,
    with hover texts that Plotly escapes (``<br>``, ``</script>``, line separators, quotes)."""
    dq = loaded.data_quality
    hostile = ["</script><b>x</b>", "a \u2028 b \u2029 'c' \"d\" & e/f", None, ""]
    dq = dq.assign(issues=[hostile[i % len(hostile)] if i % 3 == 0 else v for i, v in enumerate(dq["issues"])])
    data = type(loaded)(**{**loaded.__dict__, "data_quality": dq})
    start, end = _bounds(first, days)
    facility = FacilityView(data, TZ)
    rows = facility.period(start, end, 30).data_quality
    expected = pio.to_json(quality_heatmap(facility.quality_by_day.totals(rows), tz="Europe/<Zürich>",
                                           minimum=0.9), validate=False)
    assert facility.quality_heatmap.figure_json(rows, tz="Europe/<Zürich>", minimum=0.9) == expected
    assert "\\u003cbr\\u003e" in expected and "\u2028" not in expected
    gap = rows[facility.quality_by_day.codes[rows] % facility.quality_by_day.sizes[1]
               != facility.quality_by_day.codes[rows[0]] % facility.quality_by_day.sizes[1] + 1]
    assert facility.quality_heatmap.figure_json(gap, tz=TZ, minimum=0.9) == pio.to_json(
        quality_heatmap(facility.quality_by_day.totals(gap), tz=TZ, minimum=0.9), validate=False)
