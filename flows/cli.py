"""The ``thermaliq`` command line (typer).

Exit codes (DESIGN §8): 0 everything succeeded, 1 some facility or period failed (the rest is done
and recorded), 2 usage or configuration errors.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the CLI shows its own progress
import flows  # noqa: E402,F401 - quietens Prefect's ephemeral server before prefect is imported
from flows import startup
from flows.lake_cli import lake_app
from flows.cli_start import HomeOpt, check_dates, check_source, init, preflight, query, report_tags
from thermaliq.errors import ConfigError, ThermaliqError
from thermaliq.home import Home

app = typer.Typer(name="thermaliq", no_args_is_help=True, add_completion=False,
                  help="Efficiency and energy balance of industrial thermal plants.")
console = Console(stderr=False, soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

FacilitiesOpt = Annotated[Optional[list[str]], typer.Option(
    "--facility", "-f", help="Facility id (repeat for several); default: all.")]
DateOpt = Annotated[str, typer.Option(help="ISO date YYYY-MM-DD (local calendar day).")]


def _run_flow(flow_fn, label: str, *, early=None, **params) -> int:
    """Run a flow in-process (Prefect's ephemeral mode unless PREFECT_API_URL is set).

    ``early``: a :class:`flows.startup.EarlyStart` begun once the command's checks passed
    (Prefect's temporary server, starting while the command imports the flow)."""
    check_dates(params.get("start"), params.get("end"), params.get("date"))
    try:
        if early is not None:
            early.ready()
        with _progress_bar(label, flow_fn.name):
            state = flow_fn(**params, return_state=True)
    finally:
        if early is not None:
            early.finish()
    home = Home.resolve(params.get("home"))
    if state.is_completed():
        summary = state.result()
        _print_summary(home, summary)
        return 0
    cause = state.result(raise_on_failure=False)
    if isinstance(cause, ConfigError):
        err.print(f"[red]configuration error[/]: {cause}")
        return 2
    err.print(f"[red]{label} finished with failures[/]: {state.message}")
    return 1


@contextmanager
def _progress_bar(label: str, flow_name: str):
    """A rich progress bar of the windows stored (the run's progress artifact, in the terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tasks.publish.progress import watch_progress

    bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)
    task = bars.add_task(f"{label} (Prefect flow '{flow_name}'): starting", total=None)

    def show(done: int, total: int, description: str) -> None:
        bars.update(task, completed=done, total=total, description=f"{label}: {description}")

    with bars, watch_progress(show):
        yield


def _print_summary(home: Home, summary: dict) -> None:
    from thermaliq.store import catalog
    from thermaliq import periods
    from thermaliq.config import load_facility

    con = catalog.memory_connection(home)
    first, last = date.fromisoformat(summary["first"]), date.fromisoformat(summary["last"])
    table = Table(title=f"{summary['flow']} {first} .. {last} (local days)")
    for col in ("facility", "days", "efficiency % (period)", "basis", "quality score (mean)",
                "days flagged", "alerts"):
        table.add_column(col)
    zones = summary.get("timezones") or {}
    windows = [(fid, *periods.day_window(first, last, zones.get(fid)
                                         or load_facility(home.facility_file(fid)).timezone))
               for fid in summary["facilities"]]
    for fid, days, eff, basis, dq, flagged, alerts in _summary_rows(con, windows):
        table.add_row(fid, str(days), "" if eff is None else f"{eff:.2f}", basis or "",
                      "" if dq is None else f"{dq:.3f}", str(flagged), str(alerts))
    console.print(table)
    for note in summary.get("notes", []):
        console.print(f"[yellow]note[/]: {note}")
    console.print(f"windows calculated: {summary['windows_calculated']}, "
                  f"with new results: {summary['windows_changed']}")
    if summary.get("reports"):
        console.print(f"reports: {summary['reports']}")
    console.print(f"query:   thermaliq query --home {home.root} \"SELECT * FROM calculations "
                  "WHERE is_current AND granularity = 'day'\"")


def _summary_rows(con, windows: list[tuple]) -> list[tuple]:
    """Per facility of ``windows`` (id, first instant, end instant): days, efficiency % of the
    period, basis, mean quality score, days flagged and alerts, in the order given. One query for
    every facility: each query reads the lake's files, so a fleet of 100 paid ~0.1 s per query."""
    con.execute("CREATE OR REPLACE TEMP TABLE summary_windows (ord INTEGER, facility_id VARCHAR, "
                "period_from TIMESTAMPTZ, period_to TIMESTAMPTZ)")
    con.executemany("INSERT INTO summary_windows VALUES (?, ?, ?, ?)",
                    [(i, fid, start, end) for i, (fid, start, end) in enumerate(windows)])
    return con.execute(
        "SELECT w.facility_id, count(c.facility_id), "
        "100 * sum(c.useful_output_kwh) FILTER (WHERE c.valid) "
        "/ sum(c.energy_input_kwh) FILTER (WHERE c.valid), "
        "any_value(c.basis), avg(c.data_quality_score), count(*) FILTER (WHERE c.status <> 'ok'), "
        "(SELECT count(*) FROM alerts a WHERE a.facility_id = w.facility_id "
        " AND a.period_start >= w.period_from AND a.period_start < w.period_to) "
        "FROM summary_windows w LEFT JOIN (SELECT *, efficiency_percent IS NOT NULL AS valid "
        "FROM calculations WHERE is_current AND granularity = 'day') c "
        "ON c.facility_id = w.facility_id "
        "AND c.period_start >= w.period_from AND c.period_start < w.period_to "
        "GROUP BY w.ord, w.facility_id, w.period_from, w.period_to ORDER BY w.ord").fetchall()


def _guard(fn):
    """Turn configuration errors into exit code 2 with a clear message."""
    try:
        return fn()
    except ConfigError as exc:
        err.print(f"[red]configuration error[/]: {exc}")
        return 2
    except ThermaliqError as exc:
        err.print(f"[red]error[/]: {exc}")
        return 1


@app.command()
def run(home: HomeOpt = None, date_: Annotated[Optional[str], typer.Option(
        "--date", help="Local date to process; default yesterday per facility.")] = None,
        facility: FacilitiesOpt = None) -> None:
    """Run the nightly flow now (ingest, validate, calculate, report)."""
    preflight(home, facility, day=date_)     # a bad home or facility is refused before Prefect loads
    early = startup.begin()
    try:
        from flows.nightly import nightly

        code = _guard(lambda: _run_flow(nightly, "nightly", early=early, date=date_,
                                        facilities=facility, home=str(Home.resolve(home).root)))
    finally:
        early.finish()
    raise typer.Exit(code)


@app.command()
def backfill(start: DateOpt, end: DateOpt, home: HomeOpt = None, facility: FacilitiesOpt = None,
             reingest: Annotated[bool, typer.Option(help="Re-read files already ingested.")] = False) -> None:
    """Ingest, validate and calculate an inclusive range of local days."""
    preflight(home, facility, start, end)    # a bad home or facility is refused before Prefect loads
    early = startup.begin()
    try:
        from flows.backfill import backfill as backfill_flow

        code = _guard(lambda: _run_flow(backfill_flow, "backfill", early=early, start=start,
                                        end=end, facilities=facility, reingest=reingest,
                                        home=str(Home.resolve(home).root)))
    finally:
        early.finish()
    raise typer.Exit(code)


@app.command()
def recalculate(start: DateOpt, end: DateOpt,
                reason: Annotated[str, typer.Option(help="Why (stored with the new version).")],
                home: HomeOpt = None, facility: FacilitiesOpt = None) -> None:
    """Recalculate from stored readings as a new version (earlier versions stay queryable)."""
    preflight(home, facility, start, end)
    from flows.recalculate import recalculate as recalc_flow

    if not reason.strip():
        err.print("[red]--reason must not be empty[/]")
        raise typer.Exit(2)
    raise typer.Exit(_guard(lambda: _run_flow(recalc_flow, "recalculate", start=start, end=end,
                                              reason=reason, facilities=facility,
                                              home=str(Home.resolve(home).root))))


@app.command()
def report(home: HomeOpt = None,
           start: Annotated[Optional[str], typer.Option(
               help="First local day YYYY-MM-DD; default end - 6 days.")] = None,
           end: Annotated[Optional[str], typer.Option(
               help="Last local day YYYY-MM-DD; default the newest day with readings.")] = None,
           facility: FacilitiesOpt = None) -> None:
    """Render the HTML reports and metrics from stored results (default: last 7 days with data)."""
    preflight(home, facility, start, end)
    from flows.report import report as report_flow

    raise typer.Exit(_guard(lambda: _run_flow(report_flow, "report", start=start, end=end,
                                              facilities=facility, home=str(Home.resolve(home).root))))


@app.command("check-config")
def check_config(home: HomeOpt = None) -> None:
    """Validate every facility file of the home; print each problem with file, field and fix."""
    h = Home.resolve(home)
    if not h.facilities.is_dir():
        err.print(f"[red]no facilities directory[/] {h.facilities} (create it and add <facility_id>.yaml)")
        raise typer.Exit(2)
    from thermaliq.config import load_facilities

    facilities, errors = load_facilities(h.facilities)
    for fid in sorted(facilities):
        console.print(f"[green]ok[/]    {h.facility_file(fid)}")
        missing = report_tags(h, facilities[fid])
        if missing:
            errors.append(missing)
    for e in errors:
        console.print(f"[red]error[/] {e}")
    console.print(f"{len(facilities)} valid, {len(errors)} problem(s)")
    from thermaliq.store import liveness

    for run_id in liveness.reconcile_crashed(h, by="thermaliq check-config"):
        console.print(f"[yellow]crashed[/] run {run_id}: its process ended without an end state "
                      "(now 'crashed' in runs)")
    raise typer.Exit(2 if errors else 0)


@app.command()
def demo(home: HomeOpt = None, days: Annotated[int, typer.Option(help="Days of demo data.")] = 21,
         seed: Annotated[int, typer.Option(help="Random seed of the demo data.")] = 7) -> None:
    """Create a demo home with realistic readings, run every flow, print where the reports are."""
    from flows.backfill import backfill as backfill_flow
    from thermaliq.demo.build import make_demo_home

    h = Home.resolve(home)
    marker = h.root / ".thermaliq-demo"
    if h.root.exists() and any(h.root.iterdir()) and not marker.exists():
        err.print(f"[red]{h.root} exists and is not a demo home[/]; choose another --home")
        raise typer.Exit(2)
    with console.status("writing demo facilities and readings ..."):
        made = make_demo_home(h.root, days=days, seed=seed)
    marker.write_text("created by thermaliq demo\n")
    console.print(f"demo home {h.root}: facilities {', '.join(made.facilities)}, "
                  f"{made.start} .. {made.end}, {len(made.faults)} injected faults")
    code = _guard(lambda: _run_flow(backfill_flow, "backfill", start=made.start.isoformat(),
                                    end=made.end.isoformat(), home=str(h.root)))
    console.print(f"\nOpen the report index: file://{h.reports / 'index.html'}")
    console.print(f"or serve it:           thermaliq serve-reports --home {h.root}")
    raise typer.Exit(code)


def _report_server(reports: Path, port: int, data_docs: Path | None = None):
    """The report server bound to 127.0.0.1:``port`` (Data Docs below /datadocs/); exit 2 with
    the reason if it cannot start."""
    from thermaliq.report.server import serve as serve_dir

    try:
        return serve_dir(reports, host="127.0.0.1", port=port, data_docs_dir=data_docs)
    except FileNotFoundError as exc:
        err.print(f"[red]error[/]: {exc}")
    except OSError as exc:   # port in use or not allowed
        err.print(f"[red]cannot serve on 127.0.0.1:{port}[/]: {exc.strerror or exc} (choose another --port)")
    raise typer.Exit(2)


alerts_app = typer.Typer(help="The Prefect automation that notifies on thermaliq alerts.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("install")
def alerts_install(block: Annotated[str, typer.Option(
        help="Notification block to send through: its name, or <block-type-slug>/<name>.")]) -> None:
    """Create or update the automation of ops/prefect/thermaliq-alerts.yaml on the Prefect server
    (PREFECT_API_URL), notifying through BLOCK."""
    from tasks.publish.automation import AUTOMATION_FILE, install_alert_automation

    def install() -> int:
        done, automation_id = install_alert_automation(block)
        console.print(f"{done} automation 'thermaliq alerts' ({automation_id}) from {AUTOMATION_FILE}, "
                      f"notifying through {block}")
        return 0

    raise typer.Exit(_guard(install))


@app.command("serve-reports")
def serve_reports(home: HomeOpt = None,
                  port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 8765) -> None:
    """Serve <home>/reports and the Data Docs (/datadocs/) over HTTP on 127.0.0.1 (links in the
    Prefect UI point here)."""
    h = Home.resolve(home)
    server = _report_server(h.reports, port, h.data_docs)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    console.print(f"serving {h.reports} at {url}/ and the Data Docs at {url}/datadocs/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command()
def serve(home: HomeOpt = None, port: Annotated[int, typer.Option(help="Report server port.")] = 8765,
          timezone: Annotated[str, typer.Option(
              envvar="THERMALIQ_SCHEDULE_TZ", help="IANA time zone of the nightly 03:30 schedule.")] = "UTC",
          ) -> None:
    """Single-machine install: serve the deployments with their schedules, and the reports.

    Needs a Prefect server (PREFECT_API_URL): Prefect's ephemeral mode runs no scheduler.
    """
    import threading
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from prefect.settings import get_current_settings

    from flows.deployments import serve_all
    from flows.runs import serve_defaults

    if not get_current_settings().api.url:
        err.print("[red]thermaliq serve needs a Prefect server[/]: without PREFECT_API_URL Prefect runs an "
                  "ephemeral API with no scheduler and no UI, so the nightly schedule would never fire. "
                  "Start one ('prefect server start') and set PREFECT_API_URL=http://127.0.0.1:4200/api")
        raise typer.Exit(2)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        err.print(f"[red]--timezone {timezone!r} is not an IANA time zone[/] such as 'Europe/Berlin'")
        raise typer.Exit(2)
    h = Home.resolve(home)
    h.reports.mkdir(parents=True, exist_ok=True)
    server = _report_server(h.reports, port, h.data_docs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    serve_defaults(reports_url=f"http://127.0.0.1:{server.server_address[1]}")   # unless set
    console.print(f"reports at http://127.0.0.1:{server.server_address[1]}/")
    serve_all(str(h.root), timezone)


app.command("check-source")(check_source)
from flows.check import check  # noqa: E402 - the health check (its module loads the store lazily)

app.command()(check)
app.command()(query)
app.command()(init)
app.add_typer(lake_app)   # thermaliq lake migrate (issue #19)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
