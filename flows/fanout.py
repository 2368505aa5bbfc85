"""Fan-out shared by the flows: ingest every facility, then window after window validate all
facilities at once and calculate each.

Facilities run in parallel on a bounded thread pool; the windows of one facility run in order
(each writes its months); a window is validated by one Great Expectations run for all facilities
(GX costs ~0.2 s a run, whatever the rows), queued behind the previous window's calculations. A
failing facility never stops the others.
"""
from __future__ import annotations

import contextvars
import os
import threading
from dataclasses import dataclass, field
from datetime import date

from prefect import get_run_logger
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import gx_validate
from tasks.calculate import calculate_facility_window
from tasks.ingest import ingest_facility
from tasks.validate import validate_window
from thermaliq.home import Home


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
    """Ingest every facility (optional), then per window: one validation task for all facilities
    (one Great Expectations run), then a calculation task per facility, in window order."""
    out = FanoutResult()
    warm = _warm_up_gx(home)       # GX's import and context, while the ingest jobs run
    ready = _ingest_all(home, facility_ids, windows, force_ingest, out) if ingest else list(facility_ids)
    warm.join()
    chains: dict[str, list] = {fid: [] for fid in ready}
    previous: dict[str, object] = {}
    validation = validate_window.submit(home, ready, *windows[0], run_id) if ready and windows else None
    for i, (first, last) in enumerate(windows):
        if validation is None:
            break
        wait([validation])
        if validation.state.is_completed():
            gx = validation.result()
            for fid in ready:
                fut = calculate_facility_window.submit(
                    home, fid, first, last, run_id, gx[fid], reason=reason, new_version=new_version,
                    wait_for=[previous[fid]] if fid in previous else None)
                chains[fid].append((f"{first}..{last}", fut))
                previous[fid] = fut
        else:
            why = _reason(validation.state)
            for fid in ready:
                _fail(out, f"{fid} {first}..{last}", f"validation failed: {why}")
        # the next window's validation queues behind this window's calculations
        validation = validate_window.submit(home, ready, *windows[i + 1], run_id) \
            if i + 1 < len(windows) else None
    wait([f for futs in chains.values() for _, f in futs])
    for fid, futures in chains.items():
        for label, fut in futures:
            if fut.state.is_completed():
                out.calculated.append(fut.result())
            else:
                _fail(out, f"{fid} {label}", _reason(fut.state))
    return out


def _warm_up_gx(home: str) -> threading.Thread:
    def warm() -> None:
        try:
            gx_validate.warm_up(Home.resolve(home).gx)
        except Exception as exc:  # noqa: BLE001 - the validation task meets and reports it again
            get_run_logger().warning("Great Expectations could not be prepared ahead: %s: %s",
                                     type(exc).__name__, exc)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(warm,),
                              name="gx-warm-up", daemon=True)
    thread.start()
    return thread


def _ingest_all(home: str, facility_ids: list[str], windows, force: bool, out: FanoutResult) -> list[str]:
    """Ingest every facility in parallel; return the ids whose ingest completed."""
    first, last = windows[0][0], windows[-1][1]
    futures = {fid: ingest_facility.submit(home, fid, first, last, force=force) for fid in facility_ids}
    wait(list(futures.values()))
    ready = []
    for fid, fut in futures.items():
        if not fut.state.is_completed():
            _fail(out, f"{fid} ingest", _reason(fut.state))
            continue
        result = fut.result()
        out.ingested.append(result)
        if result.get("file_errors"):
            # unreadable files were quarantined; the rest was ingested and is calculated
            out.failures[f"{fid} ingest"] = "; ".join(result["file_errors"])
            get_run_logger().error("%s: unreadable files: %s", fid, "; ".join(result["file_errors"]))
        ready.append(fid)
    return ready


def _fail(out: FanoutResult, what: str, why: str) -> None:
    out.failures[what] = why
    get_run_logger().error("%s failed: %s", what, why)


def _reason(state) -> str:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we report the failure, we do not swallow it
        return f"{type(exc).__name__}: {exc}"
    return state.message or state.name
