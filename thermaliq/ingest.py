"""Ingest: readings from a facility's source into the lake (files or historian).

One call handles one facility. Raw rows are cleaned (units, unknown tags, range, duplicates) and
merged per local day with what the lake already holds, so re-reading a file changes nothing and an
overlapping file adds only what is new. Every rejected row goes to quarantine with its reason.
Files already ingested with the same content (size and SHA-256) are skipped.
"""
from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from thermaliq import lake, periods, quality
from thermaliq.config import Facility
from thermaliq.errors import DataError
from thermaliq.home import Home


@dataclass
class IngestSummary:
    """What one ingest stored (counts are rows)."""

    facility_id: str
    sources_read: int = 0
    sources_skipped: int = 0
    readings_read: int = 0
    readings_stored: int = 0
    rejected: int = 0
    days: list[date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)   # files that could not be read at all


def source_files(home: Home, facility: Facility) -> list[Path]:
    """The files matching the facility's ``source.path`` glob (inside the home only)."""
    pattern = home.inside(facility.source.path)
    files = sorted(Path(p) for p in globlib.glob(str(pattern), recursive=True))
    return [p for p in files if p.is_file() and home.root in p.resolve().parents]


def _relative(home: Home, path: Path) -> str:
    return str(path.resolve().relative_to(home.root))


def ingest_files(home: Home, facility: Facility, *, force: bool = False,
                 now: pd.Timestamp | None = None) -> IngestSummary:
    """Read new or changed files of a ``files`` source into the lake.

    Parameters
    ----------
    force : bool
        Re-read files even when the ledger says they were ingested with the same content.
    """
    from thermaliq import readers  # file parsing is only needed here

    now = now or pd.Timestamp.now(tz="UTC")
    summary = IngestSummary(facility.facility_id)
    ledger = lake.read_ledger(home.lake, facility.facility_id)
    known = {r.source: r for r in ledger.itertuples(index=False)}
    new_rows = []
    for path in source_files(home, facility):
        rel = _relative(home, path)
        size = path.stat().st_size
        digest = lake.file_sha256(path)
        before = known.get(rel)
        unchanged = before is not None and before.size == size and before.sha256 == digest
        if unchanged and not force:
            summary.sources_skipped += 1
            continue
        try:
            result = readers.read_readings_file(path, tz=facility.timezone,
                                                format=facility.source.format, source=rel)
        except DataError as exc:   # the whole file is unusable: keep why, go on with the others
            summary.file_errors.append(str(exc))
            result = _whole_file_reject(rel, exc)
        stored, rejected = store_raw(home, facility, result, now, summary)
        summary.sources_read += 1
        new_rows.append({"source": rel, "size": size, "sha256": digest, "rows": len(result.readings),
                         "rejected": len(result.rejects),
                         "ingested_at": before.ingested_at if unchanged else now})
    if new_rows:
        update = pd.DataFrame(new_rows)
        update["ingested_at"] = pd.to_datetime(update["ingested_at"], utc=True).astype("datetime64[us, UTC]")
        with lake.facility_lock(home.lake, facility.facility_id):
            ledger = lake.read_ledger(home.lake, facility.facility_id)  # another run may have written it
            kept = ledger[~ledger["source"].isin(update["source"])]
            merged = update if kept.empty else pd.concat([kept, update], ignore_index=True)
            lake.write_ledger(home.lake, facility.facility_id, merged)
    return summary


def _whole_file_reject(source: str, exc: DataError):
    """A read result that holds no readings and one reject (row 0) saying why the file failed."""
    from thermaliq import readers

    rejects = pd.DataFrame({"source": [source], "row": [0], "reason": [exc.message],
                            "raw": [None]})
    return readers.ReadResult(readers.empty_readings(), rejects, [f"{source}: {exc.message}"])


def ingest_historian(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp, *,
                     now: pd.Timestamp | None = None, token: str | None = None,
                     **fetch_options) -> IngestSummary:
    """Fetch ``[start, end)`` from the facility's historian into the lake.

    ``token`` is the bearer token when the caller resolved it (a Prefect Secret block named by
    ``source.token_block``); otherwise it comes from the variable named by ``source.token_env``.
    """
    from thermaliq import historian

    now = now or pd.Timestamp.now(tz="UTC")
    src = facility.source
    if token is None and src.token_env:
        token = historian.token_from_env(src.token_env)
    result = historian.fetch_readings(src.url, facility.facility_id, list(facility.tag_specs()),
                                      start, end, token=token, timeout_s=src.timeout_s,
                                      batch_tags=src.batch_tags, **fetch_options)
    summary = IngestSummary(facility.facility_id, sources_read=1)
    store_raw(home, facility, result, now, summary)
    return summary


def store_raw(home: Home, facility: Facility, result, now: pd.Timestamp,
              summary: IngestSummary) -> tuple[int, int]:
    """Clean raw readings and merge them, per local day, into the lake; quarantine rejects.

    Returns (rows newly stored, rows rejected).
    """
    raw = lake.utc_ns(result.readings)
    summary.readings_read += len(raw)
    summary.notes.extend(result.notes)
    raw, implausible = quality.implausible_times(raw, now)   # 1970 clocks, year-2099 typos
    rejects = [_with_time(result.rejects, now), _with_time(implausible, now)]
    stored = 0
    with lake.facility_lock(home.lake, facility.facility_id):
        if not raw.empty:
            local_day = periods.local_dates(raw["ts"], facility.timezone)
            for day, part in raw.groupby(local_day, sort=True):
                existing = lake.read_readings_days(home.lake, facility.facility_id, [day])
                merged = part if existing.empty else pd.concat([existing, part], ignore_index=True)
                clean = quality.clean_readings(merged, facility)
                rejects.append(_with_time(clean.rejects, now))   # carry tag and ts already
                before = len(existing)
                if not _same_readings(existing, clean.readings):
                    lake.write_readings_day(home.lake, facility.facility_id, day, clean.readings)
                    if day not in summary.days:
                        summary.days.append(day)
                stored += max(len(clean.readings) - before, 0)
        all_rejects = pd.concat([r for r in rejects if not r.empty], ignore_index=True) \
            if any(not r.empty for r in rejects) else pd.DataFrame()
        lake.write_quarantine(home.lake, facility.facility_id, all_rejects)
    summary.readings_stored += stored
    summary.rejected += len(all_rejects)
    return stored, len(all_rejects)


def _with_time(rejects: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    if rejects.empty:
        return rejects
    out = rejects.copy()
    out["ingested_at"] = now
    return out


def _same_readings(existing: pd.DataFrame, clean: pd.DataFrame) -> bool:
    if len(existing) != len(clean):
        return False
    if existing.empty:
        return True
    a = lake.normalise_readings(existing)
    b = lake.normalise_readings(clean)
    return a.equals(b)
