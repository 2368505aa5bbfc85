"""The fleet index ``<reports>/index.html``: one row per facility, kept across partial runs.

A run may report only some facilities (``thermaliq report --facilities ...``, a backfill of one
plant). So that the index still lists every facility, each run's rows are merged into
``<reports>/.fleet.json`` (by facility id, under a file lock) and the index is rendered from all
stored rows; each row names the period it covers.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

from filelock import FileLock

from thermaliq.store.atomic import write_text_atomic
from thermaliq.config import Facility
from thermaliq.report.data import ReportData
from thermaliq.report.html import PARTS, fmt_pct, render_page
from thermaliq.report.periods import benchmark_band, benchmarked, period_summary, summary_value

STATE = ".fleet.json"
COLUMNS = [("facility", "facility"), ("period", "period (local days)"), ("type", "type"),
           ("efficiency", "efficiency"), ("basis", "basis"), ("benchmark", "benchmark band: position"),
           ("balance", "balance error"), ("quality", "data quality score"), ("alerts", "alerts"),
           ("status", "status")]


def fleet_row(data: ReportData, facility: Facility, start: date, end: date) -> dict:
    """The index row of a facility over ``start`` .. ``end`` (plain text values)."""
    summary = period_summary(data)
    basis = str(summary["basis"]) if summary and summary.get("basis") else facility.basis
    eff = summary_value(summary, "efficiency_percent")
    band, note = benchmark_band(facility.type, benchmarked(facility.type, summary), basis)
    critical = int((data.alerts["severity"] == "critical").sum()) if len(data.alerts) else 0
    return {"facility_id": facility.facility_id, "name": facility.name, "period": f"{start} to {end}",
            "type": facility.type, "efficiency": fmt_pct(eff), "basis": basis,
            "benchmark": (f"{band.minimum:.1f}–{band.best:.1f} %"
                          + (f" (typical {band.typical:.1f})" if band.typical == band.typical else "") + ": "
                          f"{band.position.replace('_', ' ')}"
                          if band else note or "–"),
            "balance": fmt_pct(summary_value(summary, "balance_error_percent"), 2),
            "quality": "–" if summary is None else f"{summary_value(summary, 'data_quality_score'):.2f}",
            "alerts": f"{len(data.alerts)} ({critical} critical)",
            "status": "no data" if summary is None else str(summary.get("status") or "")}


def failed_row(facility: Facility, start: date, end: date, reason: str) -> dict:
    """The index row of a facility whose report could not be made."""
    return {"facility_id": facility.facility_id, "name": facility.name, "period": f"{start} to {end}",
            "type": facility.type, "status": f"report failed: {reason}"}


def merge_fleet_rows(reports_dir: Path, rows: dict[str, dict]) -> tuple[list[dict], str | None]:
    """Rows of this run merged into the stored ones; returns (all rows by facility id, note)."""
    state_path = reports_dir / STATE
    note = None
    with FileLock(str(reports_dir / ".fleet.lock"), timeout=60):
        stored: dict[str, dict] = {}
        if state_path.exists():
            try:
                stored = json.loads(state_path.read_text(encoding="utf-8"))
                if not isinstance(stored, dict):
                    raise ValueError("not a mapping of facility rows")
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                note = f"{state_path} was unreadable ({exc}); the index lists this run's facilities only"
                stored = {}
        stored.update(rows)
        # the fleet's state outlives the run (other facilities' rows): flushed to disk
        write_text_atomic(state_path, json.dumps(stored, sort_keys=True, indent=1), "report.write")
    return [stored[k] for k in sorted(stored)], note


def fleet_page(rows: list[dict], note: str | None = None) -> str:
    """HTML of the fleet index from rows of :func:`fleet_row` / :func:`failed_row`."""
    cells = [{**r, "facility": PARTS.link(f"{r['facility_id']}/index.html", f"{r['name']} ({r['facility_id']})")}
             for r in rows]
    return render_page("fleet.html", title="thermaliq — fleet efficiency report", subtitle=f"{len(rows)} facilities",
                       plotly_src=None, rows=cells, columns=COLUMNS, numeric=("efficiency", "balance", "quality"),
                       generated=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}", note=note)
