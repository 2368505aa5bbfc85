"""Recording a flow run in the ``runs`` relation and ending it Completed or Failed."""
from __future__ import annotations

import logging
from contextlib import contextmanager

import pandas as pd
from prefect import get_run_logger
from prefect.runtime import flow_run

from flows.reconcile import reconcile_runs   # dead runs, with Prefect's state of them

from thermaliq.home import Home
from thermaliq.settings import Settings, load_settings
from thermaliq.sources import retry   # the connector counters (not the HTTP client: requests loads in 0.3 s)
from thermaliq.store import liveness
from thermaliq.store.runs import record_run

#: Settings the process that serves the flows supplies where the environment leaves them unset
#: (``thermaliq serve``: the report server's URL). See :func:`serve_defaults`.
_SERVED: dict[str, object] = {}


def serve_defaults(**values) -> None:
    """Defaults (Settings field=value) for the flow runs of this process, below the environment."""
    _SERVED.update(values)


def run_settings() -> Settings:
    """The settings of one flow run: read once when it starts and passed down to every task."""
    settings = load_settings()
    unset = {k: v for k, v in _SERVED.items() if getattr(settings, k) is None}
    return settings.model_copy(update=unset) if unset else settings


def forward_library_logs(level: int = logging.INFO) -> None:
    """Send the ``thermaliq`` loggers' records (connector retries, circuit breaker, ...) to the
    Prefect run page, as ``PREFECT_LOGGING_EXTRA_LOGGERS=thermaliq`` would, whatever the process's
    Prefect settings (a worker's subprocess configures logging before it loads the flow)."""
    from prefect.logging.handlers import APILogHandler

    logger = logging.getLogger("thermaliq")
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        handler = APILogHandler()
        handler.addFilter(_in_a_run)   # library use outside runs (tests, the simulator) stays local
        logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)


def _in_a_run(record: logging.LogRecord) -> bool:
    """Whether ``record`` was logged inside a flow or task run (else there is no run page for it)."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def current_run_id() -> str:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else f"local-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S%f}"


class RunRecord:
    """Holds what the ``runs`` row says and the run's settings; ``fail(reason)`` marks the run
    failed."""

    def __init__(self, home: Home, flow: str, parameters: dict):
        self.home, self.flow, self.parameters = home, flow, parameters
        self.settings = run_settings()
        self.run_id = current_run_id()
        self.started_at = pd.Timestamp.now(tz="UTC")
        self.failures: list[str] = []

    def fail(self, reason: str) -> None:
        self.failures.append(reason)


@contextmanager
def recorded_run(home: Home, flow: str, parameters: dict):
    """Write a ``running`` row, then ``completed``/``failed`` with the reason at the end."""
    forward_library_logs()
    run = RunRecord(home, flow, parameters)
    retry.reset_stats()       # connector counters are per run (metrics add them to totals)
    alive = liveness.hold(home.lake, run.run_id)   # released by the kernel if this process dies
    for dead in (r for r in reconcile_runs(home, by=f"{flow} run {run.run_id}", in_flow=True)[0] if r.changed):
        get_run_logger().warning("run %s is marked %s: its process ended without an end state", dead.run_id,
                                 dead.status)
    record_run(home, run.run_id, flow, parameters, status="running", started_at=run.started_at,
               reason=parameters.get("reason") or None)
    try:
        yield run
    except BaseException as exc:
        record_run(home, run.run_id, flow, parameters, status="failed", started_at=run.started_at,
                   finished_at=pd.Timestamp.now(tz="UTC"), reason=f"{type(exc).__name__}: {exc}")
        raise
    else:
        status = "failed" if run.failures else "completed"
        why = [str(parameters["reason"])] if parameters.get("reason") else []   # a recalculation's reason
        record_run(home, run.run_id, flow, parameters, status=status, started_at=run.started_at,
                   finished_at=pd.Timestamp.now(tz="UTC"), reason="; ".join(why + run.failures) or None)
    finally:
        liveness.release(home.lake, run.run_id, alive)
