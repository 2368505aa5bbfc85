"""Report task: catalog, HTML reports, Prometheus metrics, Prefect artifacts and alert events."""
from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.gx import docs as gx_docs
from tasks.gx.offline import AssetsMissing
from tasks.pool import worker_pool
from tasks.publish.artifacts import publish_data_docs_link, publish_flow_run
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.report import metrics, render
from thermaliq.settings import Settings
from thermaliq.store import catalog


@task(name="report", task_run_name="report-{first}-{last}", cache_policy=NO_CACHE)
def publish_reports(home: str, facilities: dict[str, Facility], first: date, last: date, run_id: str,
                    flow_name: str, calculated: list[dict], settings: Settings,
                    succeeded: bool = True) -> dict:
    """Refresh the catalog, render reports, write metrics and publish artifacts for a run.

    ``calculated`` holds the run's per-window counts as ``thermaliq.report.metrics`` reads them."""
    logger = get_run_logger()
    h = Home.resolve(home)
    # The Data Docs (Great Expectations' rendering, in this process) are built while the report
    # pages render in the worker processes: they need only the run's validation results. The
    # catalog file is refreshed beside them: the reports read the lake through views of their own.
    with ThreadPoolExecutor(2, thread_name_prefix="report-side") as side:
        refreshed = side.submit(_refresh_catalog, h, logger)
        data_docs = side.submit(_data_docs, h, logger)
        result = _reports(h, logger, facilities, first, last, run_id, flow_name, calculated,
                          settings, succeeded)
        refreshed.result()
        result["data_docs"] = data_docs.result()
    if result["data_docs"]:
        publish_data_docs_link(result["data_docs"], settings.reports_url)
    return result


def _reports(h: Home, logger, facilities: dict[str, Facility], first: date, last: date,
             run_id: str, flow_name: str, calculated: list[dict], settings: Settings,
             succeeded: bool) -> dict:
    """Report pages, metrics and the run's artifacts."""
    con = catalog.memory_connection(h)
    stats: dict[str, dict] = {}
    periods: dict = {}
    started = time.perf_counter()

    def write_metrics() -> None:
        metrics.write_run_metrics(h, con, facilities, calculated=calculated, sankey_stats=stats,
                                  report_seconds=report_seconds, flow=flow_name,
                                  succeeded_at=time.time() if succeeded else None)

    try:
        paths = render.render_reports(con, h.reports, facilities, first, last, stats=stats,
                                      periods=periods, executor=worker_pool(settings)) if facilities else []
    except BaseException:
        report_seconds = time.perf_counter() - started
        write_metrics()
        raise
    report_seconds = time.perf_counter() - started
    # the artifacts (one Prefect API call each: ~15 ms, a link per facility) are published while
    # the metrics are written; a cursor of its own for the artifacts' queries, the task run's context
    with ThreadPoolExecutor(1, thread_name_prefix="artifacts") as side:
        published = side.submit(contextvars.copy_context().run, publish_flow_run, h, con.cursor(),
                                facilities, first, last, run_id, flow_name, periods=periods,
                                reports_url=settings.reports_url)
        write_metrics()
        published.result()
    index = h.reports / "index.html"
    logger.info("%d report pages written; index %s", len(paths), index)
    return {"index": str(index) if index.exists() else None, "pages": len(paths)}


def _refresh_catalog(h: Home, logger) -> None:
    """Bring ``thermaliq.duckdb``'s views up to date; a user holding the file only delays that."""
    try:
        catalog.refresh_catalog(h)
    except catalog.CatalogBusy as exc:
        logger.warning("%s", exc)


def _data_docs(h: Home, logger) -> str | None:
    """Once per flow run: prune old GX validation results, then render the new ones' Data Docs."""
    removed = gx_docs.prune_validation_results(h.gx)
    data_docs = gx_docs.build_data_docs(h.gx)
    if removed:
        logger.info("%d old validation result(s) pruned (kept the latest %d per facility)",
                    removed, gx_docs.KEEP_PER_FACILITY)
    if data_docs:
        try:
            gx_docs.localize(h.gx)
        except AssetsMissing as exc:   # the Data Docs still open where the CDNs are reachable
            logger.warning("Data Docs need internet access to render: %s", exc)
        logger.info("Data Docs: %s", data_docs)
    return data_docs


