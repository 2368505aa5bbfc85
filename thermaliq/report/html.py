"""HTML building blocks of the reports: page shell, embedded figures, tables, atomic writes.

Pages are self-contained except for ``plotly.min.js``, written once per reports directory from the
installed Plotly package and referenced by a relative ``<script src>``, so reports open offline
from disk and over the report server alike. Figures are embedded as JSON from
:func:`plotly.io.to_json`, which writes ``<``, ``>`` and ``/`` as ``\\u003c`` etc., so no data can
close the ``<script>`` element; all other text goes through :func:`html.escape`.
"""
from __future__ import annotations

import html
import math
import shutil
from collections.abc import Iterable
from pathlib import Path

import plotly
import plotly.io as pio

from thermaliq.store.atomic import atomic_path, write_text_atomic


PLOTLY_JS = "plotly.min.js"
_PLOTLY_CONFIG = '{"displaylogo": false, "responsive": true}'

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
header{background:#1f2933;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:22px;font-weight:600}header .sub{color:#cbd2d9;font-size:14px;margin-top:4px}
nav{padding:8px 28px;background:#e4e7eb;font-size:14px}nav a{margin-right:16px;color:#1f4e99}
main{padding:18px 28px;max-width:1320px}
section{background:#fff;border-radius:6px;padding:14px 18px;margin-bottom:18px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
section h2{font-size:17px;margin:0 0 8px 0}
.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{background:#fff;border-radius:6px;padding:10px 14px;min-width:140px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .v{font-size:22px;font-weight:600}.kpi .l{font-size:12px;color:#52606d;text-transform:uppercase}
.kpi.bad .v{color:#c92a2a}.kpi.ok .v{color:#2b8a3e}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#52606d;font-style:italic;padding:18px 0}
.notes{font-size:12px;color:#52606d;margin:6px 0 0 0}
.sev-critical{color:#c92a2a;font-weight:600}.sev-warning{color:#d9480f}
.help{font-size:13px;color:#3e4c59}footer{font-size:12px;color:#52606d;padding:0 28px 24px}
"""


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A percentage as text, ``–`` when unknown [%]."""
    return f"{value:.{digits}f} %" if value is not None and math.isfinite(value) else "–"


def ensure_plotly_js(reports_dir: Path) -> Path:
    """Copy Plotly's bundled ``plotly.min.js`` into the reports directory once (offline use)."""
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = reports_dir / PLOTLY_JS
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    return target


def figure_html(fig: dict, div_id: str) -> str:
    """A ``<div>`` and the script drawing ``fig`` (a Plotly figure dict) into it.

    The JSON comes from :func:`plotly.io.to_json`, which escapes ``<``, ``>`` and ``/``.
    """
    payload = pio.to_json(fig, validate=False)
    div = esc(div_id)
    return (f'<div id="{div}" class="figure"></div>\n<script>(function(){{var f={payload};'
            f'Plotly.newPlot("{div}",f.data,f.layout,{_PLOTLY_CONFIG});}})();</script>')


def table_html(rows: Iterable[dict], columns: list[tuple[str, str]], *, numeric: Iterable[str] = (),
               raw: Iterable[str] = ()) -> str:
    """A table of ``rows``; ``columns`` are (key, header). Cells are escaped unless in ``raw``."""
    numeric, raw = set(numeric), set(raw)
    head = "".join(f"<th>{esc(h)}</th>" for _, h in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key, "")
            text = value if key in raw else esc(value)
            cls = ' class="num"' if key in numeric else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(title: str, body: str, *, section_id: str = "") -> str:
    """A titled ``<section>``; ``title`` is escaped, ``body`` is HTML."""
    ident = f' id="{esc(section_id)}"' if section_id else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def notes_html(notes: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    return f'<ul class="notes">{items}</ul>' if items else ""


def page(title: str, subtitle: str, body: str, *, plotly_src: str | None, nav: str = "",
         footer: str = "") -> str:
    """A complete HTML page; ``title``/``subtitle`` are escaped, ``body``/``nav``/``footer`` are HTML."""
    script = f'<script src="{esc(plotly_src)}" charset="utf-8"></script>' if plotly_src else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style>{script}</head><body>"
            f"<header><h1>{esc(title)}</h1><div class=\"sub\">{esc(subtitle)}</div></header>"
            f"<nav>{nav}</nav><main>{body}</main><footer>{footer}</footer></body></html>\n")


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def write_atomic(path: Path, text: str) -> Path:
    """Write a report page through a temporary file in the same directory and an atomic rename,
    without a disk flush: pages are rewritten from the lake by every run (see
    :func:`thermaliq.store.atomic.atomic_path`)."""
    return write_text_atomic(path, text, "report.write", durable=False)
