"""An answer as HTML that runs nothing it holds: what the marking page shows of a student's
Markdown, maths and code.

A student's answer is untrusted: in the marker's browser a ``<script>``, an ``onerror=``
attribute or a ``javascript:`` link could act with the marker's rights (mark itself, read other
answers). Everything is rendered here, on the server, and escaped:

- Markdown by Python-Markdown with raw HTML turned off (its HTML block and inline HTML readers
  removed: ``<script>`` is text, shown as typed), then every link checked (only ``http:``,
  ``https:``, ``mailto:`` and ``#`` links keep their target) and every image replaced by its alt
  text (an image would fetch from wherever it points);
- maths (``$...$``, ``$$...$$``), untouched by the Markdown rules, converted on the server to
  MathML by latex2mathml (the browser draws it: no script, no remote font), then kept to an
  allow-list of MathML elements and attributes (a ``\\href`` gives no link); TeX it cannot read
  is shown as typed, in a ``<span class="math">`` with its TeX in the title of the MathML too;
- code highlighted by Pygments, which escapes it; a code cell's text output as plain text.

The cells are put together by the macros of ``kws/templates/answers.html`` (`kws.pages.fragment`),
which escape everything but the HTML Python-Markdown and Pygments made.

The page's Content-Security-Policy (no inline script, no remote anything) is the second line:
`kws.grading.marking.server`.
"""

from __future__ import annotations

import functools
import re
import threading
import xml.etree.ElementTree as etree
from typing import Any

import latex2mathml.converter
import markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from kws.pages import fragment
from kws.written.answers import Answer, cell_part, notebook_cells

SAFE_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_MATH = r"\$\$(?P<display>.+?)\$\$|\$(?=\S)(?P<inline>[^$\n]+?)(?<=\S)\$"
_local = threading.local()


_MATHML = "{http://www.w3.org/1998/Math/MathML}"
MATH_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mfrac "
    "msqrt mroot mtable mtr mtd mstyle mpadded mphantom menclose semantics annotation".split()
)
MATH_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator lspace rspace form accent accentunder "
    "linethickness columnalign rowalign columnspacing rowspacing notation width height depth "
    "displaystyle scriptlevel minsize maxsize movablelimits largeop symmetric encoding".split()
)


def math_element(tex: str, display: bool) -> etree.Element:
    """`tex` as a MathML ``<math>`` element (see the module), or a ``<span class="math">``
    holding the TeX as text when latex2mathml cannot read it."""
    try:
        converted = etree.fromstring(
            latex2mathml.converter.convert(tex, display="block" if display else "inline")
        )
    except Exception:  # TeX the converter does not know, or odd input it trips on
        span = etree.Element("span")
        span.set("class", "math display" if display else "math")
        span.text = AtomicString(tex)
        return span
    return _kept(converted, tex)


def _kept(element: etree.Element, tex: str | None = None) -> etree.Element:
    """A copy of the MathML `element` with only allowed elements and attributes (an unknown
    element becomes an ``mrow`` of its children); its text as atomic strings."""
    tag = element.tag.removeprefix(_MATHML)
    made = etree.Element(tag if tag in MATH_ELEMENTS else "mrow")
    for name, value in element.attrib.items():
        if name in MATH_ATTRIBUTES:
            made.set(name, value)
    if tex is not None:
        made.set("title", tex)  # the TeX, for a reader who wants it (and copy-paste)
    made.text = AtomicString(element.text) if element.text else None
    for child in element:
        kept = _kept(child)
        kept.tail = AtomicString(child.tail) if child.tail else None
        made.append(kept)
    return made


class _Maths(InlineProcessor):
    """``$...$`` and ``$$...$$`` as MathML, before emphasis can read its ``_``."""

    def handleMatch(self, m, data):  # noqa: N802 (Python-Markdown's name)
        display = m.group("display") is not None
        tex = m.group("display") if display else m.group("inline")
        return math_element(tex, display), m.start(0), m.end(0)


class _SafeTree(Treeprocessor):
    """Links to safe targets only; images as their alt text."""

    def run(self, root):
        for element in root.iter():
            if element.tag == "a":
                target = (element.get("href") or "").strip()
                if not SAFE_LINK.match(target):
                    element.attrib.pop("href", None)
                element.set("rel", "noopener noreferrer nofollow")
            elif element.tag == "img":
                alt = element.get("alt") or ""
                element.tag, element.text = "span", f"[image: {alt}]" if alt else "[image]"
                element.attrib.clear()
                element.set("class", "image")


class _NoRawHtml(Extension):
    def extendMarkdown(self, md):  # noqa: N802 (Python-Markdown's name)
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.inlinePatterns.register(_Maths(_MATH, md), "maths", 185)
        md.treeprocessors.register(_SafeTree(md), "safe_tree", 5)


def markdown_html(text: str) -> str:
    """`text` (Markdown) as HTML with no raw HTML, no unsafe link and no image (see module)."""
    converter = getattr(_local, "markdown", None)
    if converter is None:
        extensions = ["fenced_code", "tables", "sane_lists", _NoRawHtml()]
        converter = _local.markdown = markdown.Markdown(extensions=extensions)
    converter.reset()
    return converter.convert(text)


def code_html(code: str, output: str = "") -> str:
    """`code` (Python) highlighted and escaped in a ``<pre class="code">``, with its text
    `output` escaped in a ``<pre class="output">`` after it."""
    return fragment("answers.html", "code", _highlighted(code), output)


def _highlighted(code: str) -> Markup:
    """`code` (Python) as Pygments' HTML, which escapes it."""
    return Markup(highlight(code, PythonLexer(), HtmlFormatter(nowrap=True)))


def _cell(kind: str, text: str, output: str) -> tuple[str, Any, str]:
    """A cell for ``answers.html``: (kind, its body: Markdown's HTML, code's highlighting or
    the text as typed, its output)."""
    if kind == "markdown":
        return kind, Markup(markdown_html(text)), output
    if kind == "code":
        return kind, _highlighted(text), output
    return kind, text, output


def code_styles(selector: str = ".code") -> str:
    """The CSS of `code_html`'s highlighting classes under `selector`."""
    return HtmlFormatter().get_style_defs(selector)


def answer_html(answer: Answer) -> str:
    """The HTML of `answer`: each Markdown cell rendered, each code cell highlighted with its
    output, a raw cell as text; a paragraph saying there is none when it has no text."""
    cells = [_cell(part.cell_type, part.text, part.output) for part in answer.parts if part.text]
    return fragment("answers.html", "answer", cells, answer.answered)


AROUND = 2  # cells shown before and after an answer in its context


def note_html(text: str) -> str:
    """`text`, a line for the marker in place of an answer or its notebook."""
    return fragment("answers.html", "note", text)


def context_html(nb, answer: Answer, around: int = AROUND) -> str:
    """The cells of the hand-in notebook `nb` (JSON) around `answer`'s, rendered as answers are
    (inert): `around` cells before its first and after its last, the answer's own cells in a
    ``<div class="answer-cell">``; a paragraph saying so when the answer has no cell there."""
    cells = notebook_cells(nb)
    if not answer.cells or max(answer.cells) >= len(cells):
        return note_html("No cell of the notebook holds this answer.")
    first, last = (
        max(0, min(answer.cells) - around),
        min(len(cells), max(answer.cells) + around + 1),
    )
    shown = []
    for index in range(first, last):
        part = cell_part(cells[index])
        shown.append(
            (*_cell(part.cell_type, part.source, part.output), index, index in answer.cells)
        )
    return fragment("answers.html", "context", shown)


def notebook_html(nb, answers: dict[str, Answer]) -> str:
    """Every cell of the hand-in notebook `nb` (JSON), rendered as answers are (inert), those
    of each answer of `answers` ({question key: Answer}) in a ``<div class="answer-cell"
    data-question="KEY">``, the others in a ``<div class="notebook-cell">``."""
    held = {index: key for key, answer in answers.items() for index in answer.cells}
    shown = []
    for index, cell in enumerate(notebook_cells(nb)):
        part = cell_part(cell)
        shown.append(
            (*_cell_once(part.cell_type, part.source, part.output), index, held.get(index, ""))
        )
    return fragment("answers.html", "notebook", shown)


@functools.lru_cache(maxsize=4096)
def _cell_once(kind: str, text: str, output: str) -> tuple[str, Any, str]:
    """`_cell`, rendered once a process: a class's notebooks share most of their cells (the
    released ones), and Pygments takes ~10 ms a cell."""
    return _cell(kind, text, output)
