"""What a facility's readings files hold: their tags (and units), for check-config, check-source
and ``thermaliq init --from-csv``.

Reading only the header of a wide file and only the ``tag`` (and ``unit``) column of a long one,
so a check over a month of files stays quick.
"""
from __future__ import annotations

import glob as globlib
from pathlib import Path

import pyarrow as pa

from thermaliq.errors import DataError
from thermaliq.sources.file_io import RESERVED_COLUMNS, RecordBatches


def file_tags(path: Path) -> dict[str, str | None]:
    """Tags of one readings file with their unit where the file gives one (long ``unit`` column).

    Raises
    ------
    DataError
        When the file cannot be read (names it).
    """
    batches = RecordBatches(Path(path), str(path))
    lower = [n.strip().lower() for n in batches.names]
    if "timestamp" not in lower:
        raise DataError(f"no 'timestamp' column (columns found: {batches.names[:10]!r})", source=str(path))
    if not ("tag" in lower and "value" in lower):      # wide: the header holds the tags
        return {n: None for n, lo in zip(batches.names, lower) if lo not in RESERVED_COLUMNS and n}
    tags: dict[str, str | None] = {}
    for batch in batches:
        cols = [batch.column(lower.index("tag"))]
        cols.append(batch.column(lower.index("unit")) if "unit" in lower else pa.nulls(batch.num_rows, pa.string()))
        pairs = pa.table({"tag": cols[0], "unit": cols[1]}).group_by(["tag", "unit"]).aggregate([])
        for tag, unit in zip(pairs["tag"].to_pylist(), pairs["unit"].to_pylist()):
            if tag is not None and tag.strip():
                tags.setdefault(tag, unit)
    return tags


def source_files(root: Path, pattern: str, newest: int = 31) -> list[Path]:
    """The ``newest`` files (by name) matching ``pattern`` relative to ``root``."""
    found = sorted(Path(p) for p in globlib.glob(str(root / pattern), recursive=True) if Path(p).is_file())
    return found[-newest:]


def compare_tags(configured: list[str], in_files: set[str]) -> tuple[list[str], list[str]]:
    """(configured tags no file holds, tags in the files that no stream uses), each sorted."""
    return sorted(set(configured) - in_files), sorted(in_files - set(configured))


__all__ = ["compare_tags", "file_tags", "source_files"]
