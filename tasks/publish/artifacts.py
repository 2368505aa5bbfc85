"""Prefect artifacts and events of a run: summary table, markdown, report links, alert events.

The Prefect UI cannot show HTML artifacts, so a run publishes a table artifact (one row per
facility), a markdown summary and link artifacts to the HTML reports. Links are
``<reports_url>/<path>`` when the report server's base URL is configured (``Settings.reports_url``;
``thermaliq serve`` sets it), else ``file://`` URLs. Each alert becomes a Prefect event ``thermaliq.alert.<kind>`` on the
resource ``thermaliq.facility.<facility_id>``, so automations can notify on them.

The row/markdown/link/event builders are plain functions (tested without Prefect); only
:func:`publish_run_artifacts` and :func:`emit_alert_events` talk to Prefect.
"""
from __future__ import annotations

import math
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

TABLE_COLUMNS = ("facility", "efficiency_percent", "basis", "data_quality_score", "status", "alerts")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|!~])")


def artifact_key(*parts: str) -> str:
    """An artifact key from parts: lowercase letters, digits and dashes only (Prefect's rule)."""
    key = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return re.sub(r"-{2,}", "-", key) or "thermaliq"


def report_url(reports_dir: str | os.PathLike, relative: str, base_url: str | None = None) -> str:
    """URL of a report page: under the report server's ``base_url`` if given, else ``file://``."""
    if base_url:
        return f"{base_url.rstrip('/')}/{relative.lstrip('/')}"
    return (Path(reports_dir).resolve() / relative).as_uri()


def md_escape(text: object) -> str:
    """Text safe inside a markdown table cell (markdown specials and HTML escaped, no newlines)."""
    plain = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", plain).replace("\n", " ")


def _num(value, digits: int) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return None
    return round(float(value), digits)


def summary_row(facility_id: str, name: str, summary: dict | None, alerts: int) -> dict:
    """One row of the run table from a period summary (``report_data.period_summary``)."""
    s = summary or {}
    return {"facility": f"{name} ({facility_id})",
            "efficiency_percent": _num(s.get("efficiency_percent"), 2),
            "basis": s.get("basis") or "", "data_quality_score": _num(s.get("data_quality_score"), 3),
            "status": str(s.get("status") or "no data"), "alerts": int(alerts)}


def summary_markdown(rows: list[dict], report_links: dict[str, str], title: str) -> str:
    """Markdown summary of the run: a table of the rows and the report links."""
    lines = [f"# {md_escape(title)}", "",
             "| facility | efficiency | basis | data quality | status | alerts |",
             "|---|---:|---|---:|---|---:|"]
    for r in rows:
        eff = "–" if r["efficiency_percent"] is None else f"{r['efficiency_percent']:.1f} %"
        dq = "–" if r["data_quality_score"] is None else f"{r['data_quality_score']:.2f}"
        lines.append(f"| {md_escape(r['facility'])} | {eff} | {md_escape(r['basis'])} | {dq} | "
                     f"{md_escape(r['status'])} | {r['alerts']} |")
    if report_links:
        lines += ["", "Reports (HTML; open them from the report server or from disk):", ""]
        lines += [f"- [{md_escape(name)}](<{url}>)" for name, url in report_links.items()]
    return "\n".join(lines) + "\n"


def alert_events(alerts: pd.DataFrame) -> list[dict]:
    """Keyword arguments of ``prefect.events.emit_event`` for each alert row (DESIGN §6 columns)."""
    events = []
    for i, a in enumerate(alerts.itertuples(index=False)):
        kind = str(a.kind)
        if not _KIND_RE.match(kind):
            raise ValueError(f"alerts row {i}: kind {kind!r} is not an event name part ([a-z0-9_])")
        payload = {"severity": str(a.severity), "message": str(a.message),
                   "value": _num(a.value, 6), "threshold": _num(a.threshold, 6),
                   "period_start": pd.Timestamp(a.period_start).isoformat(),
                   "period_end": pd.Timestamp(a.period_end).isoformat()}
        if getattr(a, "run_id", None) is not None and not pd.isna(a.run_id):
            payload["run_id"] = str(a.run_id)
        events.append({"event": f"thermaliq.alert.{kind}",
                       "resource": {"prefect.resource.id": f"thermaliq.facility.{a.facility_id}",
                                    "prefect.resource.name": str(a.facility_id)},
                       "payload": payload})
    return events


def publish_run_artifacts(summary_rows: list[dict], report_links: dict[str, str], title: str) -> list:
    """Create the table, markdown and link artifacts of a run (inside a flow or task run).

    Parameters
    ----------
    summary_rows : list of dict
        Rows with the keys of ``TABLE_COLUMNS`` (see :func:`summary_row`).
    report_links : dict of str to str
        Link text (e.g. a facility id, ``fleet``) to URL (see :func:`report_url`).
    title : str
        Title of the markdown summary and description of the table.

    Returns
    -------
    list of UUID
        Ids of the artifacts created.
    """
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    rows = [{c: r.get(c) for c in TABLE_COLUMNS} for r in summary_rows]
    ids = [create_table_artifact(table=rows, key="thermaliq-run-summary", description=title),
           create_markdown_artifact(markdown=summary_markdown(rows, report_links, title),
                                    key="thermaliq-run-report", description=title)]
    for name, url in report_links.items():
        ids.append(create_link_artifact(link=url, link_text=f"thermaliq report: {name}",
                                        key=artifact_key("thermaliq-report", name), description=title))
    return ids


def emit_alert_events(alerts: pd.DataFrame) -> int:
    """Emit one Prefect event per alert; return how many Prefect accepted (0 if events are off)."""
    from prefect.events import emit_event

    return sum(emit_event(**kwargs) is not None for kwargs in alert_events(alerts))


def publish_flow_run(home, con, facilities: dict, first: date, last: date, run_id: str,
                     flow_name: str, *, periods: dict | None = None, reports_url: str | None = None) -> dict:
    """Artifacts and alert events of a flow run over local days ``first`` .. ``last``.

    Each facility's period summary and alerts come from ``periods`` (facility id to the
    ``ReportData`` of ``first`` .. ``last`` that ``report.render_reports(..., periods=...)`` fills)
    or else from the relations (DESIGN §6) through :func:`thermaliq.report.data.load_windows`, one
    query per relation for all facilities. Only alerts written by ``run_id`` become events, so a
    rerun does not announce old alerts again. Links go under ``reports_url`` when given (the report
    server's base URL), else to ``file://`` URLs. Returns ``{"artifacts": n, "events": n}``.
    """
    from thermaliq.periods import local_midnight
    from thermaliq.report.data import load_windows, window
    from thermaliq.report.periods import period_summary

    ids = sorted(facilities)
    loaded = {fid: periods[fid] for fid in ids if periods and fid in periods}
    missing = [fid for fid in ids if fid not in loaded]
    if missing:
        loaded.update(load_windows(con, [window(fid, local_midnight(first, facilities[fid].timezone),
                                                local_midnight(last + timedelta(days=1), facilities[fid].timezone),
                                                tz=facilities[fid].timezone, trailing_days=0) for fid in missing],
                                   relations=("calculations", "alerts")))
    rows, links, alerts = [], {}, []
    for fid in ids:
        data = loaded[fid]
        rows.append(summary_row(fid, facilities[fid].name, period_summary(data), len(data.alerts)))
        alerts.append(data.alerts[data.alerts["run_id"] == run_id])  # new alerts of this run only
        if (home.reports / fid / "index.html").exists():
            links[fid] = report_url(home.reports, f"{fid}/index.html", reports_url)
    if (home.reports / "index.html").exists():
        links = {"fleet": report_url(home.reports, "index.html", reports_url), **links}
    title = f"thermaliq {flow_name} run {run_id}: {first} to {last}"
    artifacts = publish_run_artifacts(rows, links, title)
    frames = [a for a in alerts if len(a)]
    events = emit_alert_events(pd.concat(frames, ignore_index=True)) if frames else 0
    return {"artifacts": len(artifacts), "events": events}


def data_docs_url(index: str | os.PathLike, reports_url: str | None = None) -> str:
    """URL of the Data Docs index: below ``/datadocs/`` of the report server (``thermaliq
    serve-reports``) when its base URL is configured, else the ``file://`` URL of ``index``."""
    if reports_url:
        return f"{reports_url.rstrip('/')}/datadocs/index.html"
    return Path(index).resolve().as_uri()


def publish_data_docs_link(index: str | os.PathLike, reports_url: str | None = None):
    """A link artifact ``thermaliq-data-docs`` of the run to the Great Expectations Data Docs."""
    from prefect.artifacts import create_link_artifact

    return create_link_artifact(link=data_docs_url(index, reports_url),
                                link_text="Great Expectations Data Docs (validation results)",
                                key="thermaliq-data-docs",
                                description="What Great Expectations found in this run's readings")
