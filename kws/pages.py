"""The kit's HTML pages, written one way: one style sheet, one page skeleton, one table writer,
one escaping helper. The class report (`kws.grading.publish.report.page`), the students'
feedback pages (`kws.grading.publish.feedback.html`) and the rehearsal's page
(`kws.rehearsal.page`) are written with it, and so is any new page::

    from kws.pages import escape, page, table

    rows = [[escape(name), f"{score:g}"] for name, score in scores.items()]
    html = page("Marks", f"<h1>Marks</h1>{table(rows, header=['student', 'points'], numeric={1})}")

A page is one self-contained file: its styles are inline and it loads nothing from the network
(pictures go in as inline SVG or base64 PNG), so it opens from a zip, an e-mail or a file
server; it prints on paper (no background, no break inside a table's row or a picture).

Everything a page shows that comes from a person (a student's name, a message, a hand-in's
text, a course file's words) goes through `escape` first: `page` and `table` take HTML.
Import nothing of the kit here: every layer (the grading engine's publishing, the rehearsal
above it) uses this module, and it uses none of them.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
       max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: #fbfbfa; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 36px 0 8px;
     border-bottom: 2px solid #d9dee4; padding-bottom: 4px; }
.meta { color: #52606d; margin-bottom: 18px; }
.note { color: #52606d; font-size: 13px; } .none { color: #3b8e5a; }
.flag, .problem { color: #a93226; font-weight: 600; }
.cards { display: flex; gap: 14px; flex-wrap: wrap; margin: 14px 0; }
.card { background: white; border: 1px solid #d9dee4; border-radius: 8px; padding: 10px 16px;
        min-width: 170px; } .card b { font-size: 22px; display: block; }
.card span { color: #52606d; font-size: 13px; }
table { border-collapse: collapse; width: 100%; background: white; margin: 8px 0; }
th, td { border: 1px solid #e1e5ea; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; } td.n { text-align: right; white-space: nowrap; }
tr.failed td:first-child { border-left: 4px solid #c0392b; }
tr.passed td:first-child { border-left: 4px solid #3b8e5a; }
img, svg { max-width: 100%; background: white; border: 1px solid #e1e5ea; border-radius: 6px; }
pre { margin: 0; font: 12.5px/1.35 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; }
pre.cell { background: #fffdf3; border: 1px solid #e1e5ea; border-radius: 6px; padding: 8px; }
td.code { width: 50%; background: #fffdf3; } .ln { color: #9aa5b1; user-select: none; }
details { margin: 8px 0; background: white; border: 1px solid #e1e5ea; border-radius: 6px;
          padding: 6px 10px; } summary { cursor: pointer; font-weight: 600; }
@media print {
  body { background: white; max-width: none; padding: 0; font-size: 11pt; }
  .card, table, img, svg, pre.cell, details { border-color: #999; }
  tr, pre.cell, img, svg { break-inside: avoid; } h2 { break-after: avoid; }
}
"""


def escape(text: str) -> str:
    """`text` as HTML that shows it as it is, quotes too (so it is safe inside an attribute):
    ``<script>`` becomes text on the page, never a script.

    Args:
        text: anything a person wrote or named: a student's name, a test's message, an answer.

    Returns:
        the HTML.
    """
    return html.escape(text, quote=True)


def table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] = (),
    *,
    numeric: Collection[int] = (),
    classes: Mapping[int, str] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table: a header row, then a row per item.

    Args:
        rows: each row's cells, as HTML (`escape` text first).
        header: the header row's cells, as HTML; none without.
        numeric: the columns (from 0) of numbers: right-aligned, never wrapped (class ``n``).
        classes: a class for the cells of a column, {column: class}, e.g. ``{0: "code"}``.
        row_classes: a class per row, e.g. ``"passed"`` or ``"failed"`` (their left edge green
            or red); "" for none.

    Returns:
        ``<table>...</table>``.
    """
    kinds = dict.fromkeys(numeric, "n") | dict(classes or {})
    head = f"<tr>{''.join(f'<th>{cell}</th>' for cell in header)}</tr>" if header else ""
    body = []
    for number, row in enumerate(rows):
        cells = "".join(
            f'<td class="{kinds[i]}">{cell}</td>' if i in kinds else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        kind = row_classes[number] if row_classes else ""
        body.append(f'<tr class="{kind}">{cells}</tr>' if kind else f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def page(title: str, body: str, *, lang: str = "en") -> str:
    """A whole HTML document: `title` (text, escaped here) in the browser's tab, `body` (HTML)
    on the page, with the kit's style sheet (`STYLE`) inline.

    Args:
        title: the document's title, as text.
        body: the page's content, as HTML (its own ``<h1>`` included).
        lang: the language of the page's text.

    Returns:
        the document, ending with a newline: write it to a ``.html`` file as UTF-8.
    """
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>'
        f"{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
