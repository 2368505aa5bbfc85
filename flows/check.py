"""``thermaliq check``: the health check an operator runs at 3 a.m. (the reconciliation of dead
runs with Prefect's state, which every run also does when it starts, is :mod:`flows.reconcile`).

One command answers "is this home healthy?": runs whose process died are ended in ``runs``
(``crashed``, or ``failed`` when Prefect says Failed/Cancelled) and, when Prefect still shows them
Running, set to Crashed there too; writes a dead run left pending are rolled back; the facility
files are checked; the last successful run of each facility is shown. Exit code 0: healthy; 1:
something needed attention (each item is printed); 2: no home.

Prefect is asked only when a server is known (``PREFECT_API_URL``, or the API of the flow run
that calls :func:`reconcile_runs`); run ids that are not Prefect flow-run ids (``local-...``) and
runs the server does not know are judged by their liveness lock alone.
"""
from __future__ import annotations

import json
import typer
from rich.console import Console

from flows.cli_start import HomeOpt
from flows.reconcile import reconcile_runs
from thermaliq.home import Home

console = Console(soft_wrap=True)
#: Longest wait for a facility's write lock before ``check`` reports the facility busy [s].
LOCK_WAIT_S = 2.0
#: Flows whose completion means a facility's results are up to date.
CALCULATING_FLOWS = ("nightly", "backfill", "recalculate")


def _pending(home: Home, facility_ids: list[str]) -> tuple[dict[str, int], list[str]]:
    """Roll back writes a dead run left pending: files removed per facility, and the facilities
    whose write lock a live run holds (their pending write, if any, is in progress)."""
    from thermaliq.store import lake

    pending_root = home.lake / "_pending"
    ids = set(facility_ids)
    if pending_root.is_dir():
        ids |= {p.name.split("=", 1)[1] for p in pending_root.iterdir() if p.name.startswith("facility_id=")}
    removed, busy = {}, []
    for fid in sorted(ids):
        try:
            with lake.facility_lock(home.lake, fid, timeout_s=LOCK_WAIT_S):
                n = lake.rollback_pending(home.lake, fid)
        except lake.LockTimeout:
            busy.append(fid)
            continue
        if n:
            removed[fid] = n
    return removed, busy


def last_successful_runs(home: Home, facility_ids: list[str]) -> dict[str, dict | None]:
    """Per facility, the newest completed nightly/backfill/recalculate run that included it."""
    runs_dir = home.lake / "runs"
    rows = []
    if runs_dir.is_dir():
        from thermaliq.store import lake

        for path in runs_dir.glob("*.parquet"):
            row = lake.read_parquet(path)
            if not row.empty and row["status"].iloc[0] == "completed" and row["flow"].iloc[0] in CALCULATING_FLOWS:
                rows.append(row.iloc[0].to_dict())
    rows.sort(key=lambda r: r["finished_at"], reverse=True)
    out: dict[str, dict | None] = {}
    for fid in facility_ids:
        out[fid] = None
        for r in rows:
            chosen = json.loads(r["parameters"] or "{}").get("facilities")
            if not chosen or fid in chosen:
                out[fid] = r
                break
    return out


def run_check(home: Home) -> int:
    """Print the health of ``home``; return 0 (healthy) or 1 (problems found, each printed)."""
    from thermaliq.config import load_facilities

    problems = 0
    facilities, errors = load_facilities(home.facilities)
    console.print(f"[bold]config[/]   {len(facilities)} facility file(s) valid, {len(errors)} problem(s)")
    for e in errors:
        console.print(f"  [red]error[/] {e}")
    problems += len(errors)

    done, view = reconcile_runs(home, by="thermaliq check")
    where = f"Prefect at {view.url}" if view.url else "no Prefect server (PREFECT_API_URL unset): liveness locks only"
    console.print(f"[bold]runs[/]     {len(done)} marked running; {where}")
    for r in done:
        said = f" (Prefect: {r.prefect.name})" if r.prefect else ""
        if r.changed:
            problems += 1
            console.print(f"  [red]{r.status}[/] {r.flow} run {r.run_id}{said}: its process is gone")
        else:
            console.print(f"  [green]running[/] {r.flow} run {r.run_id}{said}: its process is alive")
    for run_id in view.marked_crashed:
        console.print(f"  [yellow]Prefect[/] flow run {run_id} set to Crashed (it still showed it running)")
    if view.problem:
        problems += 1
        console.print(f"  [red]Prefect[/] {view.problem}")

    removed, busy = _pending(home, sorted(facilities))
    console.print(f"[bold]writes[/]   {sum(removed.values())} file(s) of interrupted writes rolled back")
    for fid, n in removed.items():
        problems += 1
        console.print(f"  [yellow]rolled back[/] {fid}: {n} file(s) a dead run left half-written "
                      "(never visible to readers; the next run recomputes them)")
    for fid in busy:
        console.print(f"  [green]busy[/] {fid}: a live run is writing (lock held); not touched")

    console.print("[bold]last successful run[/] (nightly, backfill or recalculate)")
    for fid, r in last_successful_runs(home, sorted(facilities)).items():
        if r is None:
            console.print(f"  [yellow]{fid}[/]: none yet")
        else:
            console.print(f"  {fid}: {r['flow']} finished {r['finished_at']:%Y-%m-%d %H:%M:%S} UTC (run {r['run_id']})")
    console.print("[green]healthy[/]" if not problems else f"[red]{problems} item(s) need attention[/]")
    return 1 if problems else 0


def check(home: HomeOpt = None) -> None:
    """Health check: end dead runs (reconciled with Prefect when PREFECT_API_URL is set), roll
    back writes they left pending, check the facility files, show each facility's last
    successful run. Exit 0 healthy, 1 something needs attention, 2 no home."""
    h = Home.resolve(home)
    if not h.facilities.is_dir():
        Console(stderr=True).print(f"[red]no facilities directory[/] {h.facilities}")
        raise typer.Exit(2)
    raise typer.Exit(run_check(h))
