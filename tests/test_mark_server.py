"""`kws mark`'s server and session (kws.grading.marking): what it answers and to whom, with
plain HTTP requests: the token and its cookie, the host and origin checks, anonymous answers
rendered inert, marks by alias, refusals with the fix, no mark lost to requests at once, stale
marks after a hand-in changed, and the command itself, typed in the instructor's folder."""

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from course_helpers import ROOT
from marking_class import SHARED, answer_of, ask, fixtures, student_name

from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.blanks import BLANK_BY
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import check_seal
from kws.pages import STYLE

KEY = "speaker_id/norm-classifier"
STUDENTS = 24
BLANK = [n for n in range(STUDENTS) if answer_of(n, "norm-classifier") is None]  # left as released


course, server = fixtures(STUDENTS)


def test_the_printed_address_sets_a_strict_cookie_and_nothing_answers_without_it(server):
    status, headers, _ = ask(server, "GET", f"/?token={server.token}", cookie=False)
    assert status == 303 and headers["Location"] == "/"
    assert headers["Set-Cookie"] == (
        f"{server.cookie}={server.token}; HttpOnly; SameSite=Strict; Path=/"
    )
    for path in (
        "/",
        "/api/questions",
        f"/api/question?key={KEY}",
        "/api/names",
        "/static/mark.js",
    ):
        status, _, body = ask(server, "GET", path, cookie=False)
        assert status == 403 and b"open the address kws mark printed" in body
    assert ask(server, "GET", "/?token=guess", cookie=False)[0] == 403
    status, headers, page = ask(server, "GET", "/")
    assert status == 200 and server.token.encode() in page
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
    assert headers["X-Frame-Options"] == "DENY" and b'<script src="/static/mark.js"' in page


def test_the_page_wears_the_kits_style_under_its_own(server):
    """One page style across the kit: the reports' and feedback pages' sheet, then the page's."""
    page = ask(server, "GET", "/")[2].decode()
    assert page.index('href="/static/kit.css"') < page.index('href="/static/mark.css"')
    status, headers, sheet = ask(server, "GET", "/static/kit.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert sheet.decode() == STYLE


def test_another_host_name_or_origin_is_refused(server):
    """A DNS-rebinding site reaches 127.0.0.1 under its own name; another site's page can send
    the cookie (not with SameSite=Strict, but an old browser might) but not the token header."""
    rebound = f"evil.example:{server.port}"
    assert ask(server, "GET", "/api/questions", Host=rebound)[0] == 403
    mark = {"key": KEY, "aliases": ["#1"], "items": ["scale"]}
    assert ask(server, "POST", "/api/mark", mark, Host=rebound)[0] == 403
    assert ask(server, "POST", "/api/mark", mark, token=False)[0] == 403
    assert ask(server, "POST", "/api/mark", mark, Origin="http://evil.example")[0] == 403
    assert ask(server, "POST", "/api/mark", mark, Sec_Fetch_Site="cross-site")[0] == 403
    assert ask(server, "POST", "/api/mark", mark, cookie=False)[0] == 403
    assert ask(server, "OPTIONS", "/api/mark")[0] == 405  # no CORS preflight is ever granted
    assert ask(server, "POST", "/api/mark", mark, Content_Type="text/plain")[0] == 400
    held = MarkStore(server.session.store.folder, []).marks().values()
    assert {mark.by for by in held for mark in by.values()} == {BLANK_BY}  # none of them marked
    assert ask(server, "POST", "/api/mark", mark)[0] == 200


def test_answers_come_by_alias_rendered_inert_with_what_the_grader_measured(server):
    status, _, body = ask(server, "GET", f"/api/question?key={KEY}")
    data = json.loads(body)
    assert status == 200 and len(data["answers"]) == STUDENTS
    assert not re.search(rb"student\d{3}", body)  # anonymous: no name anywhere in the data
    assert [a["alias"] for a in data["answers"]] == [f"#{n}" for n in range(1, STUDENTS + 1)]
    names = json.loads(ask(server, "GET", "/api/names")[2])
    by_name = {name: alias for alias, name in names.items()}
    hostile = data["answers"][int(by_name[student_name(5)][1:]) - 1]
    shown = data["htmls"][hostile["html"]]
    assert "<script" not in shown and "<img" not in shown and "javascript:" not in shown
    assert (
        "&lt;script&gt;window.marked = 1;" in shown
        and "<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>" in shown  # MathML, no script
    )
    assert dict(hostile["measures"]) == {
        "tests": "4.75 / 7 points",  # 5 x 0.55 for the accuracy, 2 for the budget
        "task1 accuracy": "0.5500",
        "task1 encoder block": "154.88k",
        "task1 encoder layers that ran": "3",
    }
    missing = data["answers"][int(by_name[student_name(3)][1:]) - 1]
    assert not missing["answered"] and "No answer." in data["htmls"][missing["html"]]
    shared = {by_name[student_name(n)] for n in range(STUDENTS) if n % 3 in (0, 1)
              and n % 7 != 3 and n != 5}  # fmt: skip
    assert shared in [set(group) for group in data["groups"]]  # the same and nearly the same


def test_an_answer_comes_in_its_notebooks_context_rendered_inert(server):
    """The cells around the answer (the prompt before it, the kit's next cells after it), as
    the student's notebook holds them now, rendered as answers are."""
    names = json.loads(ask(server, "GET", "/api/names")[2])
    alias = {name: alias for alias, name in names.items()}[student_name(5)]  # the hostile one
    status, _, body = ask(server, "GET", f"/api/context?key={KEY}&alias={quote(alias)}")
    shown = json.loads(body)["html"]
    assert status == 200 and shown.count('class="answer-cell"') == 1
    before, after = shown.split('class="answer-cell"')
    assert "context-cell" in before and "context-cell" in after
    assert "why a normalization right before the classifier" in before  # the prompt
    assert "&lt;script&gt;window.marked = 1;" in shown and "<script" not in shown
    assert not re.search(r"student\d{3}", shown)
    status, _, body = ask(server, "GET", f"/api/context?key={KEY}&alias=%23999")
    assert status == 404 and "no hand-in #999" in json.loads(body)["error"]


def test_a_mark_by_alias_is_recorded_for_the_student_and_counted(server):
    names = server.session.names()
    body = {"key": KEY, "aliases": ["#2", "#3"], "items": ["scale", "training"],
            "comment": "Say what BatchNorm1d does.", "versions": {"#2": None, "#3": None}}  # fmt: skip
    status, _, answer = ask(server, "POST", "/api/mark", body)
    marks = json.loads(answer)["marks"]
    assert status == 200 and marks["#2"]["score"] == 2.0 and marks["#2"]["by"] == "kim"
    stored = MarkStore(server.session.store.folder, []).marks()[KEY]
    assert stored[names["#2"]].items == ("scale", "training") and names["#3"] in stored
    left = {q["key"]: q["left"] for q in json.loads(ask(server, "GET", "/api/questions")[2])}
    assert left[KEY] == STUDENTS - 2 - len(BLANK)  # the blank answers are marked by the kit
    body["versions"] = {"#2": None, "#3": None}  # a page that had not seen them: refused
    status, _, answer = ask(server, "POST", "/api/mark", body | {"grader": "lee"})
    assert status == 409 and json.loads(answer)["marks"]["#2"]["by"] == "kim"
    check_seal(server.session.store.folder)


@pytest.mark.parametrize(
    "body, said",
    [
        ({"key": "speaker_id/nope", "aliases": ["#1"], "items": []},
         "no written question 'speaker_id/nope' to mark; the questions are "),
        ({"key": KEY, "aliases": ["#999"], "items": []}, "no hand-in #999 in this class"),
        ({"key": KEY, "aliases": ["#1"], "items": ["gone"]}, "are not its rubric's"),
        ({"key": KEY, "aliases": ["#1"], "items": [], "adjust": "lots"},
         "'lots' is not a number of points"),
        ({"key": KEY, "aliases": [], "items": []}, "a mark needs the answers it is for"),
    ],
)  # fmt: skip
def test_a_mark_for_what_does_not_exist_is_refused_with_the_reason(server, body, said):
    status, _, answer = ask(server, "POST", "/api/mark", body)
    assert status == 400 and said in json.loads(answer)["error"]


def test_marks_sent_at_once_are_all_kept(server):
    """Sixteen requests at once (two graders' pages saving as fast as they can), each a mark of
    its own answer: every one is recorded, once."""
    names = server.session.names()
    aliases = [a for a, name in names.items() if name not in map(student_name, BLANK)][:16]

    def mark(alias):
        body = {"key": KEY, "aliases": [alias], "items": ["scale"], "versions": {alias: None}}
        return ask(server, "POST", "/api/mark", body | {"grader": f"g{len(alias) % 2}"})[0]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(mark, aliases)) == {200}
    marks = json.loads(ask(server, "GET", f"/api/marks?key={KEY}")[2])
    assert sorted(a for a, m in marks.items() if m and m["by"] != BLANK_BY) == sorted(aliases)
    assert {m["version"] for m in marks.values() if m} == {1}


def test_an_answer_changed_since_its_mark_is_flagged_and_left(course):
    grades = course / "grades"
    session = MarkingSession(grades, solutions=ROOT / "solutions", grader="kim")
    alias = session.alias[student_name(0)]
    session.save({"key": KEY, "aliases": [alias], "items": ["scale"]}, by="kim")
    notebook = course / "submissions" / student_name(0) / "02_speaker_id.ipynb"
    notebook.write_text(notebook.read_text().replace(SHARED["norm-classifier"][:20], "Changed:"))
    again = MarkingSession(grades, solutions=ROOT / "solutions", grader="kim")  # re-collected
    mark = again.marks(KEY)[alias]
    assert mark["stale"] and list(mark["items"]) == ["scale"]  # kept, asked again
    assert {q["key"]: q["left"] for q in again.questions()}[KEY] == STUDENTS - len(BLANK)


HOW_TO = (ROOT / "docs" / "how-to" / "mark.md").read_text(encoding="utf-8")
COMMAND = re.findall(r"```bash\n(.*?)\n```", HOW_TO, re.S)[0]  # the page's start
PRINTED = re.findall(r"```text\n(.*?)```", HOW_TO, re.S)[0]


def test_the_how_to_pages_command_in_the_instructors_folder(course):
    """docs/how-to/mark.md's command, typed in the course folder (submissions/, solutions/,
    grades/): it prints what the page shows (but the port and token), answers the address, and
    stops on SIGTERM saying the marks are saved."""
    shutil.copytree(ROOT / "solutions", course / "solutions")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    assert COMMAND.startswith("kws mark ")
    command = [sys.executable, "-m", "kws.cli", *shlex.split(COMMAND)[1:]]
    process = subprocess.Popen(command, cwd=course, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = [process.stdout.readline()]
        while lines[-1] and "Ctrl-C stops the page" not in lines[-1]:
            lines.append(process.stdout.readline())
        printed = "".join(lines)
        url = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", printed)
        assert url is not None, printed + process.stderr.read()
        shown = re.sub(r"127\.0\.0\.1:\d+/\?token=\S+", "127.0.0.1:PORT/?token=TOKEN", printed)
        assert shown == re.sub(r"127\.0\.0\.1:\d+/\?token=\S+", "127.0.0.1:PORT/?token=TOKEN",
                               PRINTED)  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", int(url[1]), timeout=30)
        connection.request("GET", f"/?token={url[2]}")
        assert connection.getresponse().status == 303
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped; every mark is saved")


def test_kws_mark_refuses_a_folder_it_cannot_mark(course):
    env = os.environ | {"PYTHONPATH": str(ROOT)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "kws.cli", "mark", *args], cwd=course,
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip

    done = run("nowhere")
    assert done.returncode == 2 and done.stderr.startswith(
        "kws mark: nowhere/gradebook.csv: no gradebook"
    )
    (course / "grades" / "gradebook.csv").write_text("student,total\nann,1\n")  # by hand
    done = run("grades", "--solutions", str(ROOT / "solutions"))
    assert done.returncode == 2 and "gradebook.csv changed since `kws grade`" in done.stderr
    assert "run `kws season grades`" in done.stderr
