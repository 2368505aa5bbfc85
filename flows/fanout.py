"""Fan-out shared by the flows: ingest every facility, then compute, validate and store window
after window.

Facilities run in parallel on a bounded thread pool, their CPU work in worker processes
(``tasks/pool``). Per window, one calculation task computes every facility (a job per facility in
the worker processes) and profiles its readings; one validation task runs Great Expectations on
the profiles of all its facilities, and of the next windows already computed (GX costs ~0.3 s a
run, whatever the rows); one store task then stores every facility's window with its alerts and
GX outcome; after the last window, one task refits the baselines of the facilities that declare
one. Storing goes in window order (the anomaly alert reads the stored days before a window),
computing does not: the next windows are computed while one is validated and stored. A failing
facility never stops the others, and a failed window never stops the later windows of its facility.

The file-sourced facilities are ingested by one task run (every file a job in the worker
processes); historian, OPC UA and PI Web API facilities by a task run each, retried on I/O errors.
So a fleet pays Prefect's per-task cost (~25-30 ms) per window, not per facility; a facility that
fails inside a batched task gets its own failed task run (``tasks/failures.py``). Configurations,
computed windows and GX outcomes go to the tasks inside ``quote``: Prefect would otherwise walk
every field of every ``Facility`` looking for futures, twice per task run; the tasks receive them
unwrapped.
"""
from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field, replace
from datetime import date

from prefect import get_run_logger
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from tasks.calculate import calculate_window
from tasks.gx import validate as gx_validate
from tasks.ingest import ingest_facility, ingest_files_batch
from tasks.publish.progress import RunProgress
from tasks.store import fit_baselines, store_window_results
from tasks.validate import validate_window
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.pipeline.outcomes import IngestOutcome, StoreOutcome, WindowFailure
from thermaliq.quality.window_profile import window_label
from thermaliq.settings import Settings, load_settings
from thermaliq.store import stash

#: Windows computed ahead of the one being validated and stored: enough to keep every worker
#: process busy and to validate two or three windows in one GX run; each waits on disk (~4 MB per
#: 31-day facility window).
LOOKAHEAD_WINDOWS = 3


def task_runner() -> ThreadPoolTaskRunner:
    """A bounded thread pool (``Settings.max_workers``, default 8: the calculations computed
    ahead, a validation and a store task run at once; the CPU work is in the worker processes).

    Chosen when a flow is defined (the ``@flow`` decorator), so the settings are read at import."""
    return ThreadPoolTaskRunner(max_workers=load_settings().max_workers)


@dataclass
class FanoutResult:
    """What a fan-out did: the windows stored, the ingests, and every failure with its reason."""

    calculated: list[StoreOutcome] = field(default_factory=list)
    ingested: list[IngestOutcome] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)   # "facility window" -> reason


@dataclass(frozen=True)
class _Run:
    """What every task of one fan-out is given."""

    home: str
    facilities: dict[str, Facility]
    run_id: str
    settings: Settings
    reason: str | None = None
    new_version: bool = False


def run_facilities(home: str, facilities: dict[str, Facility], windows: list[tuple[date, date]], run_id: str,
                   settings: Settings, *, ingest: bool = True, reason: str | None = None,
                   new_version: bool = False, force_ingest: bool = False) -> FanoutResult:
    """Ingest every facility (optional), then per window: a calculation task per facility, one
    validation task for all of them (one Great Expectations run) and one store task, stores in
    window order. ``facilities`` (id to configuration) are loaded once by the flow."""
    out = FanoutResult()
    h = Home.resolve(home)
    run = _Run(home, dict(sorted(facilities.items())), run_id, settings, reason, new_version)
    stash.discard_stale(h)
    warm = _warm_up_gx(home)       # GX's import and context, while the ingest jobs run
    ready = _ingest_all(run, windows, force_ingest, out) if ingest else sorted(facilities)
    warm.join()
    progress = RunProgress(len(windows), f"windows stored, {windows[0][0]}..{windows[-1][1]}"
                           if windows else "windows stored")
    try:
        if ready:
            _windows(run, ready, windows, out, progress)
            _baselines(run, out)
    finally:
        stash.discard_run(h, run_id)      # windows computed but not stored (failures)
        progress.advance(len(windows))    # every window is now stored or recorded as failed
    return out


def _windows(run: _Run, ids: list[str], windows, out: FanoutResult, progress: RunProgress) -> None:
    computing: list = []                 # per window submitted: its calculation task's future
    computed: dict[int, dict] = {}       # window index -> facility id -> ComputedWindow
    checked: dict[int, dict | None] = {}  # window index -> facility id -> GX outcome (None: failed)

    def compute_ahead(upto: int) -> None:
        for k in range(len(computing), min(upto + 1, len(windows))):
            batch = quote({fid: run.facilities[fid] for fid in ids})
            computing.append(calculate_window.submit(run.home, batch, *windows[k], run.run_id, run.settings))

    stored = None                        # (label, future) of the previous window's store task
    for k, (first, last) in enumerate(windows):
        compute_ahead(k + LOOKAHEAD_WINDOWS)
        if k not in checked:
            _validate(run, _ready_from(k, computing), windows, computing, computed, checked, out)
        if stored is not None:
            _collect(stored, out)        # the previous window is stored before this one starts
            progress.advance()
            stored = None
        if not (checked.get(k) and computed.get(k)):
            progress.advance()           # failed before its store: recorded in out.failures
        else:
            window = computed.pop(k)
            stored = (f"{first}..{last}",
                      store_window_results.submit(run.home,
                                                  quote({fid: run.facilities[fid] for fid in window}),
                                                  quote(window), quote(checked.pop(k)),
                                                  first, last, run.run_id, run.settings,
                                                  reason=run.reason, new_version=run.new_version))
    if stored is not None:
        _collect(stored, out)
        progress.advance()


def _ready_from(k: int, computing: list) -> list[int]:
    """Window ``k`` and the windows right after it whose calculations have ended already."""
    batch = [k]
    for j in range(k + 1, len(computing)):
        if not _done(computing[j]):
            break
        batch.append(j)
    return batch


def _done(future) -> bool:
    wrapped = getattr(future, "wrapped_future", None)     # thread pool futures; else: not known
    return wrapped is not None and wrapped.done()


def _validate(run: _Run, batch: list[int], windows, computing: list, computed: dict, checked: dict,
              out: FanoutResult) -> None:
    """Wait for the calculations of the windows of ``batch`` and validate them in one GX run."""
    profiles = {}
    for j in batch:
        label = _label(windows[j])
        future, computing[j] = computing[j], None
        wait([future])
        computed[j] = {}
        if not future.state.is_completed():
            _fail(out, f"calculate {label}", _reason(future.state))
        else:
            for fid, c in future.result().items():
                if isinstance(c, WindowFailure):
                    _fail(out, f"{fid} {label}", c.reason)
                else:
                    computed[j][fid] = c
        profiles[label] = {fid: c.profile for fid, c in computed[j].items()}
        computed[j] = {fid: replace(c, profile=None) for fid, c in computed[j].items()}   # GX's only
        checked[j] = None
    if not any(profiles.values()):
        return
    validation = validate_window.submit(run.home, quote(run.facilities),
                                        quote({lb: p for lb, p in profiles.items() if p}),
                                        windows[batch[0]][0], windows[batch[-1]][1], run.run_id)
    wait([validation])
    if not validation.state.is_completed():
        why = _reason(validation.state)
        for j in batch:
            for fid in computed[j]:
                _fail(out, f"{fid} {_label(windows[j])}", f"validation failed: {why}")
        return
    result = validation.result()
    for j in batch:
        checked[j] = result.get(_label(windows[j]))


def _label(window) -> str:
    return window_label(*window)


def _collect(stored, out: FanoutResult) -> None:
    """Wait for a window's store task; record each facility's summary or failure."""
    label, fut = stored
    wait([fut])
    if not fut.state.is_completed():
        _fail(out, f"store {label}", _reason(fut.state))
        return
    for fid, stored_window in fut.result().items():
        if isinstance(stored_window, WindowFailure):
            _fail(out, f"{fid} {label}", stored_window.reason)
        else:
            out.calculated.append(stored_window)


def _baselines(run: _Run, out: FanoutResult) -> None:
    """Refit the baselines of the facilities that stored a window, once per run (one task for
    all of them; none when no facility declares a baseline)."""
    stored = {o.facility_id for o in out.calculated}
    fitting = {fid: run.facilities[fid] for fid in sorted(stored) if run.facilities[fid].baseline is not None}
    if not fitting:
        return
    fut = fit_baselines.submit(run.home, quote(fitting), run.run_id, run.settings)
    wait([fut])
    if not fut.state.is_completed():
        _fail(out, "baselines", _reason(fut.state))
        return
    for fid, why in fut.result().items():
        _fail(out, f"{fid} baseline", why)


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


def _ingest_all(run: _Run, windows, force: bool, out: FanoutResult) -> list[str]:
    """Ingest every facility: the file-sourced ones in one task run, each other one in its own
    (in parallel); return the ids whose ingest completed, in id order."""
    first, last = windows[0][0], windows[-1][1]
    files = {fid: f for fid, f in run.facilities.items() if f.source.kind == "files"}
    batch = (ingest_files_batch.submit(run.home, quote(files), first, last, run.settings, force=force)
             if files else None)
    futures = {fid: ingest_facility.submit(run.home, quote(facility), first, last, run.settings, force=force)
               for fid, facility in run.facilities.items() if fid not in files}
    wait(list(futures.values()) + ([batch] if batch is not None else []))
    results = dict.fromkeys(run.facilities)
    results.update(_batch_outcomes(batch, files))
    results.update({fid: _outcome(fut) for fid, fut in futures.items()})
    ready = []
    for fid, result in results.items():
        if isinstance(result, str):
            _fail(out, f"{fid} ingest", result)
            continue
        out.ingested.append(result)
        if result.file_errors:
            # unreadable files were quarantined; the rest was ingested and is calculated
            out.failures[f"{fid} ingest"] = "; ".join(result.file_errors)
            get_run_logger().error("%s: unreadable files: %s", fid, "; ".join(result.file_errors))
        ready.append(fid)
    return ready


def _batch_outcomes(batch, files: dict) -> dict[str, IngestOutcome | str]:
    """Per facility of the file ingest task: its outcome, or why it failed (the task's reason
    for each when the task itself failed)."""
    if batch is None:
        return {}
    if not batch.state.is_completed():
        return dict.fromkeys(files, _reason(batch.state))
    return {fid: r.reason if isinstance(r, WindowFailure) else r for fid, r in batch.result().items()}


def _outcome(future) -> IngestOutcome | str:
    """A per-facility ingest task's outcome, or why it failed."""
    return future.result() if future.state.is_completed() else _reason(future.state)


def _fail(out: FanoutResult, what: str, why: str) -> None:
    out.failures[what] = why
    get_run_logger().error("%s failed: %s", what, why)


def _reason(state) -> str:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we report the failure, we do not swallow it
        return f"{type(exc).__name__}: {exc}"
    return state.message or state.name
