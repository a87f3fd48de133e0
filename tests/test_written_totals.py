"""The written answers' marks everywhere grades go, as an instructor runs it from the course
folder: `kws season` counts them into each notebook's raw score (and the questions' points into
its maximum, so a late penalty takes its share of the whole), `kws adjust` stays on top, and
`kws export` refuses marks it has not counted yet, and answers no one marked (unless
``--unmarked zero``). The marks are given through `kws mark`'s HTTP API, as the page gives them;
a mark saved while `kws grade` writes the folder is kept and counted by the next `kws season`."""

import csv
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path

import pytest
from course_helpers import ROOT
from in_process import kws_here
from marking_class import student_name, write_class

from kws.grading.marking.server import MarkServer
from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import read_seal

STUDENTS = 4
QUESTIONS = ("keyword_spotting/token-budget", "patch_transformer/patchout-test-time",
             "speaker_id/norm-classifier")  # fmt: skip
COURSE = """
timezone = "UTC"
grace_minutes = 0
grace_days = 0

[late]
per_day = 0.10
cap = 0.50

[due]
keyword_spotting = "2026-10-02 23:59"
speaker_id = "2026-10-16 23:59"
patch_transformer = "2026-10-30 23:59"
"""
# Every hand-in on time but student001's speaker ID: a few hours late, one day's 10 %.
TIMES = (
    "student,assignment,submitted\n"
    + "".join(f"{student_name(n)},,2026-10-01T09:00:00+00:00\n" for n in range(STUDENTS))
    + f"{student_name(1)},speaker_id,2026-10-17T05:00:00+00:00\n"
)
ROSTER = "Student,ID,SIS User ID,SIS Login ID,Section,folder\n" + "".join(
    f"Student {n},{100 + n},,,A,{student_name(n)}\n" for n in range(STUDENTS)
)


def kws(cwd, *args, ok=True):
    done = kws_here(cwd, *args)  # as typed in the course folder, in this process
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done.stdout + done.stderr


def exported(course) -> dict[str, float]:
    with open(course / "canvas.csv", newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    return {row["Student"]: float(row["kws total"]) for row in rows[1:]}


def code_points(number: int, assignment: str) -> float:
    """What `marking_class` graded of student `number`'s code in `assignment`."""
    accuracy = 5.0 * round(0.5 + (number % 40) / 100, 4)
    return accuracy + (2.0 if assignment == "speaker_id" else 0.0)


class Page:
    """`kws mark`'s server on the course's grades, asked as the page's own script asks it."""

    def __init__(self, grades):
        self.session = MarkingSession(grades, solutions=ROOT / "solutions", grader="kim")
        self.server = MarkServer(self.session)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def post(self, path, body):
        port, token = self.server.port, self.server.token
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, body=json.dumps(body), headers={
            "Host": f"127.0.0.1:{port}", "Cookie": f"{self.server.cookie}={token}",
            "Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}",
            "X-KWS-Token": token})  # fmt: skip
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read()))
        connection.close()
        return answer

    def mark(self, key, number, items, comment=""):
        alias = self.session.alias[student_name(number)]
        body = {"key": key, "aliases": [alias], "items": items, "comment": comment}
        status, answer = self.post("/api/mark", body)
        assert status == 200, answer
        return answer

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def seasoned_class(tmp_path: Path) -> Path:
    """The graded class of these tests in ``tmp_path/course``, its course file, times and roster
    written, and `kws season` run on it."""
    course = write_class(tmp_path / "course", STUDENTS)
    (course / "course.toml").write_text(COURSE)
    (course / "times.csv").write_text(TIMES)
    (course / "roster.csv").write_text(ROSTER)
    kws(course, "season", "grades", "--course", "course.toml", "--times", "times.csv")
    return course


@pytest.fixture
def course(tmp_path):
    return seasoned_class(tmp_path)


def test_the_marks_reach_the_standings_the_gradebook_and_the_export(course):
    grades = course / "grades"
    export = ("export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv")
    page = Page(grades)  # the questions are in the records already: `kws season` put them
    try:
        kws(course, "season", "grades")  # student003's blank answers, which the page marked 0
        said = kws(course, *export, ok=False)
        assert f"{3 * (STUDENTS - 1)} written answers not marked yet" in said
        assert "`kws mark grades`" in said and "--unmarked zero" in said
        kws(course, *export, "--unmarked", "zero")  # the instructor's choice: 0 for now
        kws(course, "feedback", "grades", "--out", "early")
        page_text = (course / "early" / student_name(1) / "speaker_id.html").read_text()
        assert "<h2>Written answers</h2>" in page_text and "not marked yet" in page_text
        code = {n: sum(code_points(n, a) for a in ("keyword_spotting", "patch_transformer",
                                                   "speaker_id")) for n in range(STUDENTS)}  # fmt: skip
        late = 0.10 * (5.0 + 2.0 + 3.0)  # a tenth of speaker ID's whole maximum, written too
        assert exported(course) == pytest.approx(
            {f"Student {n}": code[n] - (late if n == 1 else 0) for n in range(STUDENTS)}
        )

        for n in range(STUDENTS):  # every answer: two items, three for student001's speaker ID
            for key in QUESTIONS:
                items = (
                    ["scale", "training", "normalizes"] if (n, key[:7]) == (1, "speaker") else None
                )
                page.mark(key, n, items or _first_two(page, key), comment=f"seen {n}")
        kws(course, *export, ok=False)  # marked since the standings: refused until counted
        kws(course, "season", "grades")
        kws(course, *export)
        assert exported(course) == pytest.approx(
            {
                f"Student {n}": code[n] + 6.0 + (1.0 - late if n == 1 else 0)
                for n in range(STUDENTS)
            }  # fmt: skip
        )
        standings = json.loads((grades / "standings.json").read_text())
        assert standings["assignments"]["speaker_id"]["written"] == 3.0
        assert standings["assignments"]["speaker_id"]["maximum"] == 10.0
        entry = standings["students"][student_name(1)]["speaker_id"]
        assert entry["written"] == 3.0 and entry["unmarked"] == 0
        assert entry["late"]["penalty"] == pytest.approx(late)
        kws(course, "feedback", "grades", "--out", "feedback")
        shown = (course / "feedback" / student_name(1) / "speaker_id.html").read_text()
        rubric = page.session.store.rubrics()[QUESTIONS[2]]
        assert all(f"{escape(item.text)} (+1)" in shown for item in rubric.items)
        assert "<pre>seen 1</pre>" in shown and "3 / 3" in shown
        assert 'Written answers</td><td class="n">3</td>' in shown.replace("\n", "")
        other = (course / "feedback" / student_name(2) / "speaker_id.html").read_text()
        assert escape(rubric.items[2].text) not in other  # the item not given is not listed
        with open(grades / "gradebook.csv", newline="") as file:
            row = next(r for r in csv.DictReader(file) if r["student"] == student_name(1))
        assert float(row["speaker_id written"]) == 3.0
        assert float(row["speaker_id raw"]) == pytest.approx(code_points(1, "speaker_id") + 3)

        # A rubric item worth more reaches every mark that gives it, once counted again; the
        # items may not give more than the question's 3 points: one no answer has goes down.
        raise_first = {"key": QUESTIONS[0], "item": "quadratic", "points": 1.5}
        status, answer = page.post("/api/rubric", raise_first)
        assert (
            status == 400 and "would add up to 3.5, more than the question's 3" in answer["error"]
        )
        third = page.session.store.rubrics()[QUESTIONS[0]].items[2].id
        assert (
            page.post("/api/rubric", {"key": QUESTIONS[0], "item": third, "points": 0.5})[0] == 200
        )
        status, _ = page.post("/api/rubric", raise_first)
        assert status == 200
        kws(course, "season", "grades")
        kws(course, "adjust", "grades", student_name(0), "speaker_id", "+1", "--reason", "typo")
        kws(course, *export)
        scores = exported(course)
        kws(course, "report", "grades")
        report = (grades / "report.html").read_text().replace("\n", "")
        section = report[report.index("<h2>Written answers</h2>") :]
        section = section[: section.index("<h2>", 5)]
        row = re.search(r"<tr><td>speaker_id</td>.*?</tr>", section)[0]
        assert '<td class="n">4 / 4</td>' in row and '<td class="n">2.25</td>' in row
        assert "2: 3 · 3: 1" in row  # three answers with two items, student001's with three
        first = escape(rubric.items[0].text)
        assert f"{first} (4 of 4)" in row and f"{escape(rubric.items[2].text)} (1 of 4)" in row
        assert scores["Student 0"] == pytest.approx(code[0] + 6.5 + 1.0)
        assert scores["Student 2"] == pytest.approx(code[2] + 6.5)
    finally:
        page.close()


def _first_two(page, key):
    return [item.id for item in page.session.store.rubrics()[key].items[:2]]


HOLDER = """
import sys, time
from pathlib import Path
from kws.grading.records.lock import CLASS, holding
from kws.grading.records.seal import seal
grades = Path(sys.argv[1])
with holding(grades, "kws grade submissions --out grades", scope=CLASS):
    (grades.parent / "holding").write_text("yes")
    while not (grades.parent / "go").exists():
        time.sleep(0.05)
    (grades / "gradebook.csv").write_text((grades / "gradebook.csv").read_text())
    seal(grades, "kws grade")
"""


def test_a_mark_saved_while_kws_grade_writes_the_folder_is_kept_and_counted(course):
    """The mark is saved at once, and the folder left for the running command to seal: no
    record is half-written, the export refuses until `kws season` counts the new mark."""
    grades = course / "grades"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    page = Page(grades)
    kws(course, "season", "grades")  # the questions counted: 12 answers unmarked
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(grades)], env=env)
    try:
        while not (course / "holding").exists():
            assert holder.poll() is None
            time.sleep(0.05)
        sealed = read_seal(grades)
        page.mark(QUESTIONS[2], 0, ["scale"], comment="saved while grading")
        assert read_seal(grades) == sealed  # not sealed under the running command
        assert page.session.store.sealed is False
        (course / "go").write_text("go")
        assert holder.wait(timeout=120) == 0
    finally:
        page.close()
        if holder.poll() is None:
            holder.kill()
    store = MarkStore(grades, [student_name(n) for n in range(STUDENTS)])
    assert store.marks()[QUESTIONS[2]][student_name(0)].comment == "saved while grading"
    said = kws(course, "export", "canvas", "grades", "--roster", "roster.csv", "--out",
               "canvas.csv", "--unmarked", "zero", ok=False)  # fmt: skip
    assert "run `kws season grades`" in said
    kws(course, "season", "grades")
    kws(course, "export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv",
        "--unmarked", "zero")  # fmt: skip
    assert exported(course)["Student 0"] == pytest.approx(
        sum(code_points(0, a) for a in ("keyword_spotting", "patch_transformer", "speaker_id"))
        + 1.0
    )


EXPORT = ("export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv")


def test_the_written_questions_count_from_the_first_grade_before_anyone_marks(course):
    """Before `kws mark` ever ran, the questions and their points are in the records: the
    export refuses the tests' points alone, and --unmarked zero exports out of the whole."""
    grades = course / "grades"
    assert not (grades / "marks" / "marks.json").exists()
    assert "marks/rubrics.json" in read_seal(grades)["files"]
    said = kws(course, *EXPORT, ok=False)
    assert f"{3 * STUDENTS} written answers not marked yet" in said and "--unmarked zero" in said
    assert not (course / "canvas.csv").exists()
    kws(course, *EXPORT, "--unmarked", "zero")
    with open(course / "canvas.csv", newline="", encoding="utf-8") as file:
        possible = list(csv.reader(file))[1]
    assert float(possible[-1]) == 3 * (5.0 + 3.0) + 2.0  # three notebooks' tests and questions


def _marked(course):
    """Every answer of student000 and student002 marked through the page, counted, and
    exported with the others' as 0: the export the lost marks must give back."""
    page = Page(course / "grades")
    try:
        for n in (0, 2):
            for key in QUESTIONS:
                page.mark(key, n, _first_two(page, key), comment=f"seen {n}")
    finally:
        page.close()
    kws(course, "season", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    return (course / "canvas.csv").read_text()


@pytest.mark.parametrize("lost", ["marks.json", "marks/", "marks.json cut short"])
def test_lost_marks_are_refused_and_rebuilt_from_their_history(course, lost):
    """C2: marks.json removed (or cut short), or the whole marks/ folder: never read as "no
    marks". The export refuses with or without --unmarked zero, `kws season` refuses naming
    `kws marks restore`, which rebuilds the marks from history.jsonl; without the history,
    the refusal says to restore marks/ from a backup."""
    grades = course / "grades"
    exported = _marked(course)
    marks = grades / "marks" / "marks.json"
    if lost == "marks/":
        import shutil

        shutil.rmtree(grades / "marks")
    elif lost == "marks.json":
        marks.unlink()
    else:
        marks.write_bytes(marks.read_bytes()[:200])
    (course / "canvas.csv").unlink()
    for unmarked in ("refuse", "zero"):
        said = kws(course, *EXPORT, "--unmarked", unmarked, ok=False)
        fix = "restore grades/marks from a backup" if lost == "marks/" else "kws marks restore"
        assert fix in said, said
    said = kws(course, "season", "grades", ok=False)
    if lost == "marks/":
        assert "restore grades/marks from a backup" in said
        assert not (course / "canvas.csv").exists()
        return
    assert "grades/marks/marks.json" in said and "`kws marks restore grades`" in said
    said = kws(course, "marks", "restore", "grades")
    assert "rebuilt grades/marks/marks.json from grades/marks/history.jsonl" in said
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == exported


def test_a_mark_taken_back_stays_taken_back_when_the_marks_are_rebuilt(course):
    """A mark taken back in `kws mark` (unmarked again) is not given back by
    `kws marks restore`: the rebuilt marks export as they did before marks.json was lost."""
    grades = course / "grades"
    _marked(course)
    store = MarkStore(grades, [student_name(n) for n in range(STUDENTS)])
    store.unmark(QUESTIONS[0], [student_name(2)], by="ta")
    kws(course, "season", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    exported = (course / "canvas.csv").read_text()
    (grades / "marks" / "marks.json").unlink()
    kws(course, "marks", "restore", "grades")
    assert student_name(2) not in MarkStore(grades, ()).marks()[QUESTIONS[0]]
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == exported


@pytest.mark.parametrize(
    "edit, said",
    [
        (("points", float("nan")), "its points nan is not a number of points"),
        (("points", -3.0), "points -3.0: a question is worth more than 0"),
        (("points", "1,5"), "its points '1,5' is not a number of points; write 1.5"),
        (("item", 1000.0), "gives 1000.0 points; an item gives between -3 and 3, not 0"),
        (("points", 5.0), "is worth 5 points there, 3 in its notebook"),
    ],
    ids=["nan", "negative", "decimal-comma", "1000-point-item", "points-changed"],
)
def test_a_rubric_edited_by_hand_with_a_wrong_value_is_refused_naming_the_file(course, edit, said):
    """C4: every value read back from rubrics.json is checked as when it was typed: the export
    refuses the edit, and `kws season` (its advice) refuses it too, naming the file, the
    question and the fix, writing nothing; put back, the grades are as they were."""
    grades = course / "grades"
    exported = _marked(course)
    path = grades / "marks" / "rubrics.json"
    whole = path.read_text()
    data = json.loads(whole)
    question = data["questions"][QUESTIONS[2]]
    if edit[0] == "item":
        question["items"][0]["points"] = edit[1]
    else:
        question["points"] = edit[1]
    path.write_text(json.dumps(data))
    kws(course, *EXPORT, "--unmarked", "zero", ok=False)
    before = {p: p.read_bytes() for p in grades.rglob("*") if p.is_file()}
    refused = kws(course, "season", "grades", ok=False)
    assert said in refused and QUESTIONS[2] in refused, refused
    assert "rubrics.json" in refused
    assert {p: p.read_bytes() for p in grades.rglob("*") if p.is_file()} == before
    if "`kws marks restore grades`" in refused:  # the advice followed: rebuilt from history
        kws(course, "marks", "restore", "grades")
    else:  # the question's points are the notebook's: put back by hand, as it says
        assert "set its points back to 3" in refused
        path.write_text(whole)
        kws(course, "season", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == exported
