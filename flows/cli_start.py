"""The commands of a new user's first contact (issue #21): ``init``, ``check-source``, ``query``,
and the tag comparison ``check-config`` adds. :mod:`flows.cli` registers them on its ``app``; ``preflight`` checks the arguments of every flow
command before Prefect is imported."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from rich.console import Console

from thermaliq.errors import ConfigError, ThermaliqError
from thermaliq.home import Home

console = Console(stderr=False, soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
HomeOpt = Annotated[Optional[Path], typer.Option(
    "--home", help="thermaliq home (default: $THERMALIQ_HOME, else ./thermaliq-home).")]


def check_dates(start: str | None, end: str | None, day: str | None) -> None:
    """Raise ``ConfigError`` for a bad date or end < start before Prefect starts (a typo fails fast)."""
    from flows.dates import parse_date, parse_range

    if start and end:
        parse_range(start, end)
    for value, name in ((start, "start"), (end, "end"), (day, "date")):
        if value:
            parse_date(value, name)


def preflight(home: Optional[Path], facility: Optional[list[str]], start: str | None = None,
               end: str | None = None, day: str | None = None) -> Home:
    """Refuse bad dates and unknown facility ids with exit 2 before Prefect is imported (< 2 s)."""
    h = Home.resolve(home)
    try:
        check_dates(start, end, day)
    except ConfigError as exc:
        err.print(f"[red]usage error[/]: {exc}")
        raise typer.Exit(2)
    if not h.facilities.is_dir():
        err.print(f"[red]no facilities directory[/] {h.facilities} (fix: create a home with "
                  f"'thermaliq init {h.root}', or give --home)")
        raise typer.Exit(2)
    known = sorted(p.stem for p in h.facilities.glob("*.yaml"))
    unknown = [f for f in facility or [] if f not in known]
    if unknown:
        err.print(f"[red]unknown facility[/] {', '.join(repr(f) for f in unknown)} in {h.facilities} "
                  f"(known: {', '.join(known) or 'none'})")
        raise typer.Exit(2)
    return h




def report_tags(h: Home, facility) -> str | None:
    """Compare the configured tags with the tags in the facility's newest files, or a historian's
    tag list (:mod:`flows.check_source`); print tags in the source that no stream uses; return the
    problem when a configured tag is not in the source."""
    from thermaliq.errors import DataError
    from thermaliq.sources.inventory import compare_tags, file_tags, source_files

    if facility.source.kind != "files":   # a historian: its tag list, as check-source reads it
        from flows.check_source import source_tag_problem

        return source_tag_problem(h, facility, console)
    files = source_files(h.root, facility.source.path)
    if not files:
        console.print(f"[yellow]note[/]  {facility.facility_id}: no file matches {facility.source.path}")
        return None
    found: set[str] = set()
    for path in files:
        try:
            found |= set(file_tags(path))
        except DataError as exc:
            console.print(f"[yellow]note[/]  {exc}")
    missing, unused = compare_tags(facility.required_tags(), found)
    if unused:
        console.print(f"[yellow]note[/]  {facility.facility_id}: tags in the files that no stream uses "
                      f"(typos?): {', '.join(unused)}")
    if missing:
        return (f"{h.facility_file(facility.facility_id)}: configured tags in none of the {len(files)} "
                f"newest file(s) of {facility.source.path}: {', '.join(missing)} (fix: correct the tag "
                "names; after a fix, re-read the files with 'thermaliq backfill --reingest')")
    return None


def check_source(facility: Annotated[str, typer.Option("--facility", "-f", help="Facility id.")],
                 home: HomeOpt = None,
                 rows: Annotated[int, typer.Option(help="Readings to show.")] = 12) -> None:
    """Check a facility's source before any run. Files: read the newest file as an ingest would,
    without storing, and show the first rows as parsed, the rejects with their reasons and what was
    detected. Historians (historian, opcua, piwebapi): connect, resolve every configured tag and
    list what is missing (exit 1 when something is missing or unreachable)."""
    from thermaliq.config import load_facility
    from thermaliq.errors import DataError
    from thermaliq.sources.inventory import source_files
    from thermaliq.sources.readers import ReadingsStream

    h = preflight(home, [facility])
    try:
        f = load_facility(h.facility_file(facility))
    except ThermaliqError as exc:
        err.print(f"[red]configuration error[/]: {exc}")
        raise typer.Exit(2)
    if f.source.kind != "files":      # a historian: connect, resolve every tag, list what is missing
        from flows.check_source import check_facility_sources

        try:
            code = check_facility_sources(h, [facility], console)
        except ConfigError as exc:
            err.print(f"[red]configuration error[/]: {exc}")
            raise typer.Exit(2)
        raise typer.Exit(code)
    files = source_files(h.root, f.source.path or "", newest=1)
    if not files:
        err.print(f"[red]no file matches[/] {f.source.path} under {h.root}")
        raise typer.Exit(2)
    try:
        stream = ReadingsStream(files[0], tz=f.timezone, format=f.source.format,
                                source=str(files[0].relative_to(h.root)), batch_rows=max(rows, 1000),
                                decimal=f.source.decimal, timestamp_format=f.source.timestamp_format)
        chunk = next(iter(stream), None)
    except DataError as exc:
        err.print(f"[red]this file would be refused[/]: {exc}")
        raise typer.Exit(1)
    console.print(f"{files[0]} ({stream.format} format), first records as parsed:")
    if chunk is not None:
        readings = chunk.readings.sort_values(["row", "tag"]).head(rows)
        readings["local time"] = readings["ts"].dt.tz_convert(f.timezone)
        console.print(readings[["row", "tag", "ts", "local time", "value", "unit"]].to_string(index=False))
        known = set(f.tag_specs())
        unknown = sorted(set(chunk.readings["tag"]) - known)
        if unknown:
            console.print(f"[yellow]tags no stream uses[/] (kept as readings; typos?): {', '.join(unknown)}")
        if len(chunk.rejects):
            console.print(f"[yellow]{len(chunk.rejects)} rejected[/] in these records, e.g.:")
            console.print(chunk.rejects[["row", "reason", "raw"]].head(5).to_string(index=False))
    for note in stream.detected:
        console.print(f"note: {note}")


def query(sql: Annotated[str, typer.Argument(help="SQL over the relations (readings, quarantine, "
                                                   "calculations, stream_energies, data_quality, alerts, runs).")],
          home: HomeOpt = None,
          csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
          limit: Annotated[int, typer.Option(help="Rows to print at most (table only).")] = 100) -> None:
    """Query the relations with SQL (DuckDB), no DuckDB CLI needed; read-only."""
    import duckdb

    from thermaliq.store import catalog

    from thermaliq.store import lake

    h = Home.resolve(home)
    lake.refresh_all(h.lake)    # a remote lake (THERMALIQ_LAKE_URL): its committed files
    if not h.lake.is_dir():
        err.print(f"[red]no results yet[/] under {h.root} (run 'thermaliq backfill' first, or give --home)")
        raise typer.Exit(2)
    con = catalog.memory_connection(h)
    try:
        frame = con.execute(sql).df()
    except duckdb.Error as exc:
        err.print(f"[red]query error[/]: {str(exc).splitlines()[0]}")
        raise typer.Exit(2)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = Table()
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*("" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row))
    console.print(table)
    if len(frame) > limit:
        console.print(f"{len(frame)} rows, first {limit} shown (--limit N, or --csv for all)")


def init(directory: Annotated[Path, typer.Argument(help="The new home directory.")],
         facility: Annotated[str, typer.Option("--facility", "-f", help="Facility id of the template.")] = "FAC-001",
         from_csv: Annotated[Optional[Path], typer.Option(
             "--from-csv", help="A readings file: streams are proposed from its tags and units.")] = None) -> None:
    """Start a new home: a commented facility file and an inbox for its readings files."""
    from thermaliq.config.model import FACILITY_ID_RE
    from thermaliq.config.template import propose_yaml, template_yaml
    from thermaliq.errors import DataError

    if not FACILITY_ID_RE.match(facility):
        err.print(f"[red]facility id {facility!r}[/] must be 1-64 of A-Z a-z 0-9 _ -")
        raise typer.Exit(2)
    h = Home.resolve(directory)
    target = h.facilities / f"{facility}.yaml"
    if target.exists():
        err.print(f"[red]{target} exists[/]: not overwritten (choose another -f or edit it)")
        raise typer.Exit(2)
    text, left = template_yaml(facility), []
    if from_csv is not None:
        from thermaliq.sources.inventory import file_tags

        try:
            text, left = propose_yaml(facility, file_tags(from_csv))
        except (DataError, OSError) as exc:
            err.print(f"[red]cannot read[/] {from_csv}: {exc}")
            raise typer.Exit(2)
    h.facilities.mkdir(parents=True, exist_ok=True)
    (h.root / "inbox" / facility).mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(f"wrote {target}\ninbox  {h.root / 'inbox' / facility}/ (drop readings files here)")
    if left:
        console.print(f"tags not placed (listed at the end of the file): {', '.join(left)}")
    console.print(f"next:  edit the file, then: thermaliq check-config --home {h.root}")
