"""Deployments served in-process by ``thermaliq serve`` (the same ones prefect.yaml declares)."""
from __future__ import annotations

NIGHTLY_CRON = "30 3 * * *"   # 03:30 local: after midnight data lands, outside the 02:00-03:00 DST hour


def serve_all(home: str, timezone: str = "UTC") -> None:
    """Serve nightly (scheduled), backfill, recalculate and report until interrupted."""
    from prefect import serve
    from prefect.schedules import Cron

    from flows.backfill import backfill
    from flows.nightly import nightly
    from flows.recalculate import recalculate
    from flows.report import report

    params = {"home": home}
    serve(
        nightly.to_deployment(name="nightly", schedule=Cron(NIGHTLY_CRON, timezone=timezone),
                              parameters=params, concurrency_limit=1),
        backfill.to_deployment(name="backfill", parameters=params),
        recalculate.to_deployment(name="recalculate", parameters=params),
        report.to_deployment(name="report", parameters=params),
    )
