"""Every page the kit writes or serves carries a Content-Security-Policy, each page kind checked
as the kit makes it: the class report and a student's feedback page (written by `kws report` and
`kws feedback` on a small graded class), the rehearsal's page (its template, as
`kws.rehearsal.page` renders it), and `kws mark`'s page with every answer of its server (the
page, its scripts and styles, the answers' data, a refusal). A page declares its policy first
thing in its head, loads nothing from the network and runs no script but, on the marking page,
the server's own files. A template of ``kws/templates/`` is a page kind checked here, or the
skeleton they extend, or pieces (macros) of one: a new page kind fails here until it is added."""

import ast
import json
import re
from pathlib import Path
from urllib.parse import quote

import jinja2
import pytest
from course_helpers import ROOT
from marking_class import ask, serving, write_class

from kws.grading.marking.server import CSP as SERVED
from kws.grading.marking.server import PAGE_CSP
from kws.grading.publish.feedback.html import write_feedback
from kws.grading.publish.report.page import write_report
from kws.pages import CSP, environment, render, table

KWS = ROOT / "kws"
META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')
KEY = "speaker_id/norm-classifier"
PAGES = {"report.html", "feedback.html", "rehearsal.html", "mark.html"}  # the kinds checked here
SKELETON = "page.html"  # what the written pages extend: their policy, their style


def policy_of(document: str) -> dict[str, list[str]]:
    """The policy `document` declares, {directive: sources}: once, in its head, before anything
    it loads; the document itself an HTML5 one."""
    assert document[:15].lower() == "<!doctype html>", document[:60]
    head = document[: document.index("</head>")]
    found = META.findall(head)
    assert len(found) == 1, head
    assert not re.search(r"<(script|link|style|img|base)\b", head[: head.index(found[0])], re.I)
    return directives(found[0].replace("&#x27;", "'").replace("&#39;", "'"))


def directives(policy: str) -> dict[str, list[str]]:
    """`policy` as {directive: sources}, checked strict: everything denied by default, nothing
    from another host or scheme, no inline or evaluated script."""
    parsed = {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }
    assert parsed["default-src"] == ["'none'"], policy
    assert set(parsed.get("script-src", ["'none'"])) <= {"'none'", "'self'"}, policy
    for sources in parsed.values():
        assert not {"*", "http:", "https:", "'unsafe-eval'", "blob:"} & set(sources), policy
        assert not any("://" in source or "." in source for source in sources), policy
    return parsed


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A small graded class (3 hand-ins, with written answers): its course folder."""
    return write_class(tmp_path_factory.mktemp("policies") / "course", 3)


def test_the_report_and_the_feedback_pages_carry_the_kits_policy(graded, tmp_path):
    report = write_report(graded / "grades", out=tmp_path / "report.html", jobs=1).page
    written = write_feedback(graded / "grades", tmp_path / "feedback").pages
    assert written and all(page.suffix == ".html" for page in written)
    for page in [report, *written]:
        policy = policy_of(page.read_text(encoding="utf-8"))
        assert policy == directives(CSP), page
        assert "script-src" not in policy and policy["img-src"] == ["data:"]  # no script at all


def test_the_rehearsal_s_page_carries_the_kits_policy():
    sections = [("What was written", [("p", ("see ", "report.html", "report.html"))],
                 table([["ann", "30"]], ["student", "points"]))]  # fmt: skip
    document = render("rehearsal.html", title="Rehearsal", course="</title><script>",
                      sections=sections)  # fmt: skip
    assert policy_of(document) == directives(CSP)
    assert "<script>" not in document and '<a href="report.html">' in document


@pytest.fixture
def server(graded):
    with serving(graded / "grades") as served:
        yield served


def test_the_marking_page_and_every_answer_of_its_server_carry_its_policy(server):
    status, headers, page = ask(server, "GET", "/")
    page = page.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"] == SERVED == f"{PAGE_CSP}; frame-ancestors 'none'"
    served = directives(SERVED)
    assert served["script-src"] == served["style-src"] == ["'self'"]  # no 'unsafe-inline'
    assert policy_of(page) == directives(PAGE_CSP)  # in the page too (no frame-ancestors there)
    # What it runs and wears is the server's own files, which the policy lets in; nothing inline.
    scripts = re.findall(r'<script src="(/static/[\w.]+)" defer></script>', page)
    sheets = re.findall(r'<link rel="stylesheet" href="(/static/[\w.]+)">', page)
    assert len(scripts) == page.count("<script") == 6 and len(sheets) == 4
    assert not re.search(r"<style|\sstyle=|\son\w+=|javascript:", page, re.I)
    names = json.loads(ask(server, "GET", "/api/names")[2])
    requests = [
        ("GET", f"/?token={server.token}", True, None, 303),
        ("GET", "/", False, None, 403),
        ("GET", "/nothing", True, None, 404),
        ("OPTIONS", "/api/mark", True, None, 405),
        ("POST", "/api/mark", True, [], 400),
        ("GET", "/api/questions", True, None, 200),
        ("GET", f"/api/question?key={quote(KEY)}", True, None, 200),
        ("GET", f"/api/marks?key={quote(KEY)}", True, None, 200),
        ("GET", f"/api/context?key={quote(KEY)}&alias={quote(next(iter(names)))}", True, None,
         200),
        ("GET", f"/api/notebook?alias={quote(next(iter(names)))}", True, None, 200),
        ("GET", "/api/notebook?alias=%2399999", True, None, 404),
        ("GET", f"/api/comments?key={quote(KEY)}", True, None, 200),
        ("POST", "/api/comment", True, {"key": KEY, "text": ""}, 400),
        *(("GET", path, True, None, 200) for path in [*scripts, *sheets]),
    ]  # fmt: skip
    for method, path, cookie, body, expected in requests:
        status, headers, _ = ask(server, method, path, cookie=cookie, body=body)
        assert status == expected and headers["Content-Security-Policy"] == SERVED, (path, status)


def _calls(name: str) -> dict[str, list[str]]:
    """{template: ["kws/module.py:line", ...]} of each call of `name` (kws.pages' `render` or
    `fragment`) in the kit, by the template it names."""
    found: dict[str, list[str]] = {}
    for path in sorted(KWS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).split(".")[-1] == name
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).endswith(".html")
            ):
                where = f"kws/{path.relative_to(KWS).as_posix()}:{node.lineno}"
                found.setdefault(node.args[0].value, []).append(where)
    return found


def _only_macros(name: str) -> bool:
    """Whether the template `name` writes nothing of its own: macros (and imports) only."""
    source = environment().loader.get_source(environment(), name)[0]
    for node in environment().parse(source).body:
        if isinstance(node, jinja2.nodes.Output):
            if any(
                not isinstance(part, jinja2.nodes.TemplateData) or part.data.strip()
                for part in node.nodes
            ):
                return False
        elif not isinstance(node, jinja2.nodes.Macro | jinja2.nodes.Import):
            return False
    return True


def test_each_template_is_a_page_checked_here_the_skeleton_or_pieces_of_one():
    pages, pieces = _calls("render"), _calls("fragment")
    assert set(pages) == PAGES, f"a page kind not checked here, or gone: {pages}"
    templates = {path.name for path in (KWS / "templates").iterdir()}
    assert PAGES | {SKELETON} <= templates
    others = templates - PAGES - {SKELETON}
    assert others and all(_only_macros(name) for name in others), others
    assert set(pieces) <= others, f"a piece is taken from a page: {pieces}"
    for name in PAGES - {"mark.html"}:  # the written pages: their policy is the skeleton's
        assert '{% extends "page.html" %}' in (KWS / "templates" / name).read_text()
