"""`kws override`: a TA gives one autograded test of one student other points, with a reason,
typed in the course folder; the gradebook, standings, exports and the student's feedback page
count it, ``overrides.csv`` keeps every decision, and a regrade keeps it or says why not.

The class is written with the grader's own writers (results.json, gradebook, run.json), as in
tests/test_season.py, so the commands read what `kws grade` writes.
"""

import csv
from pathlib import Path

import nbformat
import pytest
from in_process import kws_here

from kws.grading.classrun.regrade import replace_row
from kws.grading.judge.document import TestResult, results_document, write_results
from kws.grading.records.gradebook import Graded, write_gradebook, write_run_record
from kws.spec import ASSIGNMENTS

KS = "keyword_spotting"
TESTS = (("ks task", 10.0), ("ks accuracy", 20.0))
ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,folder\nAnn,1,S1,ann,A,ann\nBob,2,S2,bob,A,bob\n"
)
REASON = "the test timed out on a loaded machine"


def _document(points: dict[str, float], *more: TestResult) -> dict:
    tests = []
    for title, maximum in TESTS:
        if title in points:
            got = float(points[title])
            status = "passed" if got == maximum else "failed"
            facts = {"assignment": KS, "test": title.replace(" ", "_")}
            tests.append(TestResult(title, got, maximum, status, "", "visible", facts))
    return results_document([*tests, *more], output="", execution_time=3)


def _graded(course: Path, student: str, points: dict[str, float], *more: TestResult) -> Graded:
    graded = Graded(student, _document(points, *more), "", 4.0)
    write_results(course / "grades" / "results" / f"{student}.json", graded.document)
    return graded


@pytest.fixture
def course(tmp_path) -> Path:
    """The TA's folder after `kws grade submissions --out grades` and `kws season grades`:
    ann passed both tests, bob's Task 1 test failed (0 of 10)."""
    course = tmp_path / "course"
    graded = []
    for student, points in (("ann", {"ks task": 10, "ks accuracy": 20}),
                            ("bob", {"ks task": 0, "ks accuracy": 20})):  # fmt: skip
        handin = course / "submissions" / student
        handin.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), handin / ASSIGNMENTS[KS].notebook)
        graded.append(_graded(course, student, points))
    write_gradebook(graded, course / "grades" / "gradebook.csv")
    write_run_record(course / "grades", course / "submissions", course / "data", None)
    (course / "roster.csv").write_text(ROSTER)
    kws(course, "season", "grades")
    return course


def kws(course: Path, *args: str) -> str:
    done = kws_here(course, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def refused(course: Path, *args: str) -> str:
    done = kws_here(course, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def _row(course: Path, student: str) -> dict[str, str]:
    rows = csv.DictReader(open(course / "grades" / "gradebook.csv", encoding="utf-8"))
    return next(row for row in rows if row["student"] == student)


def _canvas(course: Path) -> dict[str, str]:
    kws(course, "export", "canvas", "grades", "--roster", "roster.csv", "--out", "canvas.csv",
        "--unmarked", "zero")  # fmt: skip
    lines = (course / "canvas.csv").read_text(encoding="utf-8-sig").splitlines()[2:]
    return {line.split(",")[0]: line.split(",")[-1] for line in lines}


def test_an_override_is_counted_everywhere_and_shown_to_the_student(course):
    assert _row(course, "bob")["ks task"] == "0.0" and _canvas(course)["Bob"] == "20"
    printed = kws(course, "override", "grades", "bob", "ks task", "8", "--reason", REASON,
                  "--who", "TA Kim")  # fmt: skip
    assert "bob 'ks task': graded 0, counts 8 of 10; keyword_spotting raw 28, final 28" in printed
    row = _row(course, "bob")
    assert (row["ks task"], row[f"{KS} raw"], row["total"]) == ("8.0", "28.0", "28.0")
    assert _row(course, "ann")["total"] == "30.0"  # no one else's test moves
    assert _canvas(course)["Bob"] == "28"  # the export counts it (and checks the seal)

    kws(course, "feedback", "grades", "--out", "feedback")
    page = (course / "feedback" / "bob" / f"{KS}.html").read_text(encoding="utf-8")
    assert "Tests your instructor changed" in page and f"{REASON} (TA Kim" in page
    changed = page.split("Tests your instructor changed")[1]
    assert "<td>ks task</td>" in changed and ">0<" in changed and ">8<" in changed
    assert "Tests your instructor changed" not in (
        course / "feedback" / "ann" / f"{KS}.html"
    ).read_text(encoding="utf-8")

    again = kws(course, "override", "grades", "bob", "ks task", "8", "--reason", REASON,
                "--who", "TA Kim")  # fmt: skip
    assert "was recorded already, by TA Kim" in again
    kws(course, "override", "grades", "bob", "ks task", "--withdraw", "--reason", "asked twice")
    assert _row(course, "bob")["total"] == "20.0" and _canvas(course)["Bob"] == "20"
    history = list(csv.DictReader(open(course / "grades" / "overrides.csv", encoding="utf-8")))
    assert [(h["points"], h["original"], h["reason"]) for h in history] == [
        ("8", "0", REASON), ("", "0", "asked twice")]  # fmt: skip


def test_a_regrade_keeps_the_override_and_says_what_changed_under_it(course):
    kws(course, "override", "grades", "bob", "ks task", "8", "--reason", REASON)
    replace_row(course / "grades", _graded(course, "bob", {"ks task": 5, "ks accuracy": 20}))
    printed = kws(course, "season", "grades")  # what `kws grade --student bob` runs after it
    assert ("note: bob's test 'ks task' was graded 0 when it was overridden to 8, and is "
            "graded 5 now: the override still counts; confirm it with `kws override GRADES "
            "bob 'ks task' POINTS") in printed  # fmt: skip
    assert _row(course, "bob")["total"] == "28.0"
    printed = kws(course, "override", "grades", "bob", "ks task", "8", "--reason", REASON)
    assert "graded 5, counts 8 of 10" in printed and "overridden to" not in printed  # settled

    replace_row(course / "grades", _graded(course, "bob", {"ks accuracy": 20}))  # test gone
    printed = kws(course, "season", "grades")
    assert "note: bob's results have no test 'ks task' (graded again without it): its " in printed
    assert _row(course, "bob")["total"] == "20.0"
    assert "ks task" in (course / "grades" / "overrides.csv").read_text()  # kept, not dropped


def test_kws_override_refuses_what_it_cannot_record_with_the_fix(course):
    assert "'zed' is not in grades's gradebook; its students: ann, bob" in refused(
        course, "override", "grades", "zed", "ks task", "8", "--reason", REASON
    )
    said = refused(course, "override", "grades", "bob", "task 1", "8", "--reason", REASON)
    assert "bob's results have no test 'task 1'; their tests: 'ks task', 'ks accuracy'" in said
    said = refused(course, "override", "grades", "bob", "ks task", "12", "--reason", REASON)
    assert "12 points is outside 0 to 10, the points of 'ks task'" in said
    assert "write 7.5" in refused(
        course, "override", "grades", "bob", "ks task", "7,5", "--reason", REASON
    )
    assert "an override needs a reason" in refused(
        course, "override", "grades", "bob", "ks task", "8", "--reason", " "
    )
    assert "has no override to withdraw" in refused(
        course, "override", "grades", "bob", "ks task", "--withdraw", "--reason", REASON
    )
    assert not (course / "grades" / "overrides.csv").exists()


def test_an_override_edited_by_hand_is_refused_by_the_export(course):
    kws(course, "override", "grades", "bob", "ks task", "8", "--reason", REASON)
    path = course / "grades" / "overrides.csv"
    path.write_text(path.read_text().replace(",8,0,", ",10,0,"))
    said = refused(course, "export", "canvas", "grades", "--roster", "roster.csv",
                   "--unmarked", "zero")  # fmt: skip
    assert "overrides.csv changed since `kws override` recorded the grades" in said


def test_an_override_of_a_hidden_test_is_listed_without_naming_the_test(course):
    """bob's results hold a hidden test (graded after the hand-in, on speakers he never saw):
    overridden, his page lists "a test not shown here" with the points and the reason, and
    nothing of the test itself; the total counts it."""
    secret = "ks unseen speakers"
    hidden = TestResult(secret, 0.0, 5.0, "failed", "accuracy 0.41 on speakers S7 and S9",
                        "hidden", {"assignment": KS, "test": "unseen"})  # fmt: skip
    replace_row(course / "grades", _graded(course, "bob", {"ks task": 0, "ks accuracy": 20},
                                           hidden))  # fmt: skip
    kws(course, "season", "grades")
    printed = kws(course, "override", "grades", "bob", secret, "4", "--reason",
                  "The check counted a silent clip against you", "--who", "TA Kim")  # fmt: skip
    assert f"'{secret}' is not shown to students" in printed
    assert _row(course, "bob")["total"] == "24.0"

    kws(course, "feedback", "grades", "--out", "feedback")
    page = (course / "feedback" / "bob" / f"{KS}.html").read_text(encoding="utf-8")
    changed = page.split("Tests your instructor changed")[1]
    assert "<td>a test not shown here</td>" in changed and ">4<" in changed
    assert "The check counted a silent clip against you (TA Kim" in changed
    assert secret not in page and "S7" not in page  # its name and message stay hidden
    assert "1 test is not shown here" in page
