"""`kws.pages`: the kit's HTML pages written one way, from templates with autoescape. What a page
builder relies on: a student's text stays text, numbers line up, a test's row says whether it
passed, a page is one file with the kit's one style sheet and a Content-Security-Policy (the class
report's, the feedback pages' and the rehearsal's pages are checked in their own tests:
tests/test_report.py, test_feedback.py, test_rehearsal.py; every page kind's policy in
test_page_policies.py), and no module of the kit writes a tag or escapes by hand
(test_no_html_outside_templates.py)."""

import re
from pathlib import Path

from kws.pages import CSP, STYLE, bold, code, environment, flag, italic, lines, pre, render, table

KWS = Path(__file__).resolve().parents[1] / "kws"


def _shown(rows, **kwargs) -> str:
    """`rows` as a page's table, through the kit's own macros (what every page uses)."""
    macros = environment().get_template("macros.html").module
    return str(macros.table(table(rows, **kwargs)))


def test_what_a_student_wrote_stays_text():
    answer = """<script>alert(1)</script><img src=x onerror="mark()"> & 'quoted'"""
    shown = _shown([[answer, pre(answer), lines([answer, bold(answer)]), flag(answer)]],
                   header=[answer])  # fmt: skip
    assert "<script>" not in shown and "<img" not in shown and 'onerror="' not in shown
    assert shown.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6  # header, 5 cells
    assert "&amp; &#x27;quoted&#x27;" in shown and "&quot;mark()&quot;" in shown
    document = render("page.html", title=answer)
    assert "<title>&lt;script&gt;" in document and "<script>" not in document


def test_a_table_has_its_header_its_numbers_and_its_rows_kinds():
    rows = [["ann", "30", pre("ok")], ["bob", 4.5, pre("lost a test")]]
    html = _shown(rows, header=["student", "points", "message"], numeric={1},
                  row_classes=["passed", "failed"])  # fmt: skip
    assert html.startswith("<table><tr><th>student</th><th>points</th><th>message</th></tr>")
    assert '<tr class="failed"><td>bob</td><td class="n">4.5</td><td><pre>lost a test</pre>' in html
    assert html.count("<tr") == 3 and html.endswith("</tr></table>")
    side = _shown([[code([("1:1", "x = 1"), ("1:2", "y = <2>")]), italic("b")]],
                  classes={0: "code", 1: "code"})  # fmt: skip
    assert side == (
        '<table><tr><td class="code"><pre><span class="ln">   1:1</span>  x = 1\n'
        '<span class="ln">   1:2</span>  y = &lt;2&gt;</pre></td><td class="code"><i>b</i></td></tr></table>'
    )


def test_a_page_is_one_file_with_the_kit_s_style_a_policy_and_nothing_from_the_network():
    document = render("page.html", title="Feedback: ann & bob")
    assert document.startswith(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    )
    assert "<title>Feedback: ann &amp; bob</title>" in document and document.endswith("\n")
    assert f"<style>{STYLE}</style>" in document
    assert not re.search(r"(src|href)=\"?(https?:)?//", document)
    assert "default-src 'none'" in CSP and "script-src" not in CSP  # no script runs, at all
    assert "@media print" in STYLE and "max-width: 1180px" in STYLE  # one width, every page


def test_the_templates_are_package_data():
    """`pip install` ships every template the pages are rendered from."""
    from kws.spec.toml import tomllib

    pyproject = tomllib.loads((KWS.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["kws"]
    shipped = {p for pattern in patterns for p in KWS.glob(pattern)}
    templates = set((KWS / "templates").glob("*.html"))
    assert {"page.html", "macros.html", "report.html", "feedback.html"} <= {
        t.name for t in templates
    }
    assert templates <= shipped
