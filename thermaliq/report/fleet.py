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
from thermaliq.report.data import ReportData, benchmark_band, period_summary, summary_value
from thermaliq.report.html import esc, fmt_pct, link, page, section, table_html

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
    band, note = benchmark_band(facility.type, eff, basis)
    critical = int((data.alerts["severity"] == "critical").sum()) if len(data.alerts) else 0
    return {"facility_id": facility.facility_id, "name": facility.name, "period": f"{start} to {end}",
            "type": facility.type, "efficiency": fmt_pct(eff), "basis": basis,
            "benchmark": (f"{band.minimum:.1f}–{band.best:.1f} % (typical {band.typical:.1f}): "
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
    cells = [{**r, "facility": link(f"{r['facility_id']}/index.html", f"{r['name']} ({r['facility_id']})")}
             for r in rows]
    table = table_html(cells, COLUMNS, numeric=("efficiency", "balance", "quality"), raw=("facility",))
    body = section("Facilities", table + (
        '<p class="notes">Efficiency = Σ useful output / Σ input over the period on the basis shown; '
        "balance error = (input − useful − known losses) / input; data quality = valid intervals / "
        "intervals. Each row is from the last report run that included the facility.</p>"))
    footer = esc(f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC." + (f" {note}" if note else ""))
    return page("thermaliq — fleet efficiency report", f"{len(rows)} facilities", body,
                plotly_src=None, footer=footer)
