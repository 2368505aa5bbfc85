"""Reports: data loading from DuckDB relations (DESIGN §6), page content, escaping, files.

The fixture is a hand-built month of a steam boiler: per day, gas input G and power input P,
steam output = eff × (G + P), flue loss 12.5 % and shell loss 1 % of the input; so every expected
number below is worked out from these definitions, not read back from the code under test.
"""
from __future__ import annotations

import json
import math
import re
from concurrent.futures import Executor, Future
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from thermaliq.config import parse_facility
from thermaliq.errors import DataError
from thermaliq.periods import local_midnight
from thermaliq.report.data import load_facility_period
from thermaliq.report.periods import daily_results, period_stream_energies, period_summary
from thermaliq.report import render
from thermaliq.report.render import facility_page, render_reports

TZ = "America/Chicago"
TAGS = ["FT-101", "JT-301", "FT-201", "PT-201", "TT-201", "TT-202", "TT-501", "AT-501"]


def make_facility(facility_id: str = "FAC-R1", name: str = "Riverside steam plant"):
    return parse_facility({
        "facility_id": facility_id, "name": name, "type": "steam_boiler", "timezone": TZ,
        "basis": "HHV", "source": {"kind": "files", "path": f"inbox/{facility_id}/*.csv"},
        "thresholds": {"balance_tolerance_percent": 5.0, "data_quality_min": 0.9},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "FT-101", "unit": "m3/h"}},
            {"id": "power_in", "role": "input", "carrier": "electricity", "flow": {"tag": "JT-301", "unit": "kW"}},
            {"id": "steam", "role": "output", "carrier": "steam", "flow": {"tag": "FT-201", "unit": "t/h"},
             "pressure": {"tag": "PT-201", "unit": "barg"}, "temperature": {"tag": "TT-201", "unit": "degC"},
             "feedwater_temperature": {"tag": "TT-202", "unit": "degC"}},
            {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
             "temperature": {"tag": "TT-501", "unit": "degC"}, "o2": {"tag": "AT-501", "unit": "percent"}},
            {"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}},
        ]})


def _day_bounds(d: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    return local_midnight(d, TZ), local_midnight(d + timedelta(days=1), TZ)


def make_relations(facility_id: str = "FAC-R1", first: date = date(2026, 11, 1), days: int = 30,
                   seed: int = 7) -> dict[str, pd.DataFrame]:
    """Frames named like the §6 relations, realistic but fully determined by the definitions."""
    rng = np.random.default_rng(seed)
    calc, se, dq, alerts = [], [], [], []
    for i in range(days):
        d = first + timedelta(days=i)
        ps, pe = _day_bounds(d)
        gas = 60_000 + 4_000 * math.sin(i / 3) + rng.normal(0, 800)
        power = 600.0
        e_in = gas + power
        eff = 0.70 if i == 17 else 0.84 + rng.normal(0, 0.006)  # day 18: a fouled-burner anomaly
        steam, flue, shell = eff * e_in, 0.125 * e_in, 0.01 * e_in
        if i == 17:
            flue = 0.12 * e_in  # unaccounted 17 % of input: balance error 17 %
        losses = flue + shell
        unacc = e_in - steam - losses
        quality = 0.78 if i in (9, 10) else 1.0
        run_id = f"run-{d:%Y%m%d}"
        calc.append({"facility_id": facility_id, "granularity": "day", "period_start": ps, "period_end": pe,
                     "basis": "HHV", "energy_input_kwh": e_in, "useful_output_kwh": steam,
                     "losses_kwh": losses, "unaccounted_kwh": unacc, "efficiency_percent": steam / e_in * 100,
                     "indirect_efficiency_percent": 100 - losses / e_in * 100,
                     "balance_error_percent": unacc / e_in * 100, "exergy_efficiency_percent": 31.0,
                     "data_quality_score": quality, "status": "ok" if quality >= 0.9 else "low_quality",
                     "version": 1, "is_current": True, "calculated_at": pe + pd.Timedelta(hours=2),
                     "run_id": run_id, "reason": None,
                     "firing_hours": (pe - ps) / pd.Timedelta("1h"), "standby_hours": 0.0})
        for sid, role, carrier, e in (("gas", "input", "natural_gas", gas), ("power_in", "input", "electricity", power),
                                      ("steam", "output", "steam", steam), ("flue", "loss", "flue_gas", flue),
                                      ("shell", "loss", None, shell)):
            se.append({"facility_id": facility_id, "granularity": "day", "period_start": ps, "period_end": pe,
                       "stream_id": sid, "role": role, "carrier": carrier, "energy_kwh": e, "is_current": True})
        n = int((pe - ps) / pd.Timedelta("15min"))
        for tag in TAGS:
            missing = int(n * 0.22) if (quality < 1 and tag == "FT-201") else int(rng.integers(0, 3))
            interp = min(missing, int(rng.integers(0, 4)))
            dq.append({"facility_id": facility_id, "tag": tag, "period_start": ps, "period_end": pe,
                       "expected_points": n, "valid_points": n - missing + interp, "interpolated_points": interp,
                       "rejected_points": int(rng.integers(0, 2)), "completeness": (n - missing + interp) / n,
                       "issues": "meter offline 5h" if (quality < 1 and tag == "FT-201") else ""})
        if i == 17:
            for kind, sev, v, t, msg in (("energy_balance", "warning", unacc / e_in * 100, 5.0, "balance error 17 %"),
                                         ("efficiency_anomaly", "warning", -14.0, 10.0, "efficiency 14 points below")):
                alerts.append({"facility_id": facility_id, "period_start": ps, "period_end": pe, "kind": kind,
                               "severity": sev, "value": v, "threshold": t, "message": msg, "run_id": run_id})
    calc_df, se_df = pd.DataFrame(calc), pd.DataFrame(se)
    # Month row: sums of the days (the first `days` days are the whole month here).
    mstart, mend = local_midnight(first, TZ), local_midnight(first + timedelta(days=days), TZ)
    m = calc_df[["energy_input_kwh", "useful_output_kwh", "losses_kwh", "unaccounted_kwh",
                "firing_hours", "standby_hours"]].sum()
    month = calc_df.iloc[[0]].copy()
    month[["granularity", "period_start", "period_end"]] = ["month", mstart, mend]
    for k in m.index:
        month[k] = m[k]
    month["efficiency_percent"] = m.useful_output_kwh / m.energy_input_kwh * 100
    month["balance_error_percent"] = m.unaccounted_kwh / m.energy_input_kwh * 100
    calc_df = pd.concat([calc_df, month], ignore_index=True)
    # A superseded version of day 1 that must not be shown (is_current false, absurd numbers).
    old = calc_df.iloc[[0]].copy()
    old[["version", "is_current", "efficiency_percent"]] = [0, False, 999.0]
    calc_df = pd.concat([calc_df, old], ignore_index=True)
    mse = se_df.groupby(["stream_id", "role", "carrier"], dropna=False, sort=False)["energy_kwh"].sum().reset_index()
    mse = mse.assign(facility_id=facility_id, granularity="month", period_start=mstart, period_end=mend, is_current=True)
    se_df = pd.concat([se_df, mse], ignore_index=True)
    readings = pd.DataFrame({"facility_id": facility_id, "tag": TAGS, "value": 1.0, "unit": "x",
                             "ts": [mend - pd.Timedelta(minutes=15 * (k + 1)) for k in range(len(TAGS))]})
    runs = pd.DataFrame([{"run_id": r, "flow": "nightly", "started_at": pd.Timestamp(r[4:], tz="UTC") + pd.Timedelta(days=1),
                          "finished_at": pd.Timestamp(r[4:], tz="UTC") + pd.Timedelta(days=1, minutes=3),
                          "status": "completed", "parameters": "{}", "reason": None}
                         for r in calc_df["run_id"].unique()])
    return {"calculations": calc_df, "stream_energies": se_df, "data_quality": pd.DataFrame(dq),
            "alerts": pd.DataFrame(alerts, columns=["facility_id", "period_start", "period_end", "kind", "severity",
                                                    "value", "threshold", "message", "run_id"]),
            "readings": readings, "runs": runs}


def connect(relations: dict[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with tables named like the §6 relations."""
    con = duckdb.connect()
    for name, df in relations.items():
        con.register(f"_{name}_df", df)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}_df")
        con.unregister(f"_{name}_df")
    return con


@pytest.fixture(scope="module")
def relations():
    return make_relations()


@pytest.fixture()
def con(relations):
    c = connect(relations)
    yield c
    c.close()


def test_load_keeps_only_current_rows_and_utc(con):
    """is_current filter (DESIGN §6: earlier versions stay queryable, reports show the current one)."""
    data = load_facility_period(con, "FAC-R1", date(2026, 11, 1), date(2026, 11, 2), tz=TZ)
    assert data.start == pd.Timestamp("2026-11-01 05:00", tz="UTC")  # CDT midnight = 05:00 UTC
    assert (data.calculations["efficiency_percent"] < 100).all()
    assert str(data.calculations["period_start"].dt.tz) == "UTC"
    assert set(data.stream_energies["stream_id"]) == {"gas", "power_in", "steam", "flue", "shell"}
    assert list(data.runs["run_id"]) == ["run-20261101"]
    assert data.readings_summary.empty  # the fixture's readings are on Nov 30, outside this window
    last = load_facility_period(con, "FAC-R1", date(2026, 11, 30), date(2026, 12, 1), tz=TZ)
    summary = last.readings_summary.set_index("tag")
    assert len(summary) == len(TAGS) and (summary["points"] == 1).all()
    assert summary.loc["FT-101", "last_ts"] == last.end - pd.Timedelta(minutes=15)


def test_period_summary_day_row_and_day_sum(con, relations):
    """Day: the day row itself. Sub-month range without a row: Σ days, efficiency = Σout/Σin."""
    day = load_facility_period(con, "FAC-R1", date(2026, 11, 3), date(2026, 11, 4), tz=TZ)
    calc = relations["calculations"]
    expected = calc[(calc.granularity == "day") & calc.is_current].iloc[2]
    assert period_summary(day)["efficiency_percent"] == pytest.approx(expected.efficiency_percent, rel=1e-12)
    week = load_facility_period(con, "FAC-R1", date(2026, 11, 3), date(2026, 11, 10), tz=TZ)
    rows = calc[(calc.granularity == "day") & calc.is_current].iloc[2:9]
    s = period_summary(week)
    # Ratio of sums, not mean of ratios; rel 1e-12 is float round-off of the sums.
    assert s["efficiency_percent"] == pytest.approx(rows.useful_output_kwh.sum() / rows.energy_input_kwh.sum() * 100,
                                                    rel=1e-12)
    assert "7 day" in s["source"]
    se, how = period_stream_energies(week)
    assert how == "summed from 7 day rows"
    gas = se.set_index("stream_id").loc["gas", "energy_kwh"]
    sel = relations["stream_energies"]
    assert gas == pytest.approx(sel[(sel.granularity == "day") & (sel.stream_id == "gas")].energy_kwh.iloc[2:9].sum())


def test_trailing_mean_is_the_anomaly_reference(con, relations):
    """The trend's dashed line is the efficiency_anomaly reference (DESIGN §7): mean of the up to 7
    preceding days, skipping unusable ones (status not ok), at least 3 usable. Hand-worked on the fixture, where Nov 10 and 11
    are low-quality days."""
    data = load_facility_period(con, "FAC-R1", date(2026, 11, 20), date(2026, 11, 21), tz=TZ)
    days = daily_results(data).set_index("period_start")["efficiency_mean_percent"]
    calc = relations["calculations"]
    effs = calc[(calc.granularity == "day") & calc.is_current].efficiency_percent.to_numpy()

    def mean_on(d: date) -> float:
        return days.loc[local_midnight(d, TZ)]

    assert mean_on(date(2026, 11, 8)) == pytest.approx(effs[0:7].mean(), rel=1e-12)
    assert mean_on(date(2026, 11, 13)) == pytest.approx(effs[[5, 6, 7, 8, 11]].mean(), rel=1e-12)
    assert math.isnan(mean_on(date(2026, 11, 3)))  # only 2 days before: fewer than 3


def test_render_reports_writes_layout_and_offline_plotly(tmp_path, con):
    """Files of DESIGN §2 (reports/index.html, reports/<facility_id>/...), plotly.min.js once, relative."""
    facility = make_facility()
    stats: dict = {}
    paths = render_reports(con, tmp_path, {"FAC-R1": facility}, date(2026, 11, 27), date(2026, 11, 28),
                           stats=stats)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == ["FAC-R1/2026-11-27.html", "FAC-R1/2026-11-28.html", "FAC-R1/2026-11.html",
                     "FAC-R1/index.html", "index.html"]
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    day = (tmp_path / "FAC-R1/2026-11-27.html").read_text()
    assert '<script src="../plotly.min.js"' in day and "cdn" not in day.lower()
    assert day.count("Plotly.newPlot") == 4  # sankey, trend, balance, heatmap
    assert stats["FAC-R1"]["sankey_errors"] == 0
    index = (tmp_path / "index.html").read_text()
    assert 'href="FAC-R1/index.html"' in index and "HHV" in index
    # Nov 27-28 range efficiency is Σ out / Σ in of the two days, printed with one decimal.
    assert re.search(r"8[0-9]\.[0-9] %", index)
    month = (tmp_path / "FAC-R1/2026-11.html").read_text()
    assert "Alerts (2)" in month and "balance error 17 %" in month
    latest = (tmp_path / "FAC-R1/index.html").read_text()
    assert 'href="2026-11-27.html"' in latest
    # issue #14: firing and standby hours of the period (the fixture fires every hour of a day);
    # the month is summed from 30 days of 24 h, one of them the 25-hour day of 2026-11-01
    assert "Firing / standby hours" in day and "24 h / 0 h" in day
    assert "721 h / 0 h" in month


def test_condensing_label_only_above_100_percent_on_lhv():
    """Issue #14: 104 % on LHV is condensing operation; on HHV, or at 99 %, there is no label."""
    from thermaliq.report.render import operating_label

    assert operating_label(104.0, "LHV") == " (condensing)"
    assert operating_label(99.0, "LHV") == "" and operating_label(104.0, "HHV") == ""
    assert operating_label(float("nan"), "LHV") == ""


class RecordingExecutor(Executor):
    """Runs each submitted job at once in this process and records it as (name, ids or day count)."""

    def __init__(self):
        self.calls, self.args = [], []

    def submit(self, fn, /, *args, **kwargs):
        self.calls.append((fn.__name__, tuple(args[2]) if fn.__name__ == "render_facilities" else len(args[2])))
        self.args.append(args)
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_day_pages_rendered_elsewhere_are_the_same_pages(tmp_path, con, monkeypatch):
    """A month of day pages given to an executor (``render_day_pages`` jobs of ``JOB_PAGES`` days,
    16 here so that a month makes two jobs; run in-process): every day but the last (rendered with the latest page, which shares its
    sections) goes to a job; every file is byte-identical to a serial render, footer minute aside,
    and the Sankey statistics count every page. A job gets the rows its days show, not the whole
    range: its day rows of stream energies start at its first day, its calculations reach back
    over the trailing window of its first day only."""
    monkeypatch.setattr(render, "JOB_PAGES", 16)
    facility = make_facility()
    executor = RecordingExecutor()
    first, last = date(2026, 11, 1), date(2026, 11, 30)
    trees, counts = {}, {}
    for label, pool in (("serial", None), ("split", executor)):
        stats: dict = {}
        render_reports(con, tmp_path / label, {"FAC-R1": facility}, first, last, stats=stats, executor=pool)
        trees[label] = {p.relative_to(tmp_path / label).as_posix():
                        re.sub(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "Generated", p.read_text())
                        for p in (tmp_path / label).rglob("*.html")}
        counts[label] = stats["FAC-R1"]["sankey_errors"], len(trees[label])
    assert executor.calls == [("render_day_pages", 16), ("render_day_pages", 13)]
    for data, _, days, *_ in executor.args:    # a job gets the rows its days show, not the month's
        first_day = pd.Timestamp(days[0]).tz_localize(TZ)
        se = data.stream_energies
        energies = pd.to_datetime(se.loc[se["granularity"] == "day", "period_start"], utc=True)
        assert energies.min() == first_day and energies.max() < first_day + pd.Timedelta(days=len(days) + 1)
        calculated = pd.to_datetime(data.calculations["period_start"], utc=True)
        assert calculated.min() >= first_day - pd.Timedelta(days=32)
    assert trees["split"] == trees["serial"]
    assert len(trees["serial"]) == 30 + 1 + 1 + 1       # days, the month, latest, fleet index
    assert counts["split"] == counts["serial"]


def test_facilities_rendered_elsewhere_are_the_same_pages(tmp_path, monkeypatch):
    """A fleet of 8 facilities over one day (3 pages each) given to an executor: ``render_facilities``
    jobs of ``JOB_PAGES // 3`` facilities (16 // 3 here; run in-process): the same files, the same fleet index,
    and the ReportData of every facility for the run's artifacts."""
    monkeypatch.setattr(render, "JOB_PAGES", 16)
    ids = [f"FAC-F{i}" for i in range(8)]
    frames = [make_relations(fid, days=3, seed=i) for i, fid in enumerate(ids)]
    fleet = connect({name: pd.concat([f[name] for f in frames], ignore_index=True) for name in frames[0]})
    facilities = {fid: make_facility(fid, f"Plant {fid}") for fid in ids}
    executor = RecordingExecutor()
    trees, periods = {}, {}
    for label, pool in (("serial", None), ("split", executor)):
        periods[label] = {}
        render_reports(fleet, tmp_path / label, facilities, date(2026, 11, 2), date(2026, 11, 2),
                       periods=periods[label], executor=pool)
        trees[label] = {p.relative_to(tmp_path / label).as_posix():
                        re.sub(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "Generated", p.read_text())
                        for p in (tmp_path / label).rglob("*.html")}
    assert executor.calls == [("render_facilities", tuple(ids[:5])), ("render_facilities", tuple(ids[5:]))]
    assert trees["split"] == trees["serial"] and len(trees["serial"]) == 8 * 3 + 1
    assert sorted(periods["split"]) == ids
    for fid in ids:
        pd.testing.assert_frame_equal(periods["split"][fid].calculations, periods["serial"][fid].calculations)


def _figures(page_html: str) -> dict[str, dict]:
    """The figure JSON embedded in a page, by div id."""
    out = {}
    for m in re.finditer(r'<div id="(fig-[a-z]+)" class="figure"></div>\n<script>\(function\(\)\{var f=(.*?);'
                         r'Plotly.newPlot', page_html, flags=re.S):
        out[m.group(1)] = json.loads(m.group(2))
    return out


def test_figures_state_basis_units_and_values(con, relations):
    """Sankey values are the day's stream energies; every title states basis and units."""
    facility = make_facility()
    data = load_facility_period(con, "FAC-R1", date(2026, 11, 18), date(2026, 11, 19), tz=TZ)
    figs = _figures(facility_page(data, facility, "day 2026-11-18", nav=""))
    assert set(figs) == {"fig-sankey", "fig-trend", "fig-balance", "fig-quality"}
    for f in figs.values():
        go.Figure(f)  # Plotly's schema validation: raises on any misspelt property
    for f in figs.values():
        title = f["layout"]["title"]["text"]
        assert "%" in title or "kWh" in title
    for key in ("fig-sankey", "fig-trend", "fig-balance"):
        assert "HHV" in figs[key]["layout"]["title"]["text"]
    sankey = figs["fig-sankey"]["data"][0]
    se = relations["stream_energies"]
    day = se[(se.granularity == "day") & (se.period_start == local_midnight(date(2026, 11, 18), TZ))]
    e_in = day[day.role == "input"].energy_kwh.sum()
    # Day 18 has 17 % unaccounted: the plant node sends it to "Unaccounted".
    assert sum(sankey["link"]["value"]) == pytest.approx(2 * e_in, rel=1e-12)
    assert any(lbl.startswith("Unaccounted") for lbl in sankey["node"]["label"])
    # 30-day window with the balance-error tolerance lines at +-5 %.
    shapes = figs["fig-balance"]["layout"]["shapes"]
    assert {s.get("y0") for s in shapes if s.get("type") == "line"} >= {-5.0, 5.0}


def test_hostile_names_are_escaped(tmp_path, relations):
    """A facility/tag/stream named like HTML must not become markup or close a <script>."""
    evil = "<script>alert(1)</script>"
    rel = {k: v.copy() for k, v in relations.items()}
    rel["data_quality"]["tag"] = rel["data_quality"]["tag"].replace("FT-201", "</script><b>x</b>")
    rel["stream_energies"]["stream_id"] = rel["stream_energies"]["stream_id"].replace("steam", evil)
    rel["alerts"]["message"] = '<img src=x onerror="alert(2)">'
    con = connect(rel)
    facility = make_facility(name=evil)
    render_reports(con, tmp_path, {"FAC-R1": facility}, date(2026, 11, 18), date(2026, 11, 18))
    for path in (tmp_path / "FAC-R1/2026-11-18.html", tmp_path / "index.html"):
        text = path.read_text()
        scripts = re.findall(r"<script[^>]*>", text)
        assert all(s in ("<script>", '<script src="../plotly.min.js" charset="utf-8">') for s in scripts)
        assert "<script>alert(1)" not in text and "<img src=x" not in text and "<b>x</b>" not in text
    day = (tmp_path / "FAC-R1/2026-11-18.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in day
    # Figure JSON: Plotly writes "<" and "/" as \u003c and \u002f; labels are HTML-escaped too.
    figs = _figures(day)
    assert any("&lt;script&gt;" in lbl for lbl in figs["fig-sankey"]["data"][0]["node"]["label"])
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in figs["fig-quality"]["data"][0]["y"]


def test_script_in_a_facility_name_is_text_on_every_page(tmp_path, relations):
    """A facility named with a ``<script>`` element (and quotes, an ampersand) appears escaped in
    the title and heading of every facility page and in the fleet index link: the only script
    elements are the page's own (Plotly's file and one per figure)."""
    name = """<script>alert("x")</script> & 'Plant'"""
    render_reports(connect(relations), tmp_path, {"FAC-R1": make_facility(name=name)},
                   date(2026, 11, 18), date(2026, 11, 19))
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;Plant&#x27;"
    pages = sorted(tmp_path.rglob("*.html"))
    assert len(pages) == 2 + 1 + 1 + 1  # two days, the month, latest, fleet index
    for path in pages:
        text = path.read_text()
        assert "<script>alert" not in text and "alert(\"x\")" not in text, path
        own = ['<script src="../plotly.min.js" charset="utf-8">'] if path.parent.name == "FAC-R1" else []
        assert re.findall(r"<script[^>]*>", text) == own + ["<script>"] * text.count("Plotly.newPlot"), path
        if own:
            assert f"<title>{escaped} (FAC-R1) — " in text and f"<h1>{escaped} (FAC-R1) — " in text, path
    index = (tmp_path / "index.html").read_text()
    assert f'<a href="FAC-R1/index.html">{escaped} (FAC-R1)</a>' in index


def test_no_data_period_shows_reason_instead_of_chart(tmp_path, relations):
    """A facility without rows: no empty day page (no data is not bad data, issue #21); the
    fleet index says so."""
    con = connect(relations)
    other = make_facility("FAC-EMPTY", "Empty plant")
    render_reports(con, tmp_path, {"FAC-EMPTY": other}, date(2026, 11, 5), date(2026, 11, 5))
    assert not (tmp_path / "FAC-EMPTY/2026-11-05.html").exists()
    assert "no data" in (tmp_path / "index.html").read_text()


def test_missing_relation_is_noted_and_bad_schema_raises(relations):
    """A relation that does not exist yet → empty section + note; a §6 column missing → DataError."""
    rel = {k: v for k, v in relations.items() if k not in ("runs", "alerts")}
    data = load_facility_period(connect(rel), "FAC-R1", date(2026, 11, 3), date(2026, 11, 4), tz=TZ)
    assert data.alerts.empty and any("'alerts'" in n for n in data.notes)
    bad = dict(relations)
    bad["calculations"] = relations["calculations"].drop(columns=["basis"])
    with pytest.raises(DataError, match="calculations"):
        load_facility_period(connect(bad), "FAC-R1", date(2026, 11, 3), date(2026, 11, 4), tz=TZ)


def test_render_rejects_reversed_range(tmp_path, con):
    with pytest.raises(ValueError, match="before start"):
        render_reports(con, tmp_path, {}, date(2026, 11, 5), date(2026, 11, 4))


def test_report_server_serves_reports_only(tmp_path):
    """127.0.0.1 only; no traversal (raw '..', encoded '%2e%2e', symlink out); no listings."""
    import http.client

    from thermaliq.report.server import serve_in_thread

    reports = tmp_path / "reports"
    (reports / "FAC-1").mkdir(parents=True)
    (reports / "index.html").write_text("<p>fleet</p>")
    (reports / "empty").mkdir()
    (tmp_path / "secret.txt").write_text("token")
    (reports / "link.txt").symlink_to(tmp_path / "secret.txt")
    server, thread = serve_in_thread(reports)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"

        def get(path: str) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            return resp.status, body

        assert get("/index.html") == (200, b"<p>fleet</p>")
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/FAC-1/../../secret.txt", "/link.txt"):
            status, body = get(path)
            assert status == 404 and b"token" not in body, path
        assert get("/empty/")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fleet_index_keeps_facilities_of_earlier_runs(tmp_path, relations):
    """A run over one facility must not drop the others from reports/index.html."""
    rel = {k: v.copy() for k, v in relations.items()}
    other = make_relations("FAC-R2", seed=11)
    con = connect({k: pd.concat([rel[k], other[k]], ignore_index=True) for k in rel})
    render_reports(con, tmp_path, {"FAC-R1": make_facility()}, date(2026, 11, 5), date(2026, 11, 5))
    render_reports(con, tmp_path, {"FAC-R2": make_facility("FAC-R2", "Second plant")},
                   date(2026, 11, 6), date(2026, 11, 6))
    index = (tmp_path / "index.html").read_text()
    assert 'href="FAC-R1/index.html"' in index and 'href="FAC-R2/index.html"' in index
    assert "2026-11-05 to 2026-11-05" in index and "2026-11-06 to 2026-11-06" in index
    (tmp_path / ".fleet.json").write_text("{broken")
    render_reports(con, tmp_path, {"FAC-R2": make_facility("FAC-R2", "Second plant")},
                   date(2026, 11, 6), date(2026, 11, 6))
    index = (tmp_path / "index.html").read_text()
    assert "unreadable" in index and 'href="FAC-R1/index.html"' not in index


def test_repair_totals_hand_worked():
    """Sums per tag (and tag and day): counts add up, a missing count adds nothing, issues are the
    distinct texts sorted and joined, completeness = valid / expected (none expected: unknown)."""
    from thermaliq.report.quality import repair_totals

    dq = pd.DataFrame({"tag": ["B", "A", "B", "A", "B"], "day": ["d2", "d1", "d1", "d1", "d2"],
                       "expected_points": [96, 96, 96, 0, 0], "valid_points": [90, 100, 48, 0, 0],
                       "interpolated_points": [2, 0, 1, 0, None], "rejected_points": [1, 0, 0, 0, 3],
                       "issues": ["frozen 2h", "", "3 outliers", None, "frozen 2h"]})
    per_tag = repair_totals(dq, ["tag"])
    assert list(per_tag.index) == ["A", "B"]
    a, b = per_tag.loc["A"], per_tag.loc["B"]
    assert (a.expected_points, a.valid_points, a.interpolated_points, a.rejected_points) == (96, 100, 0, 0)
    assert a.completeness == 1.0 and a.issues == ""  # 100/96 clipped to 1
    assert (b.expected_points, b.valid_points, b.interpolated_points, b.rejected_points) == (192, 138, 3, 4)
    assert b.completeness == pytest.approx(138 / 192, rel=1e-15)
    assert b.issues == "3 outliers; frozen 2h"
    per_day = repair_totals(dq, ["tag", "day"])
    assert list(per_day.index) == [("A", "d1"), ("B", "d1"), ("B", "d2")]
    assert per_day.loc[("B", "d2"), "valid_points"] == 90 and per_day.loc[("B", "d2"), "issues"] == "frozen 2h"
    assert math.isnan(repair_totals(dq[dq.expected_points == 0], ["tag"]).loc["A", "completeness"])


def test_load_windows_reads_many_facilities_like_one(relations):
    """One query per relation for two facilities gives each what its own load gives; interval rows
    inside a day row are left out, those of a day without a day row stay for the Sankey fallback."""
    from thermaliq.report.data import load_windows, window

    other = make_relations("FAC-R2", seed=11)
    both = {k: pd.concat([relations[k], other[k]], ignore_index=True) for k in relations}
    d1, d2 = _day_bounds(date(2026, 11, 18)), _day_bounds(date(2026, 11, 19))
    quarter = [(d1[0] + pd.Timedelta(minutes=15 * k), d1[0] + pd.Timedelta(minutes=15 * (k + 1))) for k in range(2)]
    extra = [{"facility_id": "FAC-R2", "granularity": "interval", "period_start": s, "period_end": e,
              "stream_id": sid, "role": role, "carrier": carrier, "energy_kwh": kwh, "is_current": True}
             for s, e in quarter for sid, role, carrier, kwh in (("gas", "input", "natural_gas", 100.0),
                                                                   ("steam", "output", "steam", 80.0))]
    se = both["stream_energies"]
    # FAC-R2 on Nov 19: no day row, two quarter hours only; on Nov 18 two quarter hours under the day row
    late = [{**r, "period_start": s + (d2[0] - d1[0]), "period_end": e + (d2[0] - d1[0])}
            for r, (s, e) in zip(extra, [q for q in quarter for _ in range(2)])]
    se = se[~((se.facility_id == "FAC-R2") & (se.period_start == d2[0]))]
    both["stream_energies"] = pd.concat([se, pd.DataFrame(extra + late)], ignore_index=True)
    con = connect(both)
    got = load_windows(con, [window("FAC-R1", date(2026, 11, 18), date(2026, 11, 20), tz=TZ),
                             window("FAC-R2", date(2026, 11, 18), date(2026, 11, 20), tz=TZ)])
    alone = load_facility_period(con, "FAC-R1", date(2026, 11, 18), date(2026, 11, 20), tz=TZ)
    for name in ("calculations", "stream_energies", "data_quality", "alerts", "readings_summary", "runs"):
        pd.testing.assert_frame_equal(getattr(got["FAC-R1"], name), getattr(alone, name), check_dtype=False)
    r2 = got["FAC-R2"]
    assert set(r2.calculations["facility_id"]) == {"FAC-R2"} and list(r2.runs["run_id"]) != []
    intervals = r2.stream_energies[r2.stream_energies.granularity == "interval"]
    assert set(intervals["period_start"]) == {s + (d2[0] - d1[0]) for s, _ in quarter}  # Nov 19 only
    se19, how = period_stream_energies(r2.period(*d2))
    assert how == "summed from 2 interval rows"
    assert se19.set_index("stream_id")["energy_kwh"].to_dict() == {"gas": 200.0, "steam": 160.0}


def test_latest_page_shares_the_last_day_and_sankey_follows_configuration(tmp_path, relations):
    """index.html shows the last day: the same figures as that day's page except the Sankey title;
    Sankey streams come in the order of the facility's configuration, whatever the stored order."""
    rel = dict(relations, stream_energies=relations["stream_energies"].iloc[::-1].reset_index(drop=True))
    render_reports(connect(rel), tmp_path, {"FAC-R1": make_facility()}, date(2026, 11, 18), date(2026, 11, 18))
    day = _figures((tmp_path / "FAC-R1/2026-11-18.html").read_text())
    latest_html = (tmp_path / "FAC-R1/index.html").read_text()
    latest = _figures(latest_html)
    assert "latest day 2026-11-18" in latest_html and "All reports of this facility" in latest_html
    for key in ("fig-trend", "fig-balance", "fig-quality"):
        assert latest[key] == day[key]
    assert latest["fig-sankey"]["data"] == day["fig-sankey"]["data"]
    labels = [lbl.split("<br>")[0] for lbl in day["fig-sankey"]["data"][0]["node"]["label"]]
    assert labels == ["Plant", "gas", "power_in", "steam", "flue", "shell", "Unaccounted"]
