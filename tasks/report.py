"""Report task: catalog, HTML reports, Prometheus metrics, Prefect artifacts and alert events."""
from __future__ import annotations

import time
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.publish import publish_flow_run
from thermaliq import catalog, metrics, report
from thermaliq.config import load_facility
from thermaliq.home import Home


@task(name="report", task_run_name="report-{first}-{last}", cache_policy=NO_CACHE)
def publish_reports(home: str, facility_ids: list[str], first: date, last: date, run_id: str,
                    flow_name: str, calculated: list[dict], succeeded: bool = True) -> dict:
    """Refresh the catalog, render reports, write metrics and publish artifacts for a run."""
    logger = get_run_logger()
    h = Home.resolve(home)
    facilities = {fid: load_facility(h.facility_file(fid)) for fid in facility_ids}
    try:
        catalog.refresh_catalog(h)
    except catalog.CatalogBusy as exc:
        logger.warning("%s", exc)
    con = catalog.memory_connection(h)
    stats: dict[str, dict] = {}
    started = time.perf_counter()
    try:
        paths = report.render_reports(con, h.reports, facilities, first, last, stats=stats) if facilities else []
    finally:
        report_seconds = time.perf_counter() - started
        metrics.write_run_metrics(h, con, facilities, calculated=calculated, sankey_stats=stats,
                                  report_seconds=report_seconds, flow=flow_name,
                                  succeeded_at=time.time() if succeeded else None)
    index = h.reports / "index.html"
    publish_flow_run(h, con, facilities, first, last, run_id, flow_name)
    logger.info("%d report pages written; index %s", len(paths), index)
    return {"index": str(index) if index.exists() else None, "pages": len(paths)}


