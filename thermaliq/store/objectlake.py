"""The lake on object storage (issue #19): a commit log per facility, a local working copy per host.

With ``THERMALIQ_LAKE_URL`` set (``s3://bucket/prefix``, also ``gs://`` and ``az://`` through
fsspec), the lake's truth is the object store; ``<home>/lake`` on each host is a working copy that
the unchanged local code reads and writes. The facility lock
(:func:`thermaliq.store.lake.facility_lock`) is the transaction: on entry the copy of the facility
is brought to its last commit (:meth:`ObjectLake.pull`, which also undoes anything uncommitted, the
leftovers of a crashed writer); on a clean exit every file that changed is uploaded under a new,
unique name and one commit object names them all (:meth:`ObjectLake.push`).

Remote layout below the URL::

    _commits/facility_id=F/<seq:020d>.json     commit ``seq`` of facility F: {"files": {path: key | null}}
    data/<folder>/<stem>.<seq:020d>-<id><ext>  data objects, never overwritten, named by a commit
    runs/<run_id>.parquet                      one object per flow run (a single PUT is atomic)

A commit is created with a conditional write (``If-None-Match: *`` on S3): of two writers that
both try commit ``n``, one wins and the other gets :class:`CommitConflict` and nothing of its
write becomes visible. Objects that no commit names (a writer killed between its uploads and its
commit) are never read. A commit covers everything one lock hold wrote: a window's calculations,
stream energies, data quality, alerts (and the write counter, so result versions come from commits
and a crashed write's number is taken again), or an ingest's readings days and quarantine.

The working copy records what it holds in ``<lake>/_remote/<url id>/facility_id=F.json``: the last
commit applied and, per file, its object key, size [bytes] and modification time [ns], so a file
changed or added locally but not committed is found and undone.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

from thermaliq.errors import ConfigError, ThermaliqError
from thermaliq.settings import load_settings, object_store_settings
from thermaliq.store.atomic import atomic_path, write_text_atomic
from thermaliq.store.testhooks import crash_point

#: Datasets stored per facility below ``<dataset>/facility_id=F/`` (``runs`` is per run).
FACILITY_DATASETS = ("readings", "quarantine", "ingested", "stream_energies", "calculations",
                     "data_quality", "alerts", "uncertainty_budget", "emissions", "baselines",
                     "baseline_results")
#: Single files of a facility's state outside those folders (the write counter).
FACILITY_FILES = ("_seq/facility_id={f}",)


class CommitConflict(ThermaliqError):
    """Another writer committed the facility first (its lease ran out, or no cross-host lock)."""


def lake_url() -> str | None:
    """``THERMALIQ_LAKE_URL``, or None for a lake on local disk."""
    return load_settings().lake_url


def storage_options(url: str) -> dict:
    """fsspec options of ``url``: for ``s3://`` the ``AWS_*`` variables; plain HTTP only to a
    loopback endpoint."""
    if urlparse(url).scheme not in ("s3", "s3a"):
        return {}           # gs://, az://: their fsspec drivers read their own standard variables
    aws = object_store_settings()
    opts: dict = {}
    if aws.endpoint_url:
        endpoint = urlparse(aws.endpoint_url)
        if endpoint.scheme == "http" and not _loopback(endpoint.hostname or ""):
            raise ConfigError(f"AWS_ENDPOINT_URL {aws.endpoint_url}: plain HTTP is allowed only to "
                              "a loopback address", field="AWS_ENDPOINT_URL", fix="use https://")
        opts["endpoint_url"] = aws.endpoint_url
    if aws.access_key_id:
        opts["key"] = aws.access_key_id
    if aws.secret_access_key:
        opts["secret"] = aws.secret_access_key
    if aws.session_token:
        opts["token"] = aws.session_token
    if aws.region:
        opts["client_kwargs"] = {"region_name": aws.region}
    return opts


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_LAKES: dict[tuple[str, str], "ObjectLake"] = {}


def for_lake(lake: Path) -> "ObjectLake | None":
    """The remote lake whose working copy is ``lake``, None when the lake is local (the default)
    or ``lake`` is a scratch folder."""
    url = lake_url()
    if not url or "_scratch" in lake.parts:
        return None
    key = (url, str(lake))
    if key not in _LAKES:
        _LAKES[key] = ObjectLake(url, lake)
    return _LAKES[key]


class ObjectLake:
    """A lake at fsspec ``url`` with its working copy at ``local`` (see the module docstring)."""

    def __init__(self, url: str, local: Path):
        import fsspec   # only a remote lake needs it

        self.url = url.rstrip("/")
        self.local = Path(local)
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options(self.url))
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"THERMALIQ_LAKE_URL {url}: {exc}", field="THERMALIQ_LAKE_URL",
                              fix="use s3://bucket/prefix (gs://, az:// need gcsfs, adlfs)") from exc
        self.root = self.root.rstrip("/")
        self.meta_dir = self.local / "_remote" / hashlib.sha256(self.url.encode()).hexdigest()[:12]

    # --- paths ------------------------------------------------------------------------------

    def remote(self, key: str) -> str:
        return f"{self.root}/{key}"

    def commit_key(self, facility_id: str, seq: int) -> str:
        return f"_commits/facility_id={facility_id}/{seq:020d}.json"

    def tracked(self, facility_id: str) -> dict[str, tuple[int, int]]:
        """The working copy's files of a facility: relative path -> (size [bytes], mtime [ns]);
        hidden temporaries and in-progress markers are not part of it."""
        out: dict[str, tuple[int, int]] = {}
        folders = [self.local / d / f"facility_id={facility_id}" for d in FACILITY_DATASETS]
        for folder in folders:
            for path in _files(folder):
                st = path.stat()
                out[path.relative_to(self.local).as_posix()] = (st.st_size, st.st_mtime_ns)
        for pattern in FACILITY_FILES:
            path = self.local / pattern.format(f=facility_id)
            if path.is_file():
                st = path.stat()
                out[path.relative_to(self.local).as_posix()] = (st.st_size, st.st_mtime_ns)
        return out

    # --- the copy's record ------------------------------------------------------------------

    def _meta_path(self, facility_id: str) -> Path:
        return self.meta_dir / f"facility_id={facility_id}.json"

    def read_meta(self, facility_id: str) -> dict:
        try:
            meta = json.loads(self._meta_path(facility_id).read_text())
        except FileNotFoundError:
            return {"url": self.url, "seq": 0, "files": {}}
        return meta

    def _write_meta(self, facility_id: str, meta: dict) -> None:
        write_text_atomic(self._meta_path(facility_id), json.dumps(meta, sort_keys=True))

    # --- commits ----------------------------------------------------------------------------

    def commits_after(self, facility_id: str, seq: int) -> list[dict]:
        """The commits of a facility after ``seq``, in order (each read once; one failed read of
        the next number ends the list)."""
        out = []
        while True:
            try:
                raw = self.fs.cat_file(self.remote(self.commit_key(facility_id, seq + 1)))
            except FileNotFoundError:
                return out
            commit = json.loads(raw)
            if commit.get("seq") != seq + 1 or commit.get("facility_id") != facility_id:
                raise ThermaliqError(f"{self.url}/{self.commit_key(facility_id, seq + 1)}: the commit "
                                     "names another facility or number; the lake was changed by hand")
            out.append(commit)
            seq += 1

    def facilities(self) -> list[str]:
        """Facilities with at least one commit."""
        try:
            names = self.fs.ls(self.remote("_commits"), detail=False)
        except FileNotFoundError:
            return []
        return sorted(n.rstrip("/").rpartition("/")[2].removeprefix("facility_id=") for n in names
                      if "facility_id=" in n)

    def pull(self, facility_id: str) -> int:
        """Bring the working copy of a facility to its last commit; return that commit's number.

        Files changed, added or removed locally since the last commit (an uncommitted write, e.g.
        of a run that was killed) are replaced by the committed ones or removed. The caller holds
        the facility's local file lock.
        """
        meta = self.read_meta(facility_id)
        target = {rel: e["key"] for rel, e in meta["files"].items()}
        commits = self.commits_after(facility_id, meta["seq"])
        for commit in commits:
            for rel, key in commit["files"].items():
                if key is None:
                    target.pop(rel, None)
                else:
                    target[rel] = key
        local = self.tracked(facility_id)
        files = {}
        fetch = []
        for rel, key in target.items():
            known = meta["files"].get(rel)
            if known and known["key"] == key and local.get(rel) == (known["size"], known["mtime_ns"]):
                files[rel] = known
            else:
                fetch.append((rel, key))
        for rel, key in fetch:
            path = self.local / rel
            with atomic_path(path, durable=False) as tmp:
                self.fs.get_file(self.remote(key), str(tmp))
            st = path.stat()
            files[rel] = {"key": key, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        for rel in local.keys() - target.keys():
            (self.local / rel).unlink(missing_ok=True)
        for marker in _files(self.local / "_pending" / f"facility_id={facility_id}"):
            marker.unlink(missing_ok=True)       # markers of uncommitted writes: undone above
        seq = commits[-1]["seq"] if commits else meta["seq"]
        if commits or fetch or local.keys() - target.keys():
            self._write_meta(facility_id, {"url": self.url, "seq": seq, "files": files})
        return seq

    def push(self, facility_id: str) -> int | None:
        """Commit every file of the facility changed in the working copy since :meth:`pull`;
        return the commit's number (None when nothing changed).

        Raises
        ------
        CommitConflict
            When another writer committed the facility since the pull; nothing of this write is
            visible (the caller undoes the working copy with :meth:`pull`).
        """
        meta = self.read_meta(facility_id)
        local = self.tracked(facility_id)
        changed = [rel for rel, st in local.items()
                   if (e := meta["files"].get(rel)) is None or (e["size"], e["mtime_ns"]) != st]
        removed = sorted(meta["files"].keys() - local.keys())
        if not changed and not removed:
            return None
        seq = meta["seq"] + 1
        keys = {rel: _object_key(rel, seq) for rel in sorted(changed)}
        if keys:   # one batch: the driver uploads them side by side
            self.fs.put([str(self.local / rel) for rel in keys],
                        [self.remote(k) for k in keys.values()])
        crash_point("lake.commit")
        commit = {"seq": seq, "facility_id": facility_id, "files": {**keys, **{r: None for r in removed}},
                  "writer": f"{socket.gethostname()}:{os.getpid()}",
                  "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            self.fs.pipe_file(self.remote(self.commit_key(facility_id, seq)),
                              json.dumps(commit, sort_keys=True).encode(), mode="create")
        except FileExistsError as exc:
            raise CommitConflict(f"facility {facility_id}: another writer committed number {seq} "
                                 "first; this write was not stored, run it again") from exc
        files = {rel: e for rel, e in meta["files"].items() if rel not in removed}
        for rel, key in keys.items():
            size, mtime = local[rel]
            files[rel] = {"key": key, "size": size, "mtime_ns": mtime}
        self._write_meta(facility_id, {"url": self.url, "seq": seq, "files": files})
        return seq

    # --- runs -------------------------------------------------------------------------------

    def put_run(self, path: Path) -> None:
        """Upload one run's file (``runs/<run_id>.parquet``; a single PUT replaces it whole)."""
        self.fs.put_file(str(path), self.remote(f"runs/{path.name}"))

    def pull_runs(self) -> int:
        """Copy the run files the working copy lacks or holds in an older form (a run's row is
        rewritten when it ends); return how many were copied."""
        try:
            entries = self.fs.ls(self.remote("runs"), detail=True)
        except FileNotFoundError:
            return 0
        fetched = 0
        for entry in entries:
            target = self.local / "runs" / entry["name"].rpartition("/")[2]
            if target.exists() and not _newer(entry, target):
                continue
            with atomic_path(target, durable=False) as tmp:
                self.fs.get_file(entry["name"], str(tmp))
            fetched += 1
        return fetched


def _newer(entry: dict, local: Path) -> bool:
    """Whether the remote object ``entry`` (an fsspec ``ls`` detail) differs from the local copy:
    another size, or written after it (no time known: taken as newer)."""
    st = local.stat()
    if entry.get("size") != st.st_size:
        return True
    modified = entry.get("LastModified") or entry.get("mtime") or entry.get("last_modified")
    if modified is None:
        return True
    stamp = modified.timestamp() if hasattr(modified, "timestamp") else float(modified)
    return stamp >= st.st_mtime - 1.0     # object stores keep whole seconds


def _object_key(rel: str, seq: int) -> str:
    folder, _, name = rel.rpartition("/")
    stem, dot, ext = name.partition(".")
    return f"data/{folder}/{stem}.{seq:020d}-{uuid.uuid4().hex[:12]}{dot}{ext}"


def _files(folder: Path):
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if not path.name.startswith(".") and path.is_file():
            yield path
