"""The pieces of the report pages written in Python (``thermaliq.report.html``): the same text as
the general way they stand for, for hostile text, ``Markup``, ``None``, numbers and empty lists
(the pages must not change by a byte)."""
from __future__ import annotations

import html

from markupsafe import Markup

from thermaliq.report.html import PARTS, esc

HOSTILE = ["plain", "", None, 0, 81.5, "a<b & \"c\" 'd' </script>", Markup("<b>kept</b>"), "–  ±  ö"]


def test_esc_is_html_escape():
    """:func:`esc` writes what ``html.escape(str(value), quote=True)`` writes (it skips the call
    for text without special characters), ``None`` as nothing; a table cell's int as its text."""
    for value in HOSTILE + ["&amp;", "'", '"', "<", ">", "a&b", 12, -3, 1.5, float("nan"), True]:
        expected = "" if value is None else html.escape(str(value), quote=True)
        assert esc(value) == expected, value
    assert PARTS.table([{"n": 7, "f": 7.0, "b": True}], [("n", "n"), ("f", "f"), ("b", "b")]).startswith(
        "<table><thead><tr><th>n</th><th>f</th><th>b</th></tr></thead><tbody><tr><td>7</td><td>7.0</td>"
        "<td>True</td></tr></tbody></table>")


def test_table_rows_without_escaping_are_the_rows_escaped_cell_by_cell():
    """A row of plain text and ints skips the per-cell escaping only when it changes nothing."""
    from thermaliq.report.html import row_html, row_html_by_cell
    tds = ["<td>", '<td class="num">', "<td>"]
    for a in HOSTILE + [7, -1, True]:
        for b in ("x", "a&b", 3, None, Markup("<i>m</i>"), 2.5):
            for c in ("", "'", "plain text; more"):
                cells = [a, b, c]
                assert row_html(cells, tds) == row_html_by_cell(cells, tds), cells
    assert row_html(["a", 1, "b"], tds) == '<tr><td>a</td><td class="num">1</td><td>b</td></tr>'
