"""Great Expectations Data Docs under ``<home>/gx``: brought up to date once per flow run, and the
stored validation results pruned (every kept result costs the Data Docs index a read).

Runs of :mod:`tasks.gx.validate` store their validation results; this module renders the ones
without a page yet and removes old ones, under the same per-home GX lock.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from tasks.gx import offline
from tasks.gx.validate import SUITE_NAME, facility_of_run_name, gx_context, gx_lock, site_dir

KEEP_PER_FACILITY = 7    # stored validation results kept per facility (or fleet): the index reads each one


def _results_dir(root: Path) -> Path:
    return root / "uncommitted" / "validations"


def _unrendered(root: Path) -> tuple[list[Path], bool]:
    """Stored validation results (JSON) without a Data Docs page, and whether pages are left
    whose result was pruned (the index still lists them)."""
    store, site = _results_dir(root), site_dir(root) / "validations"
    results = {p.relative_to(store).with_suffix("") for p in store.rglob("*.json")}
    pages = {p.relative_to(site).with_suffix("") for p in site.rglob("*.html")}
    return [store / f"{r}.json" for r in sorted(results - pages)], bool(pages - results)


def build_data_docs(gx_dir: Path) -> str | None:
    """Bring the Data Docs up to date: render new validation results, the suite and the index.

    Only results without a page are rendered (incremental), so the cost is the new results
    plus the index (which reads every kept result: see :func:`prune_validation_results`);
    pages of pruned results leave the index. Nothing new and nothing pruned: nothing is done.
    Without a GX context under ``gx_dir`` (nothing validated yet) nothing happens and GX is
    not imported.

    Returns
    -------
    str or None
        Path of the Data Docs ``index.html``, ``None`` when there are no Data Docs.
    """
    root = Path(gx_dir).resolve()
    index = site_dir(root) / "index.html"
    if not (root / "great_expectations.yml").is_file():
        return None
    with gx_lock(root):
        new, orphans = _unrendered(root)
        if not new and not orphans and index.is_file():
            return str(index)
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier, ValidationResultIdentifier)

        context = gx_context(root)
        store = _results_dir(root)
        keys = [ValidationResultIdentifier.from_tuple(p.relative_to(store).with_suffix("").parts)
                for p in new]
        context.build_data_docs(resource_identifiers=[ExpectationSuiteIdentifier(SUITE_NAME),
                                                      *keys])
        urls = [s.get("site_url") for s in context.get_docs_sites_urls()]
    for url in urls:
        if url and url.startswith("file://"):
            return unquote(urlparse(url).path)
    return str(index) if index.is_file() else None


def localize(gx_dir: Path) -> int:
    """Point the Data Docs under ``gx_dir`` at local copies of their CSS and JavaScript (see
    :mod:`tasks.gx.offline`); return the pages changed (0 without Data Docs).

    Raises
    ------
    tasks.gx.offline.AssetsMissing
        When ``scripts/setup`` has not installed the npm packages.
    """
    root = Path(gx_dir).resolve()
    site = site_dir(root)
    if not (site / "index.html").is_file():
        return 0
    with gx_lock(root):
        return offline.localize_data_docs(site)


def prune_validation_results(gx_dir: Path, keep_per_facility: int = KEEP_PER_FACILITY) -> int:
    """Delete all but the latest ``keep_per_facility`` stored validation results per facility.

    Results pile up under ``<home>/gx`` (one per facility-window and run) and every kept one
    costs the Data Docs index a read; their pages go with them at the next
    :func:`build_data_docs`. The facility is read from the run name (:func:`run_name`), the
    age from the run time. Returns the number of results deleted.
    """
    if keep_per_facility < 1:
        raise ValueError(f"keep_per_facility must be at least 1, got {keep_per_facility}")
    root = Path(gx_dir).resolve()
    if not (root / "great_expectations.yml").is_file():
        return 0
    with gx_lock(root):
        if len(list(_results_dir(root).rglob("*.json"))) <= keep_per_facility:
            return 0                                   # nothing can exceed the limit: no GX import
        store = gx_context(root).validation_results_store
        keys = store.list_keys()
        by_facility: dict[str, list] = {}
        for key in keys:
            by_facility.setdefault(facility_of_run_name(key.run_id.run_name), []).append(key)
        removed = 0
        for facility_keys in by_facility.values():
            facility_keys.sort(key=lambda k: k.run_id.run_time, reverse=True)
            for key in facility_keys[keep_per_facility:]:
                store.remove_key(key)
                removed += 1
    return removed
