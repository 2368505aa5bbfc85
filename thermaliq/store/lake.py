"""The Parquet lake: the source of truth of an installation (DESIGN §2).

Layout under ``<home>/lake`` (internal; users read it through the DuckDB relations)::

    readings/facility_id=F/date=YYYY-MM-DD/part-0.parquet      validated readings of one local day
    quarantine/facility_id=F/<key>.parquet                     rejected rows of one ingest batch
    ingested/facility_id=F/ledger.parquet                      files already ingested (size, hash, mtime)
    stream_energies/facility_id=F/month=YYYY-MM/<ver>.parquet  per-stream energies, one file per write
    calculations/facility_id=F/month=YYYY-MM/<ver>.parquet     period results, one file per write
    data_quality/facility_id=F/month=YYYY-MM/<ver>.parquet     per tag and day quality, one file per write
    alerts/facility_id=F/month=YYYY-MM/<ver>.parquet           alerts, one file per write
    runs/<run_id>.parquet                                      one row per flow run
    _pending/facility_id=F/<ver>                               marker of a result write in progress
    _locks/F.lock                                              the facility's write lock
    _scratch/ingest-F-<id>/                                    files read ahead by an ingest (moved in, then removed)
    _scratch/windows/<run>/                                    windows computed, waiting for their store job

Every write goes to a hidden temporary file in the target directory and is renamed into place, so
a crash never leaves a half-written partition. Result files are never rewritten: a recalculation
adds a file with a higher version, and the catalog marks the newest version of each period current.
All writes of one facility hold that facility's file lock, so two runs never interleave.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from thermaliq.store import leases, objectlake
from thermaliq.store.atomic import atomic_path
from thermaliq.errors import ThermaliqError
from thermaliq.store.testhooks import crash_point
from thermaliq.settings import load_settings

DATASETS = ("readings", "quarantine", "ingested", "stream_energies", "calculations",
            "data_quality", "alerts", "runs", "uncertainty_budget", "emissions", "baselines",
            "baseline_results")
#: Seconds a writer waits for another run holding the same facility before giving up.
LOCK_TIMEOUT_S = load_settings().lock_timeout_s


class LockTimeout(TimeoutError, ThermaliqError):
    """Another run kept a facility's lock longer than ``LOCK_TIMEOUT_S``."""


def write_parquet_atomic(df: pd.DataFrame | pa.Table, path: Path) -> Path:
    """Write ``df`` (a frame, or an Arrow table in its stored types) to ``path`` through a
    temporary file and an atomic rename.

    The output is deterministic for the same frame (no timestamps in the file), so writing the same
    data twice gives byte-identical files.
    """
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(None)
    with atomic_path(path, "lake.write") as tmp:
        write_table(table, tmp)
    return path


def write_table(table: pa.Table, path: Path) -> None:
    """Write a lake file: zstd, dictionary encoding for text columns only (tags, units, ids
    repeat; numbers and instants rarely do, and trying a dictionary on them cost a third of the
    write and made the file bigger)."""
    text = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    pq.write_table(table, path, compression="zstd", use_dictionary=text)


def read_parquet(path: Path) -> pd.DataFrame:
    """Read one Parquet file into pandas, timestamps as ``datetime64[ns, UTC]``."""
    return utc_ns_columns(pq.read_table(path).to_pandas())


def utc_ns_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Give every tz-aware column the same dtype, ``datetime64[ns, UTC]``.

    pandas concatenates tz-aware columns of different units or UTC objects to ``object``;
    one dtype everywhere keeps concatenation and comparison cheap and exact.
    """
    for col, dtype in df.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            df[col] = df[col].astype("datetime64[ns, UTC]")     # astype converts to UTC
    return df


def remove_stale_temporaries(lake: Path) -> int:
    """Delete temporary files left by a crashed writer below ``lake``; return how many were removed.

    Only call it where no live writer can be at work (e.g. a facility's folders under its lock).
    """
    removed = 0
    folders = [str(lake)] if lake.is_dir() else []
    while folders:      # os.scandir: a third of Path.rglob's time on a year of day partitions
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    return removed


def write_lock(lake: Path, facility_id: str, *, private: bool = False):
    """:func:`facility_lock`, or no lock for a lake private to its caller (a prepare job's scratch
    lake of :mod:`thermaliq.pipeline.ingest_many`, which nothing else reads or writes until the
    job has returned)."""
    return contextlib.nullcontext() if private else facility_lock(lake, facility_id)


@contextmanager
def facility_lock(lake: Path, facility_id: str, timeout_s: float | None = None):
    """Hold the write lock of one facility (a file lock, valid across processes).

    With the lake on object storage (``THERMALIQ_LAKE_URL``) the hold is also the facility's
    transaction (:mod:`thermaliq.store.objectlake`): the cross-host lease is taken
    (:mod:`thermaliq.store.leases`), the working copy brought to the last commit, and everything
    written inside committed as one commit on a clean exit (undone after an exception).
    """
    wait = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    with local_lock(lake, facility_id, wait):
        remote = objectlake.for_lake(lake)
        if remote is None:
            yield
            return
        with _lease(facility_id, wait):
            remote.pull(facility_id)
            try:
                yield
                remote.push(facility_id)
            except BaseException:
                remote.pull(facility_id)      # undo the uncommitted write in the working copy
                raise


@contextmanager
def local_lock(lake: Path, facility_id: str, wait: float):
    """The facility's file lock alone (the processes of this host), whether the lake is remote
    or not; ``wait`` [s] before :class:`LockTimeout`."""
    locks = lake / "_locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(locks / f"{facility_id}.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise LockTimeout(f"facility {facility_id}: another run has held its write lock for more "
                          f"than {wait:.0f} s; try again when it has finished") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _lease(facility_id: str, wait: float):
    settings = load_settings()
    if settings.lake_lock == "none":
        yield
        return
    with leases.facility_lease(facility_id, wait, settings.lake_lease_s):
        yield


def refresh(lake: Path, facility_id: str) -> None:
    """Bring the working copy of a facility to its last commit when the lake is remote (a reader
    that holds no lock calls it first); nothing for a local lake."""
    remote = objectlake.for_lake(lake)
    if remote is not None:
        with local_lock(lake, facility_id, LOCK_TIMEOUT_S):
            remote.pull(facility_id)


def refresh_all(lake: Path) -> list[str]:
    """Bring the whole working copy (every facility and the runs) to the last commits when the
    lake is remote; return the facilities refreshed (none for a local lake)."""
    remote = objectlake.for_lake(lake)
    if remote is None:
        return []
    facilities = remote.facilities()
    for facility_id in facilities:
        refresh(lake, facility_id)
    remote.pull_runs()
    return facilities


# --- readings -----------------------------------------------------------------------------------

def readings_partition(lake: Path, facility_id: str, day: date) -> Path:
    return lake / "readings" / f"facility_id={facility_id}" / f"date={day.isoformat()}" / "part-0.parquet"


def readings_days(lake: Path, facility_id: str) -> list[date]:
    """The local days with a stored readings partition of a facility, in order."""
    return sorted(date.fromisoformat(p.parent.name.removeprefix("date=")) for p in
                  (lake / "readings" / f"facility_id={facility_id}").glob("date=*/part-0.parquet"))


def remove_readings_day(lake: Path, facility_id: str, day: date) -> None:
    """Remove one local day's readings partition (the caller holds the facility lock)."""
    path = readings_partition(lake, facility_id, day)
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:            # not empty (a temporary file of another writer) or already gone
        pass


def data_days(lake: Path, facility_id: str) -> tuple[date, date] | None:
    """First and last local day with stored readings of a facility, None when it has none."""
    days = readings_days(lake, facility_id)
    return (days[0], days[-1]) if days else None


def stored_tags(lake: Path, facility_id: str, first: date, last: date) -> set[str]:
    """The tags of a facility's stored readings on local days ``first`` .. ``last`` (reads only
    the ``tag`` column of each day's partition)."""
    tags: set[str] = set()
    for part in (lake / "readings" / f"facility_id={facility_id}").glob("date=*/part-0.parquet"):
        if first.isoformat() <= part.parent.name.removeprefix("date=") <= last.isoformat():
            column = pq.read_table(part, columns=["tag"])["tag"]
            tags |= {t for t in pc.unique(column).to_pylist() if t is not None}
    return tags


def last_reading(lake: Path, facility_id: str, day: date) -> pd.Timestamp | None:
    """The latest instant of the stored readings of one local day (UTC), None without any."""
    path = readings_partition(lake, facility_id, day)
    if not path.exists():
        return None
    ts = pq.read_table(path, columns=["ts"])["ts"]
    latest = pc.max(ts).as_py() if len(ts) else None
    return None if latest is None else pd.Timestamp(latest).tz_convert("UTC") \
        if pd.Timestamp(latest).tzinfo else pd.Timestamp(latest, tz="UTC")


def read_readings_days(lake: Path, facility_id: str, days: list[date]) -> pd.DataFrame:
    """Stored readings of the given local days (missing days contribute nothing)."""
    frames = [read_parquet(p) for d in days if (p := readings_partition(lake, facility_id, d)).exists()]
    if not frames:
        return empty_stored_readings()
    return pd.concat(frames, ignore_index=True)


READINGS_COLUMNS = {"tag": "str", "ts": "datetime64[us, UTC]", "value": "float64", "unit": "str",
                    "quality": "str", "source": "str", "row": "int64"}


def empty_stored_readings() -> pd.DataFrame:
    """An empty frame of stored readings (columns and dtypes of ``READINGS_COLUMNS``)."""
    return pd.DataFrame({c: pd.Series(dtype=t if t != "str" else "object")
                         for c, t in READINGS_COLUMNS.items()})


def readings_table(df: pd.DataFrame) -> pa.Table:
    """The stored Arrow form of readings: columns ``READINGS_COLUMNS`` in that order, ``ts`` in
    microseconds UTC, sorted by tag, ts, source, row (missing values last); a text column with no
    value at all is of Arrow type ``null``. Built without pandas object columns."""
    cols = {}
    for col in ("tag", "unit", "quality", "source"):
        if col in df:
            arr = pa.array(df[col].to_numpy(dtype=object), from_pandas=True, type=pa.string())
        else:
            arr = pa.nulls(len(df), pa.string())
        cols[col] = arr if arr.null_count < len(arr) else pa.nulls(len(arr))
    ts = pd.to_datetime(df["ts"], utc=True).astype("datetime64[us, UTC]")
    cols["ts"] = pa.array(ts.array.asi8, type=pa.int64()).view(pa.timestamp("us", tz="UTC"))
    cols["value"] = pa.array(df["value"].to_numpy(dtype="float64"), from_pandas=True)
    cols["row"] = pa.array(df["row"].to_numpy(dtype="int64"))
    if ts.isna().any():   # keep NaT as null (never in cleaned readings, but keep the contract)
        cols["ts"] = pa.array(ts, type=pa.timestamp("us", tz="UTC"))
    table = pa.table({c: cols[c] for c in READINGS_COLUMNS})
    order = pc.sort_indices(table, sort_keys=[(c, "ascending", "at_end")
                                              for c in ("tag", "ts", "source", "row")])
    return table.take(order)


def read_readings_table(lake: Path, facility_id: str, day: date) -> pa.Table | None:
    """One local day's stored readings as written (Arrow), None when the day has none."""
    path = readings_partition(lake, facility_id, day)
    return pq.read_table(path) if path.exists() else None


def write_readings_day(lake: Path, facility_id: str, day: date, df: pd.DataFrame | pa.Table) -> Path:
    """Replace one local day's readings partition with ``df`` (already merged and cleaned);
    an Arrow table is taken as :func:`readings_table` made it."""
    table = df if isinstance(df, pa.Table) else readings_table(df)
    path = readings_partition(lake, facility_id, day)
    with atomic_path(path, "lake.write") as tmp:
        write_table(table.replace_schema_metadata(None), tmp)
    return path


def remove_folder(folder: Path) -> None:
    """Remove a scratch folder (``lake/_scratch/…``) and everything in it; one already gone is
    fine, any other error is raised."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass


def move_into_place(prepared: Path, path: Path) -> Path:
    """Put a complete file written and flushed elsewhere on the same file system (a scratch
    lake of :mod:`thermaliq.pipeline.ingest_many`) at ``path`` by one rename, as the last step of
    :func:`thermaliq.store.atomic.atomic_path` does (same crash point, ``lake.write``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    crash_point("lake.write")
    os.replace(prepared, path)
    return path


# --- quarantine and ingest ledger ---------------------------------------------------------------

def write_quarantine(lake: Path, facility_id: str, rejects: pd.DataFrame) -> Path | None:
    """Keep rejected rows with their reasons; the same rows rejected again are stored once.

    The file name is a hash of the rows' identity (source, row, reason), so re-ingesting the same
    file rewrites the same file with the same content instead of adding a copy.
    """
    if rejects.empty:
        return None
    cols = ["facility_id", "source", "row", "reason", "raw", "tag", "ts", "ingested_at"]
    df = rejects.copy()
    df["facility_id"] = facility_id
    for col in cols:
        if col not in df:
            df[col] = None
    # a wide file's row holds many readings: the tag is part of a reject's identity
    df = df[cols].drop_duplicates(subset=["source", "row", "reason", "tag"])
    df = df.sort_values(["source", "row", "reason", "tag"], kind="mergesort").reset_index(drop=True)
    df["row"] = df["row"].astype("int64")
    df["ts"] = pd.to_datetime(df["ts"], utc=True).astype("datetime64[us, UTC]")
    df["ingested_at"] = pd.to_datetime(df["ingested_at"], utc=True).astype("datetime64[us, UTC]")
    for col in ("source", "reason", "raw", "tag", "facility_id"):
        df[col] = df[col].astype("string").astype(object)
    key_text = "\n".join(f"{s}\x1f{r}\x1f{why}" for s, r, why in
                         zip(df["source"], df["row"], df["reason"], strict=True))
    key = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    path = lake / "quarantine" / f"facility_id={facility_id}" / f"{key}.parquet"
    if path.exists():
        return path  # identical rejects already kept (first ingested_at stays)
    return write_parquet_atomic(df, path)


def ledger_path(lake: Path, facility_id: str) -> Path:
    return lake / "ingested" / f"facility_id={facility_id}" / "ledger.parquet"


def read_ledger(lake: Path, facility_id: str) -> pd.DataFrame:
    """Files already ingested: ``source, size, sha256, rows, rejected, ingested_at, mtime_ns``
    (``mtime_ns`` [ns since epoch] is -1 where unknown, e.g. in ledgers written before it)."""
    path = ledger_path(lake, facility_id)
    if not path.exists():
        return pd.DataFrame({"source": pd.Series(dtype=object), "size": pd.Series(dtype="int64"),
                             "sha256": pd.Series(dtype=object), "rows": pd.Series(dtype="int64"),
                             "rejected": pd.Series(dtype="int64"),
                             "ingested_at": pd.Series(dtype="datetime64[us, UTC]"),
                             "mtime_ns": pd.Series(dtype="int64")})
    ledger = read_parquet(path)
    if "mtime_ns" not in ledger:
        ledger["mtime_ns"] = np.int64(-1)
    return ledger


def write_ledger(lake: Path, facility_id: str, ledger: pd.DataFrame) -> Path:
    ledger = ledger.sort_values("source", kind="mergesort").reset_index(drop=True)
    return write_parquet_atomic(ledger, ledger_path(lake, facility_id))


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex), read in blocks of ``chunk`` [bytes] into this thread's
    reused buffer (a new MiB block per file cost ~0.3 ms of allocation and page faults)."""
    buf = getattr(_HASH_BLOCK, "buf", None)
    if buf is None or len(buf) != chunk:
        buf = _HASH_BLOCK.buf = memoryview(bytearray(chunk))
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(buf[:n])
    return digest.hexdigest()


_HASH_BLOCK = threading.local()


# --- versioned results ----------------------------------------------------------------------------

def result_dir(lake: Path, dataset: str, facility_id: str, month: str) -> Path:
    return lake / dataset / f"facility_id={facility_id}" / f"month={month}"


def write_result(lake: Path, dataset: str, facility_id: str, month: str,
                 df: pd.DataFrame | pa.Table, version_key: str) -> Path:
    """Add one result file (never overwrites another run's file)."""
    path = result_dir(lake, dataset, facility_id, month) / f"{version_key}.parquet"
    return write_parquet_atomic(df, path)


RESULT_DATASETS = ("calculations", "stream_energies", "data_quality", "alerts", "uncertainty_budget",
                   "emissions", "baselines", "baseline_results")


def _pending_dir(lake: Path, facility_id: str) -> Path:
    return lake / "_pending" / f"facility_id={facility_id}"


@contextmanager
def pending_results(lake: Path, facility_id: str, version_key: str):
    """Mark the result files named ``version_key`` as in progress while they are written.

    A write of results spans several files (calculations, stream energies, data quality, alerts,
    possibly several months). The marker exists from before the first file until after the last;
    a writer that dies in between leaves it behind, and :func:`rollback_pending` removes that
    write's files before the next write, so a rerun starts from the state before the crash.
    The caller holds the facility lock.
    """
    marker = _pending_dir(lake, facility_id) / version_key
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    yield
    marker.unlink()   # not in ``finally``: after an exception the partial write is rolled back


def rollback_pending(lake: Path, facility_id: str) -> int:
    """Remove result files of interrupted writes (and stale temporaries); return files removed.

    The caller holds the facility lock, so no live writer of this facility can be affected.
    """
    removed = 0
    for marker in sorted(_pending_dir(lake, facility_id).glob("*")):
        for dataset in RESULT_DATASETS:
            folder = lake / dataset / f"facility_id={facility_id}"
            for path in folder.glob(f"month=*/{marker.name}.parquet"):
                path.unlink()
                removed += 1
        marker.unlink()
    for dataset in DATASETS:
        folder = lake / dataset / f"facility_id={facility_id}"
        if folder.exists():
            removed += remove_stale_temporaries(folder)
    return removed


def read_results(lake: Path, dataset: str, facility_id: str, months: list[str]) -> pd.DataFrame:
    """All stored versions of a facility's results for the given months (empty frame if none)."""
    frames = []
    for month in months:
        d = result_dir(lake, dataset, facility_id, month)
        if d.exists():
            frames.extend(read_parquet(p) for p in sorted(d.glob("*.parquet")))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --- runs -------------------------------------------------------------------------------------------

def write_run(lake: Path, record: dict) -> Path:
    """Write (or replace) the row of one flow run."""
    df = pd.DataFrame([record])
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[us, UTC]")
    for col in ("run_id", "flow", "status", "parameters", "reason"):
        df[col] = df[col].astype("string")   # typed text even when every value is missing
    path = write_parquet_atomic(df[["run_id", "flow", "started_at", "finished_at", "status",
                                    "parameters", "reason"]], lake / "runs" / f"{record['run_id']}.parquet")
    remote = objectlake.for_lake(lake)
    if remote is not None:
        remote.put_run(path)
    return path
