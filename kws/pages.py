"""The kit's HTML pages, written one way: from Jinja2 templates (``kws/templates/``) with
autoescape on, one style sheet, one page skeleton, one table. The class report
(`kws.grading.publish.report.page`), the students' feedback pages
(`kws.grading.publish.feedback.html`) and the rehearsal's page (`kws.rehearsal.page`) are written
with it, `kws mark`'s page (``mark.html``, `kws.grading.marking.server`) and the answers its
server sends (`fragment`: the macros of ``answers.html``, `kws.written.render`) too, and so is any
new page::

    from kws.pages import render, table

    marks = table([[name, f"{score:g}"] for name, score in scores.items()],
                  header=["student", "points"], numeric={1})
    html = render("marks.html", title="Marks", marks=marks)   # kws/templates/marks.html

A template extends ``page.html`` (the skeleton: the style sheet, the Content-Security-Policy)
and fills its ``body`` block; ``macros.html`` shows a `Table` and the parts of a cell (`pre`,
`bold`, `italic`, `flag`, `lines`, `code`). Everything a page shows is text until a template
says otherwise: a student's ``<script>`` is shown, never run, and no page builder writes a tag
or calls an escape (tests/test_no_html_outside_templates.py fails on a module of ``kws/`` that
does, naming its line; tests/test_page_policies.py checks each page kind's policy).

A written page is one self-contained file: its styles are inline and it loads nothing from the
network (pictures go in as inline SVG or base64 PNG, all its Content-Security-Policy allows), so
it opens from a zip, an e-mail or a file server; it prints on paper (no background, no break
inside a table's row or a picture). The marking page is served: its scripts and style sheets are
its server's files, all its own policy lets in (no inline script). Import nothing of the kit
here: every layer (the grading engine's publishing, the marking page, the rehearsal above them)
uses this module, and it uses none of them (only `kws.i18n`, below them all).

What a page says to its reader is written in ``{% trans %}`` blocks (Jinja2's i18n extension):
the page speaks the active language of `kws.i18n`, looked up when it is rendered, and its
``<html lang>`` says which.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from kws import i18n

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

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Every page's Content-Security-Policy: nothing from the network, no script, no form; inline
styles and ``data:`` pictures only. Escaping is the first defence, this the second."""


@dataclass(frozen=True)
class Part:
    """A piece of a table's cell that a template gives its markup (``macros.html``'s `show`):
    `kind` one of ``pre``, ``b``, ``i``, ``flag``, ``lines`` (parts one a line), ``code``
    (labelled lines of code), `content` its text, parts or ``(label, text)`` lines."""

    kind: str
    content: Any


def pre(text: str) -> Part:
    """`text` as preformatted text (a test's message, a comment)."""
    return Part("pre", text)


def bold(text: str) -> Part:
    """`text` in bold."""
    return Part("b", text)


def italic(text: str) -> Part:
    """`text` in italics."""
    return Part("i", text)


def flag(text: str) -> Part:
    """`text` as a flag for a person to read (red)."""
    return Part("flag", text)


def lines(parts: Sequence[Any]) -> Part:
    """`parts` (text or parts) one a line."""
    return Part("lines", list(parts))


def code(numbered: Sequence[tuple[str, str]]) -> Part:
    """Lines of code, each ``(label, text)``: the label (e.g. ``cell:line``) grey, right-aligned."""
    return Part("code", list(numbered))


@dataclass(frozen=True)
class Table:
    """A table for ``macros.html``'s `table`: a header row, then a row per item.

    Attributes:
        rows: each row's cells: text, a number, a `Part` or a list of them (shown in turn).
        header: the header row's cells; none without.
        kinds: a class per column, {column: class} (``n``: a number, right-aligned).
        row_classes: a class per row (``passed`` or ``failed``: the left edge green or red), or
            empty for none; "" for a row without.
    """

    rows: Sequence[Sequence[Any]]
    header: Sequence[Any] = ()
    kinds: Mapping[int, str] | None = None
    row_classes: Sequence[str] = ()


def table(
    rows: Sequence[Sequence[Any]],
    header: Sequence[Any] = (),
    *,
    numeric: Collection[int] = (),
    classes: Mapping[int, str] | None = None,
    row_classes: Sequence[str] | None = None,
) -> Table:
    """A table to show in a template, with the macro `table` of ``macros.html``.

    Args:
        rows: each row's cells, as text or parts (`pre`, `bold`, ...): a template escapes them.
        header: the header row's cells; none without.
        numeric: the columns (from 0) of numbers: right-aligned, never wrapped (class ``n``).
        classes: a class for the cells of a column, {column: class}, e.g. ``{0: "code"}``.
        row_classes: a class per row, e.g. ``"passed"`` or ``"failed"``; "" for none.

    Returns:
        the `Table`.
    """
    kinds = dict.fromkeys(numeric, "n") | dict(classes or {})
    return Table([list(row) for row in rows], list(header), kinds, list(row_classes or ()))


def _shown(value: Any) -> Any:
    """What a template's expression writes: markup as it is (a macro's output, `STYLE`), any
    other value as text, escaped as the standard library escapes it (quotes too)."""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


@cache
def environment() -> jinja2.Environment:
    """The kit's templates (``kws/templates/``), autoescaped, read once a process.

    Returns:
        the Jinja2 environment; a missing variable in a template is an error, never "".
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kws", "templates"),
        autoescape=True,
        finalize=_shown,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: a translation is formatted by the extension, its placeholders escaped
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = i18n.active  # the page's <html lang>, when it is rendered
    env.tests["part"] = lambda value: isinstance(value, Part)
    env.globals.update(style=Markup(STYLE), csp=Markup(CSP))
    return env


def render(template: str, **context: Any) -> str:
    """The page `template` (a file of ``kws/templates/``) with `context`.

    Args:
        template: the template's file name, e.g. ``"feedback.html"``.
        **context: what the template shows, by name: text is escaped, `Table` and `Part` get
            their markup from ``macros.html``.

    Returns:
        the document, ending with a newline: write it to a ``.html`` file as UTF-8.
    """
    return environment().get_template(template).render(**context)


def fragment(template: str, macro: str, *args: Any, **kwargs: Any) -> str:
    """A piece of a page: the macro `macro` of `template` (a file of ``kws/templates/``) called
    with `args` and `kwargs`, escaped as a page is. What a server sends for its page's script to
    put in place (``kws mark``'s answers, ``answers.html``).

    Returns:
        the piece's HTML.
    """
    return str(getattr(environment().get_template(template).module, macro)(*args, **kwargs))
