"""Ingest: readings from a facility's source into the lake (files or historian).

One call handles one facility. Raw rows are cleaned (units, unknown tags, range, duplicates) and
merged per local day with what the lake already holds, so re-reading a file changes nothing and an
overlapping file adds only what is new. Every rejected row goes to quarantine with its reason.
Files already ingested with the same content (size and SHA-256) are skipped; a file whose size
and modification time equal the ledger's is taken as unchanged without hashing it again.
Files are read in name order; :mod:`thermaliq.pipeline.ingest_many` reads a facility's many new files
side by side in worker processes and merges them in that order, with the same lake.
"""
from __future__ import annotations

import glob as globlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from thermaliq.pipeline import edited_files, ingest_arrow
from thermaliq.store import lake
from thermaliq import periods
from thermaliq.quality import cleaning
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
    unconfigured: int = 0      # readings of tags no stream uses: kept in the lake, not rejected
    days: list[date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)   # files that could not be read at all


def _sources(home: Home, facility: Facility) -> list[tuple[Path, str]]:
    """The source files with their paths relative to the home (each path resolved once)."""
    pattern = home.inside(facility.source.path)
    out = []
    for path in sorted(Path(p) for p in globlib.glob(str(pattern), recursive=True)):
        real = path.resolve()
        if path.is_file() and home.root in real.parents:
            out.append((path, str(real.relative_to(home.root))))
    return out


def ingest_files(home: Home, facility: Facility, *, force: bool = False,
                 now: pd.Timestamp | None = None, batch_rows: int | None = None,
                 parallel: bool = True) -> IngestSummary:
    """Read new or changed files of a ``files`` source into the lake.

    Each file is streamed in chunks of ``batch_rows`` records; every chunk is cleaned and merged
    into its local-day partitions before the next is read, so memory stays bounded by one chunk
    plus one partition whatever the file size. The ledger records the files (size, SHA-256) only
    after all their chunks are stored: a run killed in the middle of a file reads it again, and
    the merges, being idempotent, give the lake of one uninterrupted run.

    Parameters
    ----------
    force : bool
        Re-read files even when the ledger says they were ingested with the same content.
    batch_rows : int, optional
        Records per chunk [rows]; default ``THERMALIQ_INGEST_BATCH_ROWS``, else 1 000 000.
    parallel : bool
        Let DuckDB's parallel CSV reader parse long CSV files where it can
        (:mod:`thermaliq.sources.bulk`); False: pyarrow's reader, one block at a time. Both
        leave the same lake, quarantine and ledger.

    Notes
    -----
    The ledger records each file's size, SHA-256 and modification time (``mtime_ns``; -1 when
    unknown: ledgers written before, or a file modified within 2 s of its hashing). A file
    whose size and ``mtime_ns`` match is skipped without hashing it; any other is hashed and
    skipped if size and SHA-256 match. A file rewritten with the same size *and* the same
    modification time is therefore not seen as changed: use ``force`` after such a copy.
    :func:`thermaliq.pipeline.ingest_many.ingest_files_parallel` reads many files in several worker
    processes at once and leaves the same lake.
    """
    summary = IngestSummary(facility.facility_id)
    files = files_to_check(home, facility, force, summary)
    return ingest_checked(home, facility, files, summary, force=force, now=now,
                          batch_rows=batch_rows, parallel=parallel)


def ingest_checked(home: Home, facility: Facility, files: list, summary: IngestSummary, *,
                   force: bool = False, now: pd.Timestamp | None = None,
                   batch_rows: int | None = None, parallel: bool = True) -> IngestSummary:
    """The part of :func:`ingest_files` after :func:`files_to_check`: hash ``files``, read the
    new or changed ones one after the other, record them in the ledger; returns ``summary``."""
    from thermaliq.sources import readers  # file parsing is only needed here

    now = now or pd.Timestamp.now(tz="UTC")
    batch_rows = batch_rows or readers.batch_rows_setting()
    new_rows, confirmed = [], {}
    for path, rel, size, mtime, before in files:
        if before is None or before.size != size:     # new or changed for sure: read while hashing
            if before is not None:
                replace_earlier_content(home, facility.facility_id, rel, summary)
            with ThreadPoolExecutor(1) as hasher:     # (hashlib releases the GIL on large blocks)
                hashing = hasher.submit(lake.file_sha256, path)
                rows, rejected = ingest_file(home, facility, path, rel, now, summary, batch_rows,
                                             parallel=parallel)
                digest, unchanged = hashing.result(), False
        else:
            digest = lake.file_sha256(path)
            unchanged = before.sha256 == digest
            if unchanged and not force:
                summary.sources_skipped += 1
                confirmed[rel] = mtime          # recorded if the ledger is written anyway
                continue
            if not unchanged:
                replace_earlier_content(home, facility.facility_id, rel, summary)
            rows, rejected = ingest_file(home, facility, path, rel, now, summary, batch_rows,
                                         parallel=parallel)
        summary.sources_read += 1
        new_rows.append(ledger_row(rel, size, mtime, digest, rows, rejected,
                                   before.ingested_at if unchanged else now))
    write_ledger_update(home, facility.facility_id, new_rows, confirmed)
    return summary


def replace_earlier_content(home: Home, facility_id: str, rel: str, summary: IngestSummary) -> None:
    """A file changed since it was ingested: remove the readings it held before, so that its new
    content replaces them (:mod:`thermaliq.pipeline.edited_files`), and say so in the run's notes."""
    removed = edited_files.forget_source(home, facility_id, rel)
    summary.notes.append(f"{rel}: changed since it was ingested; its {removed} earlier readings are "
                         "replaced by its new content")


def files_to_check(home: Home, facility: Facility, force: bool, summary: IngestSummary
                   ) -> list[tuple[Path, str, int, int, object]]:
    """The source files that must be hashed (and read unless their content is unchanged).

    Returns ``(path, path relative to the home, size [bytes], mtime [ns] or -1, ledger row or
    None)`` in name order; a file whose size and modification time equal the ledger's is left
    out and counted in ``summary.sources_skipped`` (unless ``force``).
    """
    lake.refresh(home.lake, facility.facility_id)     # a remote lake: its last commit (issue #19)
    ledger = lake.read_ledger(home.lake, facility.facility_id)
    known = {r.source: r for r in ledger.itertuples(index=False)}
    out = []
    for path, rel in _sources(home, facility):
        size, mtime = _size_and_mtime(path)
        before = known.get(rel)
        if not force and before is not None and before.size == size and before.mtime_ns == mtime >= 0:
            summary.sources_skipped += 1    # as hashed before, by size and modification time
            continue
        out.append((path, rel, size, mtime, before))
    return out


def ledger_row(rel: str, size: int, mtime: int, digest: str, rows: int, rejected: int,
               ingested_at: pd.Timestamp) -> dict:
    """The ledger's record of one file read: size [bytes], SHA-256, readings and rejects [rows]."""
    return {"source": rel, "size": size, "sha256": digest, "rows": rows, "rejected": rejected,
            "ingested_at": ingested_at, "mtime_ns": mtime}


def write_ledger_update(home: Home, facility_id: str, new_rows: list[dict],
                        confirmed: dict[str, int]) -> None:
    """Record the files read (``new_rows``, from :func:`ledger_row`) in the ledger, replacing
    their earlier rows, and the modification times of files found unchanged by their hash
    (``confirmed``: source -> mtime [ns]); nothing is written when no file was read."""
    if not new_rows:
        return
    update = pd.DataFrame(new_rows)
    update["ingested_at"] = pd.to_datetime(update["ingested_at"], utc=True).astype("datetime64[us, UTC]")
    with lake.facility_lock(home.lake, facility_id):
        ledger = lake.read_ledger(home.lake, facility_id)  # another run may have written it
        kept = ledger[~ledger["source"].isin(update["source"])].copy()
        kept["mtime_ns"] = [confirmed.get(s, m) for s, m in zip(kept["source"], kept["mtime_ns"])]
        merged = update if kept.empty else pd.concat([kept, update], ignore_index=True)
        lake.write_ledger(home.lake, facility_id, merged)


#: A file modified less than this before it is hashed may change again within the same mtime
#: tick (file systems with 1-2 s resolution): its mtime is not recorded, so it is hashed again.
RACY_MTIME_NS = 2_000_000_000


def _size_and_mtime(path: Path) -> tuple[int, int]:
    """Size [bytes] and modification time [ns since epoch] of a file; the time is -1 (never
    trusted) when the file was modified within :data:`RACY_MTIME_NS` of now."""
    st = path.stat()
    mtime = st.st_mtime_ns if st.st_mtime_ns < time.time_ns() - RACY_MTIME_NS else -1
    return st.st_size, mtime


def ingest_file(home: Home, facility: Facility, path: Path, rel: str, now: pd.Timestamp,
                summary: IngestSummary, batch_rows: int, touched: set | None = None,
                parallel: bool = True, private: bool = False) -> tuple[int, int]:
    """Stream one file into the lake chunk by chunk; return (raw readings, reader rejects) [rows].

    The readings of a chunk's last local day wait for the next chunk (at most ``batch_rows`` of
    them), so that a file written in time order stores each day once, in the fast lane
    (:mod:`thermaliq.pipeline.ingest_arrow`), instead of merging the day a chunk boundary cuts.
    ``parallel``: see :func:`ingest_files`.

    ``touched``, when given, receives every local day whose partition the file's readings were
    checked or merged against (:mod:`thermaliq.pipeline.ingest_many` relies on it).

    ``private``: the lake is this call's alone (a prepare job's scratch lake in
    :mod:`thermaliq.pipeline.ingest_many`, which nothing else reads or writes until the job has
    returned), so no facility lock is taken on it (on a new lake, creating, taking and removing
    the lock file cost ~1 ms of a day file's ~20).

    A file that cannot be read at all is quarantined as a whole (one reject, row 0, with the
    reason) and listed in ``summary.file_errors``; the other files go on. A file that breaks off
    after its first chunk (a corrupt gzip tail) keeps the chunks stored before and is
    quarantined as a whole in the same way.
    """
    from thermaliq.sources import bulk, readers

    quarantine = _Quarantine(home, facility, now, summary, flush_rows=batch_rows, private=private)
    rows = rejected = 0
    notes: list[str] = []
    unconfigured = None                      # readings per tag no stream uses [rows]
    configured = frozenset(facility.tag_specs())
    whole_file = False
    try:
        stream = readers.ReadingsStream(path, tz=facility.timezone, format=facility.source.format,
                                        source=rel, batch_rows=batch_rows,
                                        decimal=facility.source.decimal,
                                        timestamp_format=facility.source.timestamp_format,
                                        parallel=parallel)
        held = None
        # the next chunk is read while this one is stored (one chunk: nothing to overlap)
        chunks = iter(stream) if stream.one_chunk() else bulk.prefetched(stream)
        try:
            for chunk in chunks:
                rows += len(chunk)
                rejected += len(chunk.rejects)
                counts = _unconfigured_counts(chunk, configured)
                if counts is not None:
                    unconfigured = counts if unconfigured is None else \
                        unconfigured.add(counts, fill_value=0)
                chunk, held = _hold_last_day(chunk, held, facility.timezone, batch_rows)
                if len(chunk) or len(chunk.rejects):
                    _store_chunk(home, facility, chunk, now, summary, quarantine, touched, private)
        finally:   # a file that breaks off keeps the readings read before, held ones included
            if held is not None:
                _store_chunk(home, facility, held, now, summary, quarantine, touched, private)
        if unconfigured is not None:
            summary.unconfigured += int(unconfigured.sum())
            notes = stream.notes + unconfigured_note(rel, unconfigured)
        else:
            notes = stream.notes
    except DataError as exc:   # the whole file is unusable: keep why, go on with the others
        summary.file_errors.append(str(exc))
        whole_file = True
        failed = _whole_file_reject(rel, exc)
        quarantine.add(_with_time(failed.rejects, now))
        notes = failed.notes if not rows else [f"{rel}: {exc.message} (after {rows} readings "
                                                  "stored from the rows before)"]
        rejected += 1
    summary.notes.extend(notes)
    quarantine.flush()
    mostly = None if whole_file else mostly_rejected(rel, rows + rejected, quarantine.reasons)
    if mostly:
        summary.file_errors.append(mostly)
    return rows, rejected


def _hold_last_day(chunk, held, tz: str, limit: int):
    """``(chunk to store now, readings to hold for the next chunk)``: the held readings of the
    chunk before join this chunk's, and the readings of this chunk's last local day are held
    back, unless the held readings would exceed ``limit`` [rows] (memory stays bounded)."""
    from thermaliq.sources import readers

    if chunk.table is None:
        return chunk, held
    if held is None and (chunk.table.num_rows == 0 or chunk.last):
        return chunk, None          # as it is (its tag index, if built, is kept)
    table = chunk.table if held is None else pa.concat_tables([held.table, chunk.table])
    if table.num_rows == 0 or chunk.last:
        return readers.ReadResult(None, chunk.rejects, table=table), None
    ts = table["ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    last = pd.Timestamp(int(ts.max()), tz="UTC").tz_convert(tz)
    start = pd.Timestamp(last.date()).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    later = ts >= start.value
    first = int(np.argmax(later))
    if later[first:].all():       # a file in time order: the last day is the chunk's tail
        now, keep = table.slice(0, first), table.slice(first)
    else:
        now, keep = table.filter(pa.array(~later)), table.filter(pa.array(later))
    if keep.num_rows > limit:
        return readers.ReadResult(None, chunk.rejects, table=table), None
    return (readers.ReadResult(None, chunk.rejects, table=now),
            readers.ReadResult(None, readers.empty_rejects(), table=keep))


def _unconfigured_counts(chunk, configured: frozenset[str]) -> pd.Series | None:
    """Readings per tag of a chunk whose tag no stream uses; None when there are none (an Arrow
    chunk stays Arrow unless it holds such tags)."""
    if chunk.table is not None:
        distinct, _ = chunk.tag_index()     # hashed once: the fast lane takes the codes too
        if all(t is None or t in configured for t in distinct):
            return None
    tags = chunk.readings["tag"].dropna()
    counts = tags[~tags.isin(configured)].value_counts()
    return counts if len(counts) else None


def unconfigured_note(rel: str, per_tag: pd.Series) -> list[str]:
    """One note per file for the readings of tags no stream uses (kept in the lake)."""
    if per_tag.empty:
        return []
    names = sorted(str(t) for t in per_tag.index)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return [f"{rel}: {int(per_tag.sum())} readings of {len(names)} tag(s) no stream uses were kept "
            f"({shown}); a stream added later that uses them needs `thermaliq recalculate`, "
            "not a new ingest"]


#: What to do when most of a file is rejected for one reason (see :func:`mostly_rejected`).
REJECT_FIXES = {
    "unparseable timestamp": "set source.timestamp_format, e.g. '%d.%m.%Y %H:%M', then re-read the "
                             "file with 'thermaliq backfill --reingest'",
    "non-numeric value": "numbers with a decimal comma? set source.decimal: ',' and re-read the file "
                         "with 'thermaliq backfill --reingest'",
}


def mostly_rejected(rel: str, records: int, reasons: dict[str, int]) -> str | None:
    """The failure message of a file of which more than half of ``records`` were rejected for one
    reason, else None. Such a file almost always means a setup mistake (tag names, number or date
    format), not bad meters: the run fails loudly instead of reporting empty days.

    Parameters
    ----------
    rel : str
        The file, relative to the home.
    records : int
        Readings the file held (stored or rejected) [rows].
    reasons : dict
        Rejected rows per reason [rows].
    """
    if not reasons or records <= 0:
        return None
    reason, count = max(reasons.items(), key=lambda kv: kv[1])
    if count * 2 <= records:
        return None
    fix = REJECT_FIXES.get(reason, "see the quarantine relation for the rows and their raw text")
    return (f"{rel}: {count} of {records} readings ({100 * count / records:.0f} %) rejected as "
            f"'{reason}' (fix: {fix})")


class _Quarantine:
    """Rejects of one file, written to the quarantine when ``flush_rows`` of them are buffered
    and at the end of the file (few rejects: one quarantine file per source file, as before)."""

    def __init__(self, home: Home, facility: Facility, now: pd.Timestamp, summary: IngestSummary,
                 flush_rows: int, private: bool = False):
        self.home, self.facility, self.now, self.summary = home, facility, now, summary
        self.private = private             # the lake is the caller's alone: no lock (ingest_file)
        self.flush_rows, self.parts, self.rows = flush_rows, [], 0
        self.reasons: dict[str, int] = {}   # rejected rows of the file per reason

    def add(self, rejects: pd.DataFrame) -> None:
        if not rejects.empty:
            self.parts.append(rejects)
            self.rows += len(rejects)
            for reason, n in rejects["reason"].value_counts().items():
                self.reasons[str(reason)] = self.reasons.get(str(reason), 0) + int(n)
        if self.rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        rejects = pd.concat(self.parts, ignore_index=True)
        with lake.write_lock(self.home.lake, self.facility.facility_id, private=self.private):
            lake.write_quarantine(self.home.lake, self.facility.facility_id, rejects)
        self.summary.rejected += len(rejects)
        self.parts, self.rows = [], 0


def _store_chunk(home: Home, facility: Facility, result, now: pd.Timestamp, summary: IngestSummary,
                 quarantine: _Quarantine, touched: set | None = None, private: bool = False) -> None:
    """Clean one chunk of raw readings and merge it into its local days; buffer its rejects.

    A chunk that cleaning would leave as it is, of days the lake does not hold yet, is written
    straight from its Arrow form (:func:`thermaliq.pipeline.ingest_arrow.store_new_days`, same files).
    """
    if result.table is not None and ingest_arrow.store_new_days(home.lake, facility, result.table,
                                                               now, summary, touched,
                                                               result.tag_index, private):
        summary.readings_read += len(result)
        quarantine.add(_with_time(result.rejects, now))
        return
    raw = lake.utc_ns_columns(result.readings)
    summary.readings_read += len(raw)
    raw, implausible = cleaning.implausible_times(raw, now)   # 1970 clocks, year-2099 typos
    rejects = [_with_time(result.rejects, now), _with_time(implausible, now)]
    with lake.write_lock(home.lake, facility.facility_id, private=private):
        rejects += _merge_days(home, facility, raw, now, summary, touched)
    for r in rejects:
        quarantine.add(r)


def _whole_file_reject(source: str, exc: DataError):
    """A read result that holds no readings and one reject (row 0) saying why the file failed."""
    from thermaliq.sources import readers

    rejects = pd.DataFrame({"source": [source], "row": [0], "reason": [exc.message],
                            "raw": [None]})
    return readers.ReadResult(readers.empty_raw_readings(), rejects, [f"{source}: {exc.message}"])


def ingest_historian(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp, *,
                     now: pd.Timestamp | None = None, token: str | None = None,
                     **fetch_options) -> IngestSummary:
    """Fetch ``[start, end)`` from the facility's historian into the lake.

    ``token`` is the bearer token when the caller resolved it (a Prefect Secret block named by
    ``source.token_block``); otherwise it comes from the variable named by ``source.token_env``.
    """
    from thermaliq.sources import historian

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
    raw = lake.utc_ns_columns(result.readings)
    summary.readings_read += len(raw)
    summary.notes.extend(result.notes)
    raw, implausible = cleaning.implausible_times(raw, now)   # 1970 clocks, year-2099 typos
    rejects = [_with_time(result.rejects, now), _with_time(implausible, now)]
    stored_before = summary.readings_stored
    with lake.facility_lock(home.lake, facility.facility_id):
        rejects += _merge_days(home, facility, raw, now, summary)
        all_rejects = pd.concat([r for r in rejects if not r.empty], ignore_index=True) \
            if any(not r.empty for r in rejects) else pd.DataFrame()
        lake.write_quarantine(home.lake, facility.facility_id, all_rejects)
    summary.rejected += len(all_rejects)
    return summary.readings_stored - stored_before, len(all_rejects)


def _merge_days(home: Home, facility: Facility, raw: pd.DataFrame, now: pd.Timestamp,
                summary: IngestSummary, touched: set | None = None) -> list[pd.DataFrame]:
    """Merge raw readings into their local-day partitions (caller holds the facility lock).

    Each day's stored readings and the new ones are cleaned together, so duplicates and conflicts
    with what the lake holds are resolved by the one rule; a day whose result equals what is
    stored is not rewritten. Returns the cleaning rejects (with ``ingested_at``).
    """
    rejects = []
    if raw.empty:
        return rejects
    local_day = periods.local_dates(raw["ts"], facility.timezone)
    for day, part in raw.groupby(local_day, sort=True):
        if touched is not None:
            touched.add(day)
        stored = lake.read_readings_table(home.lake, facility.facility_id, day)
        existing = lake.utc_ns_columns(stored.to_pandas()) if stored is not None else None
        merged = part if existing is None else pd.concat([existing, part], ignore_index=True)
        clean = cleaning.clean_readings(merged, facility)
        rejects.append(_with_time(clean.rejects, now))   # carry tag and ts already
        table = lake.readings_table(clean.readings)
        if (table.num_rows if stored is None else not table.equals(stored)):
            lake.write_readings_day(home.lake, facility.facility_id, day, table)
            if day not in summary.days:
                summary.days.append(day)
        summary.readings_stored += max(len(clean.readings) - (0 if stored is None else len(stored)), 0)
    return rejects


def _with_time(rejects: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    if rejects.empty:
        return rejects
    out = rejects.copy()
    out["ingested_at"] = now
    return out
