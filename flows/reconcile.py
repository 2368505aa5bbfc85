"""The reconciliation of dead runs with Prefect's state, done by every run when it starts and by
``thermaliq check`` (:mod:`flows.check`).

Runs whose process died are ended in ``runs`` (``crashed``, or ``failed`` when Prefect says
Failed/Cancelled) and, when Prefect still shows them Running, set to Crashed there too. Prefect
is asked only when a server is known (``PREFECT_API_URL``, or the API of the flow run that calls
:func:`reconcile_runs`); run ids that are not Prefect flow-run ids (``local-...``) and runs the
server does not know are judged by their liveness lock alone. Kept apart from the command so that
a flow run does not import the command line's libraries (typer, rich: ~0.16 s at each run's start).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from thermaliq.home import Home

if TYPE_CHECKING:   # the library's store (pandas, pyarrow) loads when a reconciliation runs
    from thermaliq.store.liveness import OrchestratorState, Reconciled


@dataclass
class PrefectView:
    """What Prefect said: the states of the runs asked about, runs marked Crashed by us, and
    ``problem`` (why Prefect could not be asked) when a server was expected but not reachable."""

    states: dict[str, OrchestratorState] = field(default_factory=dict)
    marked_crashed: list[str] = field(default_factory=list)
    url: str | None = None
    problem: str | None = None


def _flow_run_id(run_id: str) -> UUID | None:
    try:
        return UUID(run_id)
    except ValueError:
        return None                      # a local run id: no Prefect flow run


def prefect_states(run_ids: list[str], in_flow: bool = False) -> PrefectView:
    """The Prefect state of each run id that is a flow-run id, read from the known server.

    ``in_flow``: called from a flow run, whose API (server or ephemeral) is always known; else
    only a configured ``PREFECT_API_URL`` is asked (an ephemeral API would know no runs).
    """
    from prefect.settings import get_current_settings

    from thermaliq.store.liveness import OrchestratorState

    view = PrefectView(url=get_current_settings().api.url)
    ids = {r: u for r in run_ids if (u := _flow_run_id(r)) is not None}
    if not ids or not (in_flow or view.url):
        return view
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        unhealthy = client.api_healthcheck()
        if unhealthy is not None:
            view.problem = f"Prefect API {view.url} not reachable ({type(unhealthy).__name__}: {unhealthy})"
            return view
        for run_id, uuid in ids.items():
            try:
                state = client.read_flow_run(uuid).state
            except ObjectNotFound:
                continue                 # another server's run, or one pruned since
            if state is not None:
                view.states[run_id] = OrchestratorState(state.type.value, state.name, state.message or None)
    return view


def mark_prefect_crashed(run_ids: list[str], reason: str) -> list[str]:
    """Set the Prefect flow runs ``run_ids`` to Crashed (their process is known dead); return
    those set."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    done = []
    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            result = client.set_flow_run_state(UUID(run_id), Crashed(message=reason), force=True)
            if result.state is not None and result.state.type.value == "CRASHED":
                done.append(run_id)
    return done


def reconcile_runs(home: Home, by: str, in_flow: bool = False) -> tuple[list[Reconciled], PrefectView]:
    """End the ``running`` rows whose process died, with Prefect's word where a server is known;
    set Prefect runs that still look alive to Crashed. A Prefect failure never stops the
    reconciliation: the rows are then ended by their liveness locks alone (``view.problem``)."""
    from thermaliq.store import liveness

    running = [str(r["run_id"]) for r in liveness.running_rows(home)]
    try:
        view = prefect_states(running, in_flow=in_flow)
    except Exception as exc:  # noqa: BLE001 - reported, and the locks still decide
        view = PrefectView(problem=f"reading Prefect states failed: {type(exc).__name__}: {exc}")
    done = liveness.reconcile(home, by=by, states=view.states)
    stale = [r.run_id for r in done
             if r.changed and r.prefect is not None and r.prefect.type in liveness.ACTIVE_STATES]
    if stale:
        try:
            view.marked_crashed = mark_prefect_crashed(
                stale, f"thermaliq: the process running this flow run ended without an end state "
                       f"(found by {by})")
        except Exception as exc:  # noqa: BLE001 - the runs relation is right; say Prefect is not
            view.problem = f"setting Prefect runs {stale} to Crashed failed: {type(exc).__name__}: {exc}"
    return done, view
