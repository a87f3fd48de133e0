"""`kws.pages`: the kit's HTML pages written one way. What a page builder relies on: a student's
text stays text, numbers line up, a test's row says whether it passed, and a page is one file
with the kit's one style sheet (the class report's, the feedback pages' and the rehearsal's
pages are checked in their own tests: tests/test_report.py, test_feedback.py,
test_rehearsal.py)."""

import re

from kws.pages import STYLE, escape, page, table


def test_what_a_student_wrote_stays_text():
    answer = """<script>alert(1)</script><img src=x onerror="mark()"> & 'quoted'"""
    shown = escape(answer)
    assert "<" not in shown and ">" not in shown and '"' not in shown and "'" not in shown
    assert shown.startswith("&lt;script&gt;") and "&amp; " in shown
    document = page(answer, f"<p>{shown}</p>")
    assert "<script>" not in document and "onerror=" not in document.replace("onerror=&quot;", "")


def test_a_table_has_its_header_its_numbers_and_its_rows_kinds():
    rows = [["ann", "30", "<pre>ok</pre>"], ["bob", "4.5", "<pre>lost a test</pre>"]]
    html = table(rows, ["student", "points", "message"], numeric={1},
                 row_classes=["passed", "failed"])  # fmt: skip
    assert html.startswith("<table><tr><th>student</th><th>points</th><th>message</th></tr>")
    assert '<tr class="failed"><td>bob</td><td class="n">4.5</td><td><pre>lost a test</pre>' in html
    assert html.count("<tr") == 3 and html.endswith("</tr></table>")
    code = table([["<pre>a</pre>", "<pre>b</pre>"]], classes={0: "code", 1: "code"})
    assert (
        code
        == '<table><tr><td class="code"><pre>a</pre></td><td class="code"><pre>b</pre></td></tr></table>'
    )


def test_a_page_is_one_file_with_the_kit_s_style_and_nothing_from_the_network():
    document = page("Feedback: ann & bob", "<h1>Hi</h1>")
    assert document.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert "<title>Feedback: ann &amp; bob</title>" in document and document.endswith("\n")
    assert f"<style>{STYLE}</style>" in document and "<body><h1>Hi</h1></body>" in document
    assert not re.search(r"(src|href)=\"?(https?:)?//", document)
    assert "@media print" in STYLE and "max-width: 1180px" in STYLE  # one width, every page
