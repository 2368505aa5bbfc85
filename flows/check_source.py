"""``thermaliq check-source -f ID`` for historian sources: print what :func:`thermaliq.sources.check.check_source` finds."""
from __future__ import annotations

from rich.console import Console

from tasks.ingest import block_secret
from thermaliq.config import load_facility
from thermaliq.home import Home
from thermaliq.sources.check import check_source
from thermaliq.sources.credentials import source_credentials


def check_facility_sources(home: Home, facility_ids: list[str], console: Console) -> int:
    """Check each facility's source; print found and missing tags. Returns the exit code:
    0 all found, 1 a tag missing or a source unreachable (configuration errors raise)."""
    code = 0
    for fid in facility_ids:
        facility = load_facility(home.facility_file(fid))
        credentials = source_credentials(facility.source, block_secret(facility))
        result = check_source(home, facility, credentials)
        console.print(f"[bold]{fid}[/] {result.kind} {result.target}")
        if result.error:
            console.print(f"  [red]unreachable[/] {result.error}")
            code = 1
            continue
        for tag, where in result.found:
            console.print(f"  [green]found[/]   {tag} -> {where}")
        for tag, why in result.missing:
            console.print(f"  [red]missing[/] {tag}: {why}")
        console.print(f"  {len(result.found)} found, {len(result.missing)} missing")
        code = code or (1 if result.missing else 0)
    return code
