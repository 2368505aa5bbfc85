"""Move a local lake to object storage (``thermaliq lake migrate --to s3://...``, issue #19).

Each facility's files become its first commit in the remote lake (one commit per facility, so a
reader sees a facility whole or not at all); the run records are copied as they are. The local
lake becomes the working copy of the remote one, so setting ``THERMALIQ_LAKE_URL`` afterwards
downloads nothing. A facility that already has commits in the target is refused: a migration
never mixes two lakes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thermaliq.errors import ConfigError
from thermaliq.store import lake
from thermaliq.store.objectlake import FACILITY_DATASETS, ObjectLake


@dataclass
class Migrated:
    """What a migration committed: facility -> commit number, and run files copied [count]."""

    commits: dict[str, int] = field(default_factory=dict)
    runs: int = 0


def local_facilities(local: Path) -> list[str]:
    """Facilities with files in a local lake."""
    found = set()
    for dataset in FACILITY_DATASETS:
        for folder in (local / dataset).glob("facility_id=*"):
            found.add(folder.name.removeprefix("facility_id="))
    return sorted(found)


def migrate_lake(local: Path, url: str) -> Migrated:
    """Commit every facility of the lake at ``local`` to the empty lake at ``url``.

    Raises
    ------
    ConfigError
        When ``local`` holds no lake, or a facility already has commits at ``url``.
    """
    if not local.is_dir():
        raise ConfigError(f"{local}: no lake to migrate", fix="give the --home of an installation")
    target = ObjectLake(url, local)
    facilities = local_facilities(local)
    taken = [f for f in facilities if target.commits_after(f, 0)]
    if taken:
        raise ConfigError(f"{url}: facilities {', '.join(taken)} already have commits there",
                          field="--to", fix="migrate to an empty prefix")
    out = Migrated()
    for facility_id in facilities:
        with lake.local_lock(local, facility_id, 60.0):   # no writer of this host meanwhile
            lake.rollback_pending(local, facility_id)     # a crashed write is not migrated
            out.commits[facility_id] = target.push(facility_id)
    for path in sorted((local / "runs").glob("*.parquet")):
        target.put_run(path)
        out.runs += 1
    return out
