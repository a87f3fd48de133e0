"""`kws marks restart`: the marks started afresh when ``marks/`` is gone with its history and no
backup is left, as an instructor meets it from the course folder. Every command that reads
marks names it; it says what is lost and changes nothing without --lose-marks; with it, every
written answer is unmarked again, and marking them again leads back to the export. It is
refused while the marks can still be had."""

import shutil

import pytest
from course_helpers import ROOT
from marking_class import student_name
from test_written_totals import EXPORT, QUESTIONS, STUDENTS, Page, _first_two, _marked, course, kws

from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.rubric import MarksError

__all__ = ["course"]  # the class of test_written_totals, graded and counted

RESTART = "`kws marks restart grades --lose-marks`"


def _files(grades) -> dict:
    return {p: p.read_bytes() for p in grades.rglob("*") if p.is_file() and p.name != "run.lock"}


def test_marks_lost_with_their_history_start_afresh_and_lead_back_to_the_export(course):
    grades = course / "grades"
    right = _marked(course)  # six answers of student000 and student002 marked, 4 points each
    shutil.rmtree(grades / "marks")  # no history, no backup
    (course / "canvas.csv").unlink()
    for command in (EXPORT, ("season", "grades"), ("feedback", "grades", "--out", "fb")):
        said = kws(course, *command, ok=False)
        assert "restore grades/marks from a backup" in said and RESTART in said, said
    with pytest.raises(MarksError, match="kws marks restart .*grades --lose-marks"):
        MarkingSession(grades, solutions=ROOT / "solutions", grader="kim")

    before = _files(grades)
    said = kws(course, "marks", "restart", "grades", ok=False)  # what it loses, first
    assert "starting the marks afresh loses:" in said
    # with student003's blank answers, which `kws mark` marked 0
    assert "the marks of 9 written answer(s) of 3 student(s), 12 points in all" in said
    assert f"{student_name(0)} 6, {student_name(2)} 6" in said
    assert "the notebooks' rubrics are used again" in said
    assert "nothing was changed" in said and "--lose-marks" in said
    assert _files(grades) == before

    said = kws(course, "marks", "restart", "grades", "--lose-marks")
    assert "started the marks of grades afresh" in said and "12 points in all" in said
    assert "`kws mark grades`" in said
    said = kws(course, *EXPORT, ok=False)  # every answer unmarked: refused, never 0
    assert f"{3 * STUDENTS} written answers not marked yet" in said
    kws(course, "marks", "restore", "grades")  # the new history agrees with the new marks
    page = Page(grades)
    try:
        for n in (0, 2):
            for key in QUESTIONS:
                page.mark(key, n, _first_two(page, key), comment=f"seen {n}")
    finally:
        page.close()
    kws(course, "season", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right


def test_a_restart_is_refused_while_the_marks_can_be_had(course):
    grades = course / "grades"
    _marked(course)
    before = _files(grades)
    said = kws(course, "marks", "restart", "grades", "--lose-marks", ok=False)
    assert "grades/marks/marks.json holds the marks grades/records.json sealed" in said
    assert "nothing is lost, and nothing was changed" in said
    (grades / "marks" / "marks.json").unlink()  # lost, but the history gives it back
    said = kws(course, "marks", "restart", "grades", "--lose-marks", ok=False)
    assert "gives back the marks grades/records.json sealed" in said
    assert "`kws marks restore grades`" in said
    del before[grades / "marks" / "marks.json"]
    assert _files(grades) == before


def test_a_history_that_cannot_give_the_marks_back_is_moved_aside_by_a_restart(course):
    """A history edited by hand, marks.json lost: the restore refuses and names the restart,
    which keeps what was left of marks/ aside, never counted."""
    grades = course / "grades"
    _marked(course)
    history = grades / "marks" / "history.jsonl"
    history.write_text(history.read_text().replace('"items": ["', '"items": ["x'))
    (grades / "marks" / "marks.json").unlink()
    said = kws(course, "marks", "restore", "grades", ok=False)
    assert RESTART in said
    edited = history.read_bytes()
    said = kws(course, "marks", "restart", "grades", "--lose-marks")
    [aside] = grades.glob("marks-lost-*")
    assert f"what was left of grades/marks is in {aside.relative_to(course)}" in said
    assert (aside / "history.jsonl").read_bytes() == edited
    said = kws(course, *EXPORT, ok=False)
    assert f"{3 * STUDENTS} written answers not marked yet" in said
