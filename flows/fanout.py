"""Fan-out shared by the flows: per facility, ingest then calculate window after window.

Facilities run in parallel on a bounded thread pool; the windows of one facility run in order
(each writes its months), and a failing facility never stops the others.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

from prefect import get_run_logger
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.calculate import calculate_facility_window
from tasks.ingest import ingest_facility


def task_runner() -> ThreadPoolTaskRunner:
    """A bounded thread pool (``THERMALIQ_MAX_WORKERS``, default 4)."""
    return ThreadPoolTaskRunner(max_workers=int(os.environ.get("THERMALIQ_MAX_WORKERS", "4")))


@dataclass
class FanoutResult:
    calculated: list[dict] = field(default_factory=list)
    ingested: list[dict] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)   # "facility window" -> reason


def run_facilities(home: str, facility_ids: list[str], windows: list[tuple[date, date]], run_id: str,
                   *, ingest: bool = True, reason: str | None = None, new_version: bool = False,
                   force_ingest: bool = False) -> FanoutResult:
    """Submit ingest (optional) and per-window calculation tasks for every facility and wait."""
    logger = get_run_logger()
    chains: list[tuple[str, list]] = []
    for fid in facility_ids:
        futures = []
        previous = None
        if ingest:
            first, last = windows[0][0], windows[-1][1]
            previous = ingest_facility.submit(home, fid, first, last, force=force_ingest)
            futures.append(("ingest", previous))
        for first, last in windows:
            fut = calculate_facility_window.submit(
                home, fid, first, last, run_id, reason=reason, new_version=new_version,
                wait_for=[previous] if previous is not None else None)
            futures.append((f"{first}..{last}", fut))
            previous = fut
        chains.append((fid, futures))
    wait([f for _, futs in chains for _, f in futs])
    out = FanoutResult()
    for fid, futures in chains:
        for label, fut in futures:
            state = fut.state
            if state.is_completed():
                result = fut.result()
                (out.ingested if label == "ingest" else out.calculated).append(result)
                if label == "ingest" and result.get("file_errors"):
                    # unreadable files were quarantined; the rest was ingested and calculated
                    out.failures[f"{fid} ingest"] = "; ".join(result["file_errors"])
                    logger.error("%s: unreadable files: %s", fid, "; ".join(result["file_errors"]))
                continue
            why = _reason(state)
            out.failures[f"{fid} {label}"] = why
            logger.error("%s %s failed: %s", fid, label, why)
    return out


def _reason(state) -> str:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we report the failure, we do not swallow it
        return f"{type(exc).__name__}: {exc}"
    return state.message or state.name
