"""Data Docs that open without internet: their CSS and JavaScript served from the site itself.

Great Expectations' Data Docs load Bootstrap, bootstrap-table, jQuery, Font Awesome and Vega from
public CDNs, so on a plant network without internet access they are unstyled pages with empty
tables (bootstrap-table fills the tables in JavaScript). ``scripts/setup`` installs the same
libraries from the npm registry into ``vendor/datadocs/node_modules`` (versions pinned by
``vendor/datadocs/package-lock.json``); :func:`localize_data_docs` copies the files the pages
use into ``<site>/static/vendor/`` and points every page at them (relative URLs, so the site
works from ``file://`` and from ``thermaliq serve-reports`` alike). Nothing is fetched at run time.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

#: Where ``scripts/setup`` installs the npm packages (``npm ci --prefix vendor/datadocs``).
VENDOR = Path(__file__).resolve().parents[2] / "vendor" / "datadocs" / "node_modules"

#: CDN URL the GX templates use -> file of the npm package (below ``node_modules``).
ASSETS = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "@fortawesome/fontawesome-free/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper.js/dist/umd/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap/dist/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap/dist/css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
}
#: Folders copied whole (the fonts Font Awesome's CSS loads as ``../webfonts/...``).
FOLDERS = ["@fortawesome/fontawesome-free/webfonts"]
# Subresource-integrity and CORS attributes name the CDN's copy; a local file of another build
# (popper.js 1.16.1 instead of 1.12.9, which bootstrap 4.3.1 requires) would be refused.
_SRI = re.compile(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")')


class AssetsMissing(FileNotFoundError):
    """The npm packages are not installed (``scripts/setup`` was not run)."""


def missing_assets(vendor: Path = VENDOR) -> list[str]:
    """Files of :data:`ASSETS` and :data:`FOLDERS` not installed under ``vendor``."""
    return [rel for rel in [*ASSETS.values(), *FOLDERS] if not (vendor / rel).exists()]


def copy_assets(site: Path, vendor: Path = VENDOR) -> Path:
    """Copy the assets into ``<site>/static/vendor`` (only files that changed); return that folder."""
    missing = missing_assets(vendor)
    if missing:
        raise AssetsMissing(f"{vendor}: {len(missing)} Data Docs asset(s) not installed, e.g. "
                            f"{missing[0]}; run scripts/setup (npm ci --prefix vendor/datadocs)")
    target = site / "static" / "vendor"
    for rel in ASSETS.values():
        _copy_if_changed(vendor / rel, target / rel)
    for rel in FOLDERS:
        for src in (vendor / rel).rglob("*"):
            if src.is_file():
                _copy_if_changed(src, target / rel / src.relative_to(vendor / rel))
    return target


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def localize_page(html: str, page: Path, target: Path) -> str:
    """``html`` of ``page`` with every CDN URL of :data:`ASSETS` replaced by a relative URL of
    its copy under ``target``, and the integrity/crossorigin attributes of those tags removed."""
    base = page.parent
    for url, rel in ASSETS.items():
        if url in html:
            html = html.replace(f'"{url}"', '"' + Path(os.path.relpath(target / rel, base)).as_posix() + '"')
    return _SRI.sub("", html)


def localize_data_docs(site: Path, vendor: Path = VENDOR) -> int:
    """Make every page of the Data Docs site ``site`` use local assets; return pages changed."""
    site = Path(site)
    target = copy_assets(site, vendor)
    changed = 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        new = localize_page(html, page, target)
        if new != html:
            tmp = page.with_name(f".{page.name}.tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, page)
            changed += 1
    return changed
