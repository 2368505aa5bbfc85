"""Computed windows waiting to be stored: one pickle file per facility window of a flow run.

The calculation job computes a window in a worker process (``calculate.compute_window``) and
leaves it here; the store job of that window (in window order per facility, after Great
Expectations) takes it back, adds the alerts and the GX outcome and stores it. So the windows of
one facility are computed side by side on every core and only storing goes in order.

Files live under ``<home>/lake/_scratch/windows/<run>/``, are written atomically, deleted when taken, and
the run's folder is removed when the run ends, also after a failure (a killed run leaves one
behind: the next run removes folders older than a day). Nothing here is a result: the catalog
never reads ``_scratch``.
"""
from __future__ import annotations

import os
import pickle
import re
import time
from pathlib import Path

from thermaliq.home import Home
from thermaliq.store.lake import remove_folder

STALE_AFTER_S = 24 * 3600.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def scratch_root(home: Home) -> Path:
    """Folder of every run's computed windows (beside the ingests' scratch lakes)."""
    return home.lake / "_scratch" / "windows"


def run_dir(home: Home, run_id: str) -> Path:
    """The folder of one run's computed windows."""
    return scratch_root(home) / (_UNSAFE.sub("_", str(run_id)) or "run")


def put(home: Home, run_id: str, result) -> Path:
    """Write a computed window (``calculate.WindowResult``) for its store job; return its file."""
    folder = run_dir(home, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.facility_id}-{result.first}-{result.last}.pickle"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def take(path: str | os.PathLike):
    """Read a computed window written by :func:`put` and delete its file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            result = pickle.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: the computed window is gone (was its run's scratch "
                                "folder removed?); calculate the window again") from None
    path.unlink(missing_ok=True)
    return result


def discard_run(home: Home, run_id: str) -> None:
    """Remove a run's computed windows that were never stored (failed windows)."""
    remove_folder(run_dir(home, run_id))


def discard_stale(home: Home, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove run folders left by killed runs (untouched for ``older_than_s``); return how many."""
    root = scratch_root(home)
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for folder in root.iterdir():
        try:
            stale = folder.is_dir() and folder.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if stale:
            remove_folder(folder)
            removed += 1
    return removed
