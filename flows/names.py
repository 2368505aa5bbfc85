"""Flow run names that say what a run does, e.g. ``backfill 2026-03-01..2026-03-31 (3 facilities)``.

Prefect calls these when a run starts (``@flow(flow_run_name=...)``); they read the run's
parameters through ``prefect.runtime.flow_run.parameters``, so a list of runs in the UI shows the
days and facilities of each one instead of a random name.
"""
from __future__ import annotations

from prefect.runtime import flow_run


def describe_facilities(ids: list[str] | None) -> str:
    """``all facilities``, the one id, or ``N facilities``."""
    if not ids:
        return "all facilities"
    return ids[0] if len(ids) == 1 else f"{len(ids)} facilities"


def range_run_name(flow: str, params: dict) -> str:
    """``<flow> <start>..<end> (<facilities>)``; a missing date shows as ``default``."""
    start, end = params.get("start") or "default", params.get("end") or "default"
    return f"{flow} {start}..{end} ({describe_facilities(params.get('facilities'))})"


def backfill_name() -> str:
    return range_run_name("backfill", flow_run.parameters)


def recalculate_name() -> str:
    params = flow_run.parameters
    return f"{range_run_name('recalculate', params)}: {params.get('reason') or ''}".rstrip(": ")


def report_name() -> str:
    return range_run_name("report", flow_run.parameters)


def nightly_name() -> str:
    params = flow_run.parameters
    day = params.get("date") or "yesterday"
    return f"nightly {day} ({describe_facilities(params.get('facilities'))})"
