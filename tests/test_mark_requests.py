"""The queue of regrade requests in `kws mark`'s page: a TA opens it by key, reads each
student's reason (by alias, inert) and mark, types a reply and gives new points or keeps the
mark; the answers are ``requests.csv``'s lines, as `kws requests answer` writes them, and reach
the feedback pages; answered requests leave the queue. An answer while another command holds
the grades folder is refused, saying so, and records nothing."""

import csv
import subprocess
import sys

import pytest
from browser import MISSING, chromium, keys, wait
from marking_class import ask, serving, student_name
from test_marks_import import SPEAKER
from test_overrides import kws
from test_written_totals import seasoned_class

from kws.grading.records.marks.store import MarkStore

READY = "document.body.dataset.ready === '1'"
COUNT = "document.getElementById('requests').dataset.count"
REASON = 'I said BatchNorm1d <img src=x onerror="window.hit = 1"> rescales the features'
TEST = "speaker_id accuracy"


def _asked(course, students: int = 2) -> None:
    """student001's written answer marked 2 of 3 ("scale", "training"), then a request from
    student001 about it and from student002 about a test, imported as a form's CSV."""
    one, two = student_name(1), student_name(2)
    (course / "marks.csv").write_text(
        f"student,question,items,points,comment\n{one},{SPEAKER},scale training,,Say more.\n"
    )
    kws(course, "marks", "import", "grades", "marks.csv", "--grader", "lee")
    rows = [f'{one},{SPEAKER},"{REASON.replace(chr(34), chr(34) * 2)}"',
            f"{two},{TEST},My model is better than this"][:students]  # fmt: skip
    (course / "form.csv").write_text("student,question,reason\n" + "\n".join(rows) + "\n")
    kws(course, "requests", "import", "grades", "form.csv")


def _history(course) -> list[tuple[str, ...]]:
    with open(course / "grades" / "requests.csv", encoding="utf-8") as file:
        return [(r["student"], r["question"], r["event"], r["text"], r["points"], r["who"])
                for r in csv.DictReader(file)]  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_a_ta_answers_the_queue_by_keyboard_and_the_students_read_it(tmp_path):
    course = seasoned_class(tmp_path)
    _asked(course)
    one, two = student_name(1), student_name(2)
    with serving(course / "grades", grader="kim") as server, chromium() as browser:
        alias = server.session.alias
        browser.get(server.url + f"#{SPEAKER}")
        wait(browser, READY)
        keys(browser, "r")
        wait(browser, f"{COUNT} === '2'")
        head = browser.execute_script("return document.getElementById('request-head').textContent")
        assert head == f"{alias[one]} · {SPEAKER} · now 2 of 3" and one not in head
        shown = browser.execute_script(
            "return document.getElementById('request-reason').textContent"
        )
        assert shown == REASON  # as text: no element made of it, nothing run
        assert browser.execute_script(
            "return document.querySelectorAll('#requests img').length === 0 && !window.hit"
        )
        keys(browser, "t", "Right: your second sentence says it. 3 of 3.", "\ue00c")  # Esc
        keys(browser, "p", "3", "\ue007", "g")  # Enter leaves the field; g gives the points
        wait(browser, f"{COUNT} === '1'")
        head = browser.execute_script("return document.getElementById('request-head').textContent")
        assert head.startswith(f"{alias[two]} · {TEST} · now ")
        keys(browser, "t", "The accuracy is measured on the hidden split.", "\ue00c", "m")
        wait(browser, f"{COUNT} === '0'")
        assert (
            browser.execute_script("return document.getElementById('request-status').textContent")
            == f"answered {alias[two]} · {TEST} (the mark stands); no open request left"
        )
    assert _history(course)[2:] == [
        (one, SPEAKER, "answered", "Right: your second sentence says it. 3 of 3.", "3", "kim"),
        (two, TEST, "answered", "The accuracy is measured on the hidden split.", "", "kim"),
    ]
    mark = MarkStore(course / "grades", [one]).marks()[SPEAKER][one]
    assert (mark.items, mark.adjust, mark.comment, mark.by) == (
        ("scale", "training"), 1.0, "Say more.", "kim")  # fmt: skip
    assert "0 open request(s)" in kws(course, "requests", "list", "grades")
    kws(course, "feedback", "grades", "--out", "feedback")
    page = (course / "feedback" / one / "speaker_id.html").read_text(encoding="utf-8")
    asked = page.split("Your regrade requests")[1]
    assert "Right: your second sentence says it. 3 of 3." in asked and "now 3" in asked
    assert "3 / 3" in page and "<img src=x" not in page
    page = (course / "feedback" / two / "speaker_id.html").read_text(encoding="utf-8")
    assert "The accuracy is measured on the hidden split." in page.split("Your regrade")[1]


def test_an_answer_while_another_command_holds_the_folder_is_refused_and_kept(tmp_path):
    """`kws season` (another terminal) holds the grades folder: the page's answer is refused
    with 423, naming that command, and nothing is written; the request stays in the queue and
    is answered once the command ends. Without the page's token, refused before anything."""
    course = seasoned_class(tmp_path)
    _asked(course, students=1)
    grades, one = course / "grades", student_name(1)
    with serving(grades) as server:
        answer = {"alias": server.session.alias[one], "question": SPEAKER, "points": 3,
                  "reply": "Right: 3 of 3."}  # fmt: skip
        status, _, _ = ask(server, "POST", "/api/requests/answer", answer, token=False)
        assert status == 403
        before = {
            name: (grades / name).read_bytes()
            for name in ("requests.csv", "marks/marks.json", "gradebook.csv")
        }
        code = ("import sys; from kws.grading.records.lock import holding\n"
                "with holding(sys.argv[1], 'kws season', scope='season'):\n"
                "    print('held', flush=True); sys.stdin.read()")  # fmt: skip
        holder = subprocess.Popen([sys.executable, "-c", code, str(grades)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert holder.stdout.readline() == "held\n"
            status, _, body = ask(server, "POST", "/api/requests/answer", answer)
            said = body.decode()
            assert status == 423 and f"`kws season` (pid {holder.pid} on " in said
            assert "nothing was recorded" in said and "--wait" not in said
            assert {name: (grades / name).read_bytes() for name in before} == before
        finally:
            holder.communicate("")
        status, _, body = ask(server, "GET", "/api/requests")
        assert status == 200 and b'"reason": "I said BatchNorm1d' in body
        status, _, body = ask(server, "POST", "/api/requests/answer", answer)
        assert status == 200 and body == b'{"requests": []}'
    assert _history(course)[-1] == (one, SPEAKER, "answered", "Right: 3 of 3.", "3", "kim")
