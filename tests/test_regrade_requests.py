"""`kws requests`: a student's regrade request goes from the CSV a form exported to the TA's
answer on the student's feedback page, through the commands a TA types in the course folder;
the export waits for every request to be answered."""

import csv
import subprocess
import sys

import pytest
from marking_class import student_name
from test_marks_import import SPEAKER
from test_overrides import KS, _canvas, _graded, _row, course, kws, refused  # noqa: F401 - the fixture
from test_written_totals import STUDENTS, exported, seasoned_class

from kws.grading.judge.document import TestResult
from kws.grading.records.gradebook import write_gradebook
from kws.grading.records.marks.store import MarkStore

COURSE = """timezone = "Europe/Berlin"

[due]
keyword_spotting = "2026-10-02 23:59"

[requests]
keyword_spotting = "2026-10-20 23:59"
"""
# As Google Forms exports it: a byte-order mark, a Timestamp month first, its own headers.
FORM = (
    "\ufeffTimestamp,Student (your hand-in folder),Which question?,Reason for the request\r\n"
    "10/15/2026 14:03:11,bob,ks task,My model trains fine but the test timed out\r\n"
    "10/25/2026 09:00:00,ann,ks accuracy,Asked after the deadline\r\n"
)
REPLY = "The test timed out on our machine: 8 of 10 for Task 1."


def test_a_request_goes_from_the_form_to_the_answer_on_the_feedback_page(course):  # noqa: F811
    (course / "course.toml").write_text(COURSE)
    (course / "times.csv").write_text("student,assignment,submitted\nann,,2026-10-01 10:00\n"
                                      "bob,,2026-10-01 10:00\n")  # fmt: skip
    kws(course, "season", "grades", "--course", "course.toml", "--times", "times.csv")
    (course / "form.csv").write_text(FORM, encoding="utf-8")
    printed = kws(course, "requests", "import", "grades", "form.csv")
    assert "imported 1 request(s) from form.csv" in printed
    assert "refused 1 after the deadline of the course file's [requests]: line 3 (ann" in printed
    assert "imported 0 request(s)" in kws(course, "requests", "import", "grades", "form.csv")
    assert "bob ks task: My model trains fine" in kws(course, "requests", "list", "grades")

    said = refused(course, "export", "canvas", "grades", "--roster", "roster.csv", "--unmarked",
                   "zero")  # fmt: skip
    assert "1 regrade request(s) not answered yet: bob (ks task)" in said
    assert "--open-requests keep" in said
    printed = kws(course, "export", "canvas", "grades", "--roster", "roster.csv", "--out",
                  "now.csv", "--unmarked", "zero", "--open-requests", "keep")  # fmt: skip
    assert "exported with 1 regrade request(s) open, at their marks as they are now" in printed
    assert "  bob ks task: My model trains fine but the test timed out" in printed
    lines = (course / "now.csv").read_text(encoding="utf-8-sig").splitlines()[2:]
    assert {line.split(",")[0]: line.split(",")[-1] for line in lines} == {"Ann": "30", "Bob": "20"}

    printed = kws(course, "requests", "answer", "grades", "bob", "ks task", "--points", "8",
                  "--reply", REPLY, "--who", "TA Kim")  # fmt: skip
    assert "bob ks task: answered (now 8)" in printed
    assert _row(course, "bob")["total"] == "28.0" and _canvas(course)["Bob"] == "28"
    history = list(csv.DictReader(open(course / "grades" / "requests.csv", encoding="utf-8")))
    assert [(h["event"], h["points"], h["who"]) for h in history] == [
        ("asked", "", "bob"), ("answered", "8", "TA Kim")]  # fmt: skip
    assert history[0]["when"] == "2026-10-15T12:03:11+00:00"  # the form's time, in Berlin

    kws(course, "feedback", "grades", "--out", "feedback")
    page = (course / "feedback" / "bob" / f"{KS}.html").read_text(encoding="utf-8")
    asked = page.split("Your regrade requests")[1]
    assert "My model trains fine but the test timed out" in asked and REPLY in asked
    assert "now 8" in asked and "answer (TA Kim)" in asked
    assert "Your regrade requests" not in (course / "feedback" / "ann" / f"{KS}.html").read_text()


def test_a_request_about_an_unknown_student_or_question_imports_nothing(course):  # noqa: F811
    (course / "form.csv").write_text("student,question,reason\nbob,ks task,why\nzed,ks task,x\n")
    said = refused(course, "requests", "import", "grades", "form.csv")
    assert "form.csv, line 3: no student 'zed'" in said and "nothing was imported" in said
    (course / "form.csv").write_text("student,question,reason\nbob,task 9,why\n")
    assert "form.csv, line 2: no question 'task 9'" in refused(
        course, "requests", "import", "grades", "form.csv"
    )
    assert not (course / "grades" / "requests.csv").exists()
    said = refused(course, "requests", "answer", "grades", "bob", "ks task", "--keep",
                   "--reply", "no")  # fmt: skip
    assert "bob has no request about 'ks task'" in said


def test_an_answer_while_another_command_writes_the_grades_records_nothing(course):  # noqa: F811
    """A TA answers while `kws season` (another terminal) holds the folder: refused naming it,
    and neither the override nor the answer is written; answered again once it ends."""
    (course / "form.csv").write_text("student,question,reason\nbob,ks task,it timed out\n")
    kws(course, "requests", "import", "grades", "form.csv")
    grades = course / "grades"
    before = {name: (grades / name).read_bytes() for name in ("requests.csv", "gradebook.csv")}
    code = ("import sys; from kws.grading.records.lock import holding\n"
            "with holding(sys.argv[1], 'kws season', scope='season'):\n"
            "    print('held', flush=True); sys.stdin.read()")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(grades)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        said = refused(course, "requests", "answer", "grades", "bob", "ks task", "--points",
                       "8", "--reply", REPLY)  # fmt: skip
        assert f"`kws season` (pid {holder.pid} on " in said and "--wait" in said
        assert not (grades / "overrides.csv").exists()
        assert {name: (grades / name).read_bytes() for name in before} == before
    finally:
        holder.communicate("")
    assert "bob ks task: answered (now 8)" in kws(
        course, "requests", "answer", "grades", "bob", "ks task", "--points", "8", "--reply", REPLY
    )
    assert _row(course, "bob")["total"] == "28.0"


def test_a_written_answer_given_points_by_an_answer_is_marked_shown_and_exported(tmp_path):
    """student001 asks about their written answer to norm-classifier (2 of 3: two items); the
    TA answers with --points 3: the mark is saved again with its items and comment and the
    point beyond them, the feedback page shows 3 of 3 and the reply, the export counts it."""
    folder = seasoned_class(tmp_path)
    one = student_name(1)
    (folder / "marks.csv").write_text(
        f"student,question,items,points,comment\n{one},{SPEAKER},scale training,,Say more.\n"
    )
    kws(folder, "marks", "import", "grades", "marks.csv", "--grader", "lee")
    kws(folder, "season", "grades")
    export = ("export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv",
              "--unmarked", "zero")  # fmt: skip
    kws(folder, *export)
    before = exported(folder)
    (folder / "form.csv").write_text(
        f"student,question,reason\n{one},norm-classifier,I did say that BatchNorm1d normalizes\n"
    )
    kws(folder, "requests", "import", "grades", "form.csv")
    reply = "Right: the third sentence says it. 3 of 3."
    printed = kws(folder, "requests", "answer", "grades", one, "norm-classifier", "--points",
                  "3", "--reply", reply, "--who", "TA Kim")  # fmt: skip
    assert f"{one} {SPEAKER}: answered (now 3)" in printed

    store = MarkStore(folder / "grades", [student_name(n) for n in range(STUDENTS)])
    mark = store.marks()[SPEAKER][one]
    assert (mark.items, mark.adjust, mark.comment, mark.by) == (
        ("scale", "training"), 1.0, "Say more.", "TA Kim")  # fmt: skip
    kws(folder, "feedback", "grades", "--out", "feedback")
    page = (folder / "feedback" / one / "speaker_id.html").read_text(encoding="utf-8")
    assert "3 / 3" in page and "<pre>Say more.</pre>" in page
    asked = page.split("Your regrade requests")[1]
    assert "I did say that BatchNorm1d normalizes" in asked and reply in asked
    kws(folder, *export)
    after = exported(folder)
    assert after["Student 1"] == pytest.approx(before["Student 1"] + 1.0)
    assert {s: p for s, p in after.items() if s != "Student 1"} == {
        s: p for s, p in before.items() if s != "Student 1"}  # fmt: skip


# A graded test's title as the catalogs hold it: a zh-TW course's feedback page names it in Chinese.
TITLE = (
    "Task 1: SpeakerTransformer ignores padded frames: an utterance gets the logits it gets alone"
)
ASK_COURSE = COURSE.replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\n'
                            'language = "zh-TW"\nregrade_how = "https://forms.example.edu/regrade"')  # fmt: skip


def test_the_feedback_page_says_where_and_until_when_to_ask_in_the_course_language(course):  # noqa: F811
    """The course file's regrade_how (a form's address) and [requests] deadline end each
    feedback page with where to ask, until when, and how to name what is asked about, in the
    course's language; a request naming a test as that page names it (in Chinese) is imported
    under the test's own name, and its answer is shown on the page."""
    from kws.i18n import gettext, speaking

    extra = TestResult(TITLE, 0.0, 5.0, "failed", "", "visible", {"assignment": KS, "test": "pad"})
    graded = [_graded(course, "ann", {"ks task": 10, "ks accuracy": 20}),
              _graded(course, "bob", {"ks task": 0, "ks accuracy": 20}, extra)]  # fmt: skip
    write_gradebook(graded, course / "grades" / "gradebook.csv")
    (course / "course.toml").write_text(ASK_COURSE)
    (course / "times.csv").write_text("student,assignment,submitted\nann,,2026-10-01 10:00\n"
                                      "bob,,2026-10-01 10:00\n")  # fmt: skip
    kws(course, "season", "grades", "--course", "course.toml", "--times", "times.csv")
    with speaking("zh-TW"):
        named = gettext(TITLE)
    assert named != TITLE and "SpeakerTransformer" in named  # the page's name, in Chinese
    (course / "form.csv").write_text(f"Timestamp,student,question,reason\n10/15/2026 14:03:11,bob,{named},有做遮罩\n",
                                     encoding="utf-8")  # fmt: skip
    assert "imported 1 request(s)" in kws(course, "requests", "import", "grades", "form.csv")
    asked = list(csv.DictReader(open(course / "grades" / "requests.csv", encoding="utf-8")))
    assert [(a["student"], a["question"]) for a in asked] == [("bob", TITLE)]
    kws(course, "requests", "answer", "grades", "bob", TITLE, "--keep", "--reply", "遮罩沒有用到")

    kws(course, "feedback", "grades", "--out", "feedback")
    for student in ("ann", "bob"):
        page = (course / "feedback" / student / f"{KS}.html").read_text(encoding="utf-8")
        ask = page.split("<h2>對分數有疑問？</h2>")[1].split("</p>")[0]
        assert "一次只詢問一項測試或一題書面作答" in ask
        assert 'href="https://forms.example.edu/regrade"' in ask
        assert "請在 2026-10-20 23:59" in ask and "前提出" in ask
    assert "遮罩沒有用到" in (course / "feedback" / "bob" / f"{KS}.html").read_text(
        encoding="utf-8"
    )


def test_a_course_without_regrade_requests_adds_nothing_and_a_bad_how_is_refused(course):  # noqa: F811
    kws(course, "feedback", "grades", "--out", "feedback")
    page = (course / "feedback" / "bob" / f"{KS}.html").read_text(encoding="utf-8")
    assert "A question about a mark?" not in page and 'id="ask"' not in page
    (course / "course.toml").write_text(
        COURSE.replace('"Europe/Berlin"', '"Europe/Berlin"\nregrade_how = 3')
    )
    said = refused(course, "season", "grades", "--course", "course.toml")
    assert "course.toml" in said and "regrade_how = 3" in said and 'regrade_how = "..."' in said
