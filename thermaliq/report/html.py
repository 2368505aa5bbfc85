"""HTML of the reports: Jinja2 templates (``templates/``), embedded figures, atomic writes.

Pages are self-contained except for ``plotly.min.js``, written once per reports directory from the
installed Plotly package and referenced by a relative ``<script src>``, so reports open offline
from disk and over the report server alike.

The templates escape every value (``autoescape``) unless it is :class:`markupsafe.Markup`: the
pieces of :data:`PARTS` (themselves templates) and a figure's JSON from :func:`plotly.io.to_json`,
which writes ``<``, ``>`` and ``/`` as ``\\u003c`` etc., so no data can close the ``<script>``
element. Nothing else is marked safe.
"""
from __future__ import annotations

import html
import math
import shutil
from pathlib import Path

import orjson
import plotly
import plotly.io as pio
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from thermaliq.report.csvlink import csv_href
from thermaliq.store.atomic import atomic_path, write_text_atomic


PLOTLY_JS = "plotly.min.js"


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes); ``None`` is empty.

    The templates escape with it, and so do Plotly labels (Plotly renders a subset of HTML in them).
    """
    s = "" if text is None else str(text)
    return s if _plain(s) else html.escape(s, quote=True)


def _plain(text: str) -> bool:
    """Whether ``html.escape(text, quote=True)`` changes nothing (most cells: numbers, names,
    dates), told without building a new string."""
    return not ("&" in text or "<" in text or ">" in text or '"' in text or "'" in text)


def _escaped(value: object) -> Markup:
    """The templates' ``finalize``: a value as escaped text (``Markup`` as it is).

    Escaping here with :func:`esc` rather than leaving it to autoescape keeps the entities of
    :func:`html.escape` (``&#x27;``, ``&quot;``) that the reports have always had, and writes
    ``None`` as nothing.
    """
    return value if isinstance(value, Markup) else Markup(esc(value))


def _text(value: object) -> str:
    """A value as the templates write it: ``Markup`` as it is, anything else through :func:`esc`
    (an int's text has nothing to escape)."""
    if type(value) is int:
        return str(value)
    return value if isinstance(value, Markup) else esc(value)


def table_html(rows: list[dict], columns: list[tuple[str, str]], numeric=(), csv_name: str = "thermaliq-table"
               ) -> Markup:
    """The ``table`` macro of ``templates/parts.html``: a table of ``rows`` (dicts) in ``columns``
    (key, heading), ``numeric`` keys right-aligned, and its CSV link.

    Built here rather than in the template: a year of pages writes ~180 000 cells, and Jinja2's
    per-value call overhead cost more than the escaping itself. Escaping is the templates' own
    (:func:`_escaped`), so the HTML is the same as the template's.
    """
    keys = [key for key, _ in columns]
    tds = ['<td class="num">' if key in numeric else "<td>" for key in keys]
    blanks = [""] * len(keys)   # row.get(key, "")
    out = ["<table><thead><tr>"]
    out += [f"<th>{_text(head)}</th>" for _, head in columns]
    out.append("</tr></thead><tbody>")
    out += [row_html([*map(row.get, keys, blanks)], tds) for row in rows]
    out.append(f'</tbody></table><p class="csv"><a download="{_text(csv_name)}.csv" '
               f'href="{_text(csv_href(rows, columns))}">CSV</a></p>')
    return Markup("".join(out))


def row_html(cells: list, tds: list[str]) -> str:
    """A table row: each of ``cells`` as the templates write it (:func:`_text`) after its ``<td>``
    of ``tds``. A row of plain texts and ints without a character to escape (most rows) is
    written without escaping cell by cell (:func:`row_html_by_cell`)."""
    texts = [c if type(c) is str else str(c) if type(c) is int else None for c in cells]
    if None in texts:
        return row_html_by_cell(cells, tds)
    if not _plain("".join(texts)):
        return row_html_by_cell(cells, tds)
    return "<tr>" + "".join([td + text + "</td>" for td, text in zip(tds, texts)]) + "</tr>"


def row_html_by_cell(cells: list, tds: list[str]) -> str:
    """:func:`row_html`, each cell through :func:`_text`."""
    return "<tr>" + "".join([f"{td}{_text(cell)}</td>" for td, cell in zip(tds, cells)]) + "</tr>"


#: ``auto_reload=False``: the templates are package files, read once per process (a check of each
#: template file's time stamp at every page, its include and its imports, cost ~40 us a page).
_TEMPLATES = Environment(loader=PackageLoader("thermaliq.report", "templates"), autoescape=True,
                         finalize=_escaped, keep_trailing_newline=True, auto_reload=False)
_TEMPLATES.globals["table_html"] = table_html    # parts.html: table
#: The macros of ``templates/parts.html`` (section, table, notes, link, links, empty, severity,
#: figure, kpis, listing, help); each returns ``Markup``.
PARTS = _TEMPLATES.get_template("parts.html").module


def render_page(template: str, **context: object) -> str:
    """A complete page from ``templates/<template>`` (which extends ``page.html``)."""
    return _TEMPLATES.get_template(template).render(**context)


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


def figure_html(fig: dict, div_id: str) -> Markup:
    """A ``<div>`` and the script drawing ``fig`` (a Plotly figure dict) into it.

    The JSON is trusted markup: :func:`plotly.io.to_json` escapes ``<``, ``>`` and ``/``.
    """
    return figure_json_html(figure_json(fig), div_id)


def figure_json(fig: dict) -> str:
    """``plotly.io.to_json(fig, validate=False)`` of a figure dict.

    With Plotly's orjson engine: the same ``orjson.dumps`` and escaping (:func:`json_safe`)
    without Plotly's look-ups of optional modules at every call (~15 us a figure); a figure
    orjson cannot encode as it is goes to Plotly, which cleans it first.
    """
    if not plotly_writes_orjson():
        return pio.to_json(fig, validate=False)
    for trace in fig.get("data", []):
        trace.pop("uid", None)      # as plotly.io.to_json (remove_uids)
    try:
        text = orjson.dumps(fig, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode("utf8")
    except TypeError:   # e.g. a Decimal: Plotly cleans the figure and encodes it again
        return pio.to_json(fig, validate=False)
    return json_safe(text)


#: Plotly's escaping of a JSON text from orjson (``plotly.io.json``): characters that could end
#: a ``<script>`` element or a JavaScript string; each replaced on its own (one character).
_JSON_SWAPS = (("<", "\\u003c"), (">", "\\u003e"), ("/", "\\u002f"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def json_safe(text: str) -> str:
    """JSON text escaped as :func:`plotly.io.to_json` escapes orjson's output."""
    for unsafe, safe in _JSON_SWAPS:
        if unsafe in text:
            text = text.replace(unsafe, safe)
    return text


def plotly_writes_orjson() -> bool:
    """Whether :func:`plotly.io.to_json` encodes with orjson (its default when installed)."""
    return pio.json.config.default_engine in ("auto", "orjson")


def figure_json_html(payload: str, div_id: str) -> Markup:
    """:func:`figure_html` of a figure already written as JSON by :func:`plotly.io.to_json` (or
    the same text made otherwise, e.g. :meth:`thermaliq.report.figures.QualityHeatmap.figure_json`)."""
    return PARTS.figure(div_id, Markup(payload))


def write_atomic(path: Path, text: str) -> Path:
    """Write a report page through a temporary file in the same directory and an atomic rename,
    without a disk flush: pages are rewritten from the lake by every run (see
    :func:`thermaliq.store.atomic.atomic_path`)."""
    return write_text_atomic(path, text, "report.write", durable=False)
