"""`kws marks import GRADES FILE.csv`: marks typed in a spreadsheet, recorded as the page
records them (checked by the same function, every row or none), typed by an instructor in the
course folder; a bad row is refused naming the file, the line and the fix, the marks as they
were."""

import codecs
import json

import pytest
from marking_class import student_name
from test_written_totals import QUESTIONS, STUDENTS, Page, kws, seasoned_class

from kws.grading.records.marks.blanks import BLANK_BY
from kws.grading.records.marks.history import history_events
from kws.grading.records.marks.store import MarkStore

SPEAKER = QUESTIONS[2]  # speaker_id/norm-classifier: items scale, training, normalizes (1 each)


@pytest.fixture
def course(tmp_path):
    return seasoned_class(tmp_path)


def marks(course):
    store = MarkStore(course / "grades", [student_name(n) for n in range(STUDENTS)])
    return store.marks()


def test_marks_from_a_spreadsheet_are_recorded_counted_and_shown_as_the_pages(course):
    rows = (
        "student,question,items,points,comment\n"
        f"{student_name(0)},{SPEAKER},scale training,,Say what BatchNorm1d does.\n"
        f"{student_name(1)},norm-classifier,,1.5,\n"  # the id alone: one notebook asks it
        ",,,,\n"  # a row of empty cells a spreadsheet kept
        f"{student_name(2)},{SPEAKER},,0,Not the question asked.\n"  # 0 on purpose
        f'{student_name(3)},{SPEAKER},normalizes,,"A late answer, found in the cell below."\n'
    )
    (course / "marks.csv").write_bytes(codecs.BOM_UTF8 + rows.encode())  # Excel's CSV UTF-8
    said = kws(course, "marks", "import", "grades", "marks.csv", "--grader", "lee")
    assert "imported 4 marks from marks.csv into grades/marks/ (by lee)" in said
    assert "`kws season grades`" in said
    held = marks(course)[SPEAKER]
    assert (
        held[student_name(0)].items == ("scale", "training") and held[student_name(0)].by == "lee"
    )
    assert (held[student_name(1)].items, held[student_name(1)].adjust) == ((), 1.5)
    assert held[student_name(2)].comment == "Not the question asked."
    assert held[student_name(3)].by == "lee"  # the kit's 0 for the blank answer replaced
    events = [e for e in history_events(course / "grades") if e.get("source")]
    assert {(e["student"], e["by"], e["source"]) for e in events} == {
        (student_name(n), "lee", "kws marks import marks.csv") for n in range(STUDENTS)
    }
    page = Page(course / "grades")  # the page shows them as its own: given to these answers
    try:
        shown = page.session.marks(SPEAKER)
        alias = page.session.alias
        assert [shown[alias[student_name(n)]]["score"] for n in range(STUDENTS)] == [2, 1.5, 0, 1]
        assert not any(mark["stale"] for mark in shown.values())
        assert {q["key"]: q["left"] for q in page.session.questions()}[SPEAKER] == 0
    finally:
        page.close()
    kws(course, "season", "grades")
    standings = json.loads((course / "grades" / "standings.json").read_text())
    counted = [standings["students"][student_name(n)]["speaker_id"] for n in range(STUDENTS)]
    assert [entry["written"] for entry in counted] == [2, 1.5, 0, 1]


BAD = [
    ("student,question,items\nstudent000,speaker_id/norm-classifier,scale nope\n",
     "line 2: speaker_id/norm-classifier: items ['scale', 'nope'] are not its rubric's"),
    ("student,question,points\nstudent000,speaker_id/norm-classifier,4\n",
     "line 2: speaker_id/norm-classifier: an adjustment of 4.0 points; give one between -3 and 3"),
    ("student,question,points\nstudent000,speaker_id/norm-classifier,\"1,5\"\n",
     "line 2: points '1,5' is not a number (write 1.5)"),
    ("student,question,items\nmallory,speaker_id/norm-classifier,scale\n",
     "line 2: no student 'mallory' in grades/gradebook.csv; write the student's name as the "
     "gradebook does"),
    ("student,question,items\nstudent000,speaker_id/why,scale\n",
     "line 2: no written question 'speaker_id/why' (or more than one of that id); write one of "),
    ("student,question,comment\nstudent000,speaker_id/norm-classifier,Good.\n",
     "line 2: speaker_id/norm-classifier: a comment alone is not a mark"),
    ("student,question,items\nstudent000,speaker_id/norm-classifier,scale\n"
     "student002,speaker_id/norm-classifier,scale\nstudent000,norm-classifier,training\n",
     "line 4: student000's answer to speaker_id/norm-classifier is marked on line 2 already"),
    ("name,question,items\nstudent000,speaker_id/norm-classifier,scale\n",
     "line 1: the columns are name, question, items; name them from student, question, items, "
     "points, comment"),
]  # fmt: skip


@pytest.mark.parametrize("text, said", BAD)
def test_a_bad_row_is_refused_naming_the_file_the_line_and_the_fix_and_nothing_is_kept(
    course, text, said
):
    before = marks(course)
    good = f"{student_name(1)},{SPEAKER},scale\n"  # a good row first: not recorded either
    header, _, rest = text.partition("\n")
    if header.startswith("student,question,items"):
        text = f"{header}\n{good}{rest}"
        said = said.replace("line 2:", "line 3:").replace("line 4:", "line 5:")
        said = said.replace("on line 2", "on line 3")
    (course / "marks.csv").write_text(text, encoding="utf-8")
    output = kws(course, "marks", "import", "grades", "marks.csv", ok=False)
    assert f"marks.csv, {said}" in output
    assert said.startswith("line 1") or "nothing was imported" in output
    assert marks(course) == before


def test_a_file_that_is_not_there_is_named(course):
    said = kws(course, "marks", "import", "grades", "mraks.csv", ok=False)
    assert "mraks.csv: no such file; give the CSV of marks" in said


def test_a_persons_mark_is_replaced_only_on_purpose(course):
    page = Page(course / "grades")
    try:
        page.mark(SPEAKER, 0, ["scale"])
    finally:
        page.close()
    (course / "marks.csv").write_text(f"student,question,items\n{student_name(0)},{SPEAKER},"
                                      "training\n")  # fmt: skip
    said = kws(course, "marks", "import", "grades", "marks.csv", ok=False)
    assert ("marks.csv, line 2: student000's answer to speaker_id/norm-classifier has kim's mark "
            "already; leave the row out, or replace such marks with --replace") in said  # fmt: skip
    assert marks(course)[SPEAKER][student_name(0)].items == ("scale",)
    kws(course, "marks", "import", "grades", "marks.csv", "--replace", "--grader", "lee")
    assert marks(course)[SPEAKER][student_name(0)].items == ("training",)
    assert marks(course)[SPEAKER][student_name(3)].by == BLANK_BY  # no row: left as it was
