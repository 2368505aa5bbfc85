"""``thermaliq check-source -f ID`` and ``thermaliq check-config`` for historian sources: print what
:func:`thermaliq.sources.check.check_source` finds."""
from __future__ import annotations

from rich.console import Console

from tasks.ingest import block_secret
from thermaliq.config import load_facility
from thermaliq.errors import ConfigError
from thermaliq.home import Home
from thermaliq.sources.check import SourceCheck, check_source
from thermaliq.sources.credentials import source_credentials


def _checked(home: Home, facility) -> SourceCheck:
    credentials = source_credentials(facility.source, block_secret(facility))
    return check_source(home, facility, credentials)


def _print_unused(result: SourceCheck, console: Console) -> None:
    if result.unused:
        console.print(f"[yellow]note[/]  {result.facility_id}: tags in the {result.kind} source that no "
                      f"stream uses (typos?): {', '.join(result.unused)}")
    elif result.listing:
        console.print(f"      {result.facility_id}: {result.listing}")


def check_facility_sources(home: Home, facility_ids: list[str], console: Console) -> int:
    """Check each facility's source; print found and missing tags and the source's tags no stream
    uses. Returns the exit code: 0 all found, 1 a tag missing or a source unreachable
    (configuration errors raise)."""
    code = 0
    for fid in facility_ids:
        result = _checked(home, load_facility(home.facility_file(fid)))
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
        _print_unused(result, console)
        code = code or (1 if result.missing else 0)
    return code


def source_tag_problem(home: Home, facility, console: Console) -> str | None:
    """``check-config`` for a historian source: print the source's tags that no stream uses and
    return the problem (configured tags the source does not have, or the source unreachable),
    None when every configured tag is there."""
    try:
        result = _checked(home, facility)
    except ConfigError as exc:     # e.g. a credentials variable that is not set
        return f"{home.facility_file(facility.facility_id)}: {exc}"
    where = f"{home.facility_file(facility.facility_id)}: {result.kind} source {result.target}"
    if result.error:
        return f"{where} could not be checked: {result.error} (fix: the endpoint or url and the credentials)"
    _print_unused(result, console)
    if result.missing:
        tags = ", ".join(f"{tag} ({why})" if why else tag for tag, why in result.missing)
        return (f"{where}: configured tags not found: {tags} (fix: correct the tag names or "
                "source.nodes; 'thermaliq check-source -f " + facility.facility_id + "' lists them)")
    return None
