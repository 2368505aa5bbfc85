"""``thermaliq lake ...``: operations on the lake itself (issue #19)."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from flows.cli_start import HomeOpt
from thermaliq.errors import ThermaliqError
from thermaliq.home import Home

lake_app = typer.Typer(name="lake", no_args_is_help=True, help="Operations on the lake.")
console = Console(stderr=False, soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@lake_app.command()
def migrate(to: Annotated[str, typer.Option("--to", help="fsspec URL of the new lake, e.g. "
                                            "s3://bucket/prefix (credentials: AWS_* variables).")],
            home: HomeOpt = None) -> None:
    """Move the home's local lake to object storage: each facility becomes one commit there.

    Stop every run of the home first; afterwards set THERMALIQ_LAKE_URL to the same URL."""
    from thermaliq.store.migrate import migrate_lake

    h = Home.resolve(home)
    try:
        done = migrate_lake(h.lake, to)
    except ThermaliqError as exc:
        err.print(f"[red]lake migrate[/]: {exc}")
        raise typer.Exit(2)
    for facility_id, seq in done.commits.items():
        console.print(f"{facility_id}: commit {seq}")
    console.print(f"{len(done.commits)} facilities and {done.runs} run records moved to {to}; "
                  f"now export THERMALIQ_LAKE_URL={to}")
