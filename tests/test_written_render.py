"""A student's answer as HTML for the marking page (kws.written.render): Markdown, maths and code
shown, and nothing the student wrote becomes markup that runs: no element, no attribute, no
javascript: link, no remote image."""

from html.parser import HTMLParser

import pytest

from kws.written.answers import Answer, Part
from kws.written.math_text import title_text
from kws.written.render import MATH_ELEMENTS, answer_html, markdown_html

HOSTILE = [
    "<script>window.marked = 1</script>",
    '<img src="x" onerror="window.marked = 1">',
    "[click me](javascript:window.marked=1)",
    "[click me]( JaVaScRiPt:window.marked=1)",
    "[ref][r]\n\n[r]: javascript:window.marked=1",
    '<a href="javascript:window.marked=1">x</a>',
    '<div onclick="window.marked = 1">x</div>',
    "![tracker](http://evil.example/pixel.png)",
    "<iframe src=http://evil.example></iframe>",
    "<svg onload=window.marked=1>",
    "<javascript:window.marked=1>",
    "```\n</code></pre><script>window.marked = 1</script>\n```",
    "`</code><script>x</script>`",
    "$</span><script>window.marked = 1</script>$",
    "$\\href{javascript:window.marked=1}{x}$",
    "$$\\href{http://evil.example}{\\text{<img src=x onerror=window.marked=1>}}$$",
]


class Tags(HTMLParser):
    """Every (tag, attributes) of an HTML fragment, as a browser's parser reads it."""

    def __init__(self, text):
        super().__init__()
        self.found = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_a_student_writes_becomes_markup_that_runs(text):
    rendered = markdown_html(text)
    for tag, attributes in Tags(rendered).found:
        assert tag in {"p", "a", "span", "pre", "code", "div", "em", "strong", *MATH_ELEMENTS}
        assert not any(name.startswith("on") for name in attributes), rendered
        assert attributes.get("href") in (None, "http://evil.example"), rendered
        assert "src" not in attributes, rendered
    for element in ("<script", "<img", "<iframe", "<svg"):
        assert element not in rendered.lower(), rendered
    assert Tags(rendered).found, rendered  # shown, as text in a paragraph: not dropped


def test_markdown_maths_and_code_are_shown():
    answer = Answer(
        "q",
        "task",
        (
            Part(
                "markdown",
                "**Scale** drifts: $x_i^2$ and $$\\sum_j w_j * x_j$$; [paper](https://arxiv.org)",
            ),
            Part("code", "print('<b>')", "<b>\n"),
        ),
    )
    shown = answer_html(answer)
    assert "<strong>Scale</strong>" in shown
    # MathML drawn by the browser, no script; the TeX kept whole (_ is no emphasis)
    assert (
        '<math display="inline" title="x_i^2"><mrow><msubsup><mi>x</mi><mi>i</mi><mn>2</mn>'
        "</msubsup></mrow></math>"
    ) in shown
    assert '<math display="block" title="\\sum_j w_j * x_j"><mrow><munder><mo>∑</mo>' in shown
    assert '<a href="https://arxiv.org" rel="noopener noreferrer nofollow">paper</a>' in shown
    assert "&lt;b&gt;" in shown and "<b>" not in shown
    assert "No answer" not in shown
    assert '<p class="no-answer">No answer.</p>' in answer_html(Answer("q", "markdown"))


def test_tex_the_converter_cannot_read_is_shown_as_typed():
    assert markdown_html("$\\begin{nonsense}x$") == (
        '<p><span class="math">\\begin{nonsense}x</span></p>'
    )


def test_a_title_with_maths_reads_drawn_in_the_marking_menu():
    """`kws mark`'s menu holds text only: a question's title has its maths drawn as Unicode
    (sub- and superscripts, symbols, fractions), and TeX the converter cannot read as typed."""
    assert title_text(r"Show $x_i=i^2$ for $1\leq i \leq n$") == "Show xᵢ=i² for 1≤i≤n"
    assert title_text(r"Part B: $\frac{a}{b+1}$ and $\sqrt{2}$, $e^{-t}$") == (
        "Part B: a/(b+1) and √2, e^(−t)"  # no superscript t in Unicode
    )
    assert title_text("A price of 5 $ and 6 $") == "A price of 5 $ and 6 $"
    assert title_text(r"Broken $\begin{x}$") == r"Broken \begin{x}"
