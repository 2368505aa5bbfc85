"""Prefect artifacts and alert events of a run (tasks/publish/artifacts.py).

The builders are tested without Prefect's API; Prefect's own artifact functions are replaced by
recorders where the content is what matters. Tests marked ``flow`` run in the session harness and
read the artifacts back from the Prefect API.
"""
from __future__ import annotations

import importlib.util
import math
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tasks.publish import artifacts as publish

_spec = importlib.util.spec_from_file_location("_report_fixture", Path(__file__).with_name("test_report.py"))
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

ALERTS = pd.DataFrame([
    {"facility_id": "FAC-1", "period_start": pd.Timestamp("2026-11-18 06:00", tz="UTC"),
     "period_end": pd.Timestamp("2026-11-19 06:00", tz="UTC"), "kind": "energy_balance", "severity": "warning",
     "value": 7.25, "threshold": 5.0, "message": "balance error +7.2 %", "run_id": "r1"},
    {"facility_id": "FAC-2", "period_start": pd.Timestamp("2026-11-18 00:00", tz="UTC"),
     "period_end": pd.Timestamp("2026-11-19 00:00", tz="UTC"), "kind": "invalid_efficiency",
     "severity": "critical", "value": 104.0, "threshold": 100.0, "message": "efficiency 104 %", "run_id": "r1"}])


def test_artifact_key_and_report_urls(monkeypatch, tmp_path):
    """Prefect artifact keys: lowercase letters, numbers and dashes only."""
    assert publish.artifact_key("thermaliq-report", "FAC_001 Süd") == "thermaliq-report-fac-001-s-d"
    assert publish.report_url(tmp_path, "FAC-1/index.html") == (tmp_path / "FAC-1/index.html").resolve().as_uri()
    assert publish.report_url(tmp_path, "FAC-1/index.html", None) == (tmp_path / "FAC-1/index.html").resolve().as_uri()
    assert publish.report_url(tmp_path, "FAC-1/index.html",
                              "http://127.0.0.1:8765/") == "http://127.0.0.1:8765/FAC-1/index.html"


def test_summary_rows_and_markdown_escape_names():
    row = publish.summary_row("FAC-1", "A | <script>x</script> [y](z)",
                              {"efficiency_percent": 84.456, "basis": "HHV", "data_quality_score": 0.9712,
                               "status": "ok"}, alerts=2)
    assert row == {"facility": "A | <script>x</script> [y](z) (FAC-1)", "efficiency_percent": 84.46,
                   "basis": "HHV", "data_quality_score": 0.971, "status": "ok", "alerts": 2}
    empty = publish.summary_row("FAC-2", "B", None, alerts=0)
    assert empty["efficiency_percent"] is None and empty["status"] == "no data"
    nan = publish.summary_row("FAC-3", "C", {"efficiency_percent": math.nan, "basis": "LHV"}, alerts=0)
    assert nan["efficiency_percent"] is None
    md = publish.summary_markdown([row, empty], {"FAC-1": "http://127.0.0.1:8765/FAC-1/index.html"}, "run r1")
    table_line = next(line for line in md.splitlines() if "FAC-1)" in line)
    assert table_line.count("|") - table_line.count("\\|") == 7  # 6 cells: the name's pipe is escaped
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\[y\\]" in md
    assert "84.5 %" in md and "| – |" in md
    assert "- [FAC-1](<http://127.0.0.1:8765/FAC-1/index.html>)" in md


def test_alert_events_shape_is_a_valid_prefect_event():
    """Event name thermaliq.alert.<kind>; resource id thermaliq.facility.<facility_id> (the brief)."""
    from prefect.events import Event

    events = publish.alert_events(ALERTS)
    assert [e["event"] for e in events] == ["thermaliq.alert.energy_balance", "thermaliq.alert.invalid_efficiency"]
    assert events[0]["resource"]["prefect.resource.id"] == "thermaliq.facility.FAC-1"
    assert events[1]["payload"] == {"severity": "critical", "message": "efficiency 104 %", "value": 104.0,
                                    "threshold": 100.0, "period_start": "2026-11-18T00:00:00+00:00",
                                    "period_end": "2026-11-19T00:00:00+00:00", "run_id": "r1"}
    for kwargs in events:
        Event(**kwargs)  # Prefect's own model validates the event name, resource and payload
    bad = ALERTS.assign(kind=["energy balance", "x"])
    with pytest.raises(ValueError, match="row 0"):
        publish.alert_events(bad)


def test_emit_alert_events_calls_prefect(monkeypatch):
    import prefect.events

    sent = []
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: sent.append(kw) or object())
    assert publish.emit_alert_events(ALERTS) == 2
    assert sent == publish.alert_events(ALERTS)


def test_publish_flow_run_rows_links_and_only_this_runs_alerts(monkeypatch, tmp_path):
    """Rows from the relations: Nov 18 efficiency = that day's Σ useful / Σ input of the fixture."""
    import prefect.artifacts
    import prefect.events

    calls: dict[str, list] = {"table": [], "markdown": [], "link": [], "event": []}
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", lambda **kw: calls["table"].append(kw) or 1)
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda **kw: calls["markdown"].append(kw) or 2)
    monkeypatch.setattr(prefect.artifacts, "create_link_artifact", lambda **kw: calls["link"].append(kw) or 3)
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: calls["event"].append(kw) or object())
    relations = fixture.make_relations()
    con = fixture.connect(relations)
    home = SimpleNamespace(reports=tmp_path / "reports")
    (home.reports / "FAC-R1").mkdir(parents=True)
    (home.reports / "index.html").write_text("x")
    (home.reports / "FAC-R1" / "index.html").write_text("x")
    out = publish.publish_flow_run(home, con, {"FAC-R1": fixture.make_facility()}, date(2026, 11, 18),
                                   date(2026, 11, 18), "run-20261118", "nightly",
                                   reports_url="http://127.0.0.1:8765")
    assert out == {"artifacts": 4, "events": 2}
    calc = relations["calculations"]
    day = calc[(calc.granularity == "day") & calc.is_current].iloc[17]
    (row,) = calls["table"][0]["table"]
    assert row["efficiency_percent"] == pytest.approx(day.useful_output_kwh / day.energy_input_kwh * 100, abs=0.005)
    assert row["alerts"] == 2 and row["basis"] == "HHV"
    assert [c["link"] for c in calls["link"]] == ["http://127.0.0.1:8765/index.html",
                                                  "http://127.0.0.1:8765/FAC-R1/index.html"]
    assert {e["event"] for e in calls["event"]} == {"thermaliq.alert.energy_balance", "thermaliq.alert.efficiency_anomaly"}
    calls["event"].clear()
    publish.publish_flow_run(home, con, {"FAC-R1": fixture.make_facility()}, date(2026, 11, 18),
                             date(2026, 11, 18), "another-run", "report")
    assert calls["event"] == []  # alerts written by an earlier run are not announced again


@pytest.mark.flow
def test_artifacts_in_prefect(prefect_harness):
    """The artifacts exist in the Prefect API with the table rows given (Prefect test harness)."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    rows = [publish.summary_row("FAC-1", "Plant 1", {"efficiency_percent": 84.2, "basis": "HHV",
                                                     "data_quality_score": 0.97, "status": "ok"}, 1)]

    @flow
    def publishing():
        publish.publish_run_artifacts(rows, {"FAC-1": "http://127.0.0.1:8765/FAC-1/index.html"}, "test run")
        return publish.emit_alert_events(ALERTS)

    state = publishing(return_state=True)
    assert state.result() == 2
    with get_client(sync_client=True) as client:   # this run's artifacts only (shared harness)
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
    by_key = {a.key: a for a in found}
    assert set(by_key) == {"thermaliq-run-summary", "thermaliq-run-report", "thermaliq-report-fac-1"}
    assert by_key["thermaliq-run-summary"].type == "table"
    assert "84.2" in str(by_key["thermaliq-run-summary"].data)
    # Prefect stores a link artifact as markdown "[text](url)".
    assert by_key["thermaliq-report-fac-1"].data == (
        "[thermaliq report: FAC-1](http://127.0.0.1:8765/FAC-1/index.html)")


def test_publish_flow_run_takes_the_reports_period_data(monkeypatch, tmp_path):
    """With ``periods`` from render_reports the artifacts need no query (con=None) and carry the
    same rows as when they read the relations themselves."""
    import prefect.artifacts
    import prefect.events

    from thermaliq.report.render import render_reports

    tables = []
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", lambda **kw: tables.append(kw["table"]) or 1)
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda **kw: 2)
    monkeypatch.setattr(prefect.artifacts, "create_link_artifact", lambda **kw: 3)
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: object())
    con = fixture.connect(fixture.make_relations())
    facilities = {"FAC-R1": fixture.make_facility()}
    home = SimpleNamespace(reports=tmp_path / "reports")
    periods: dict = {}
    render_reports(con, home.reports, facilities, date(2026, 11, 17), date(2026, 11, 18), periods=periods)
    assert set(periods) == {"FAC-R1"}
    shared = publish.publish_flow_run(home, None, facilities, date(2026, 11, 17), date(2026, 11, 18),
                                      "run-20261118", "nightly", periods=periods)
    read = publish.publish_flow_run(home, con, facilities, date(2026, 11, 17), date(2026, 11, 18),
                                    "run-20261118", "nightly")
    assert shared == read == {"artifacts": 4, "events": 2}
    assert tables[0] == tables[1] and tables[0][0]["alerts"] == 2
