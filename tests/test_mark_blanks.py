"""Blank answers marked for the TA (kws.grading.records.marks.blanks): an answer left empty, or
as the released notebook holds it, is 0 with the reason "no answer" once `kws mark` has read the
class, without a key; `kws season` and `kws export` count it, the student's feedback page says
it, the history tells it from a person's mark, and a TA can still change or take it back."""

import copy
import json
from html import escape

import pytest
from marking_class import regrade, student_name
from test_written_answers import QID, RELEASED, _index, handin
from test_written_totals import (
    EXPORT,
    QUESTIONS,
    STUDENTS,
    Page,
    code_points,
    exported,
    kws,
    seasoned_class,
)

from kws.grading.records.marks.blanks import BLANK_BY, BLANK_COMMENT
from kws.grading.records.marks.history import history_events
from kws.written.answers import read_answers

BLANK = 3  # student003 left every answer as released (marking_class.answer_of)


@pytest.fixture
def course(tmp_path):
    """The graded class of `test_written_totals`, its course file, times and roster, counted."""
    return seasoned_class(tmp_path)


def test_blank_answers_are_zero_with_their_reason_counted_and_exported_without_a_key(course):
    grades = course / "grades"
    page = Page(grades)  # `kws mark` reads the class: the blank answers are marked 0 then
    try:
        alias = page.session.alias[student_name(BLANK)]
        for key in QUESTIONS:
            shown = page.session.marks(key)[alias]
            assert (shown["score"], shown["by"], shown["comment"]) == (0, BLANK_BY, BLANK_COMMENT)
            assert not shown["stale"] and list(shown["items"]) == []
        assert {q["key"]: q["blank"] for q in page.session.questions()} == dict.fromkeys(
            QUESTIONS, 1
        )
        for n in range(STUDENTS):  # the TA marks the written answers; no key for the blanks
            for key in QUESTIONS:
                if n != BLANK:
                    page.mark(key, n, [page.session.store.rubrics()[key].items[0].id])
    finally:
        page.close()
    kws(course, "season", "grades")
    kws(course, *EXPORT)  # nothing left unmarked: no --unmarked zero needed
    names = ("keyword_spotting", "patch_transformer", "speaker_id")
    assert exported(course)[f"Student {BLANK}"] == pytest.approx(
        sum(code_points(BLANK, a) for a in names)
    )
    standings = json.loads((grades / "standings.json").read_text())
    entry = standings["students"][student_name(BLANK)]["speaker_id"]
    assert (entry["written"], entry["unmarked"]) == (0, 0)
    kws(course, "feedback", "grades", "--out", "feedback")
    shown = (course / "feedback" / student_name(BLANK) / "speaker_id.html").read_text()
    assert f"<pre>{escape(BLANK_COMMENT)}</pre>" in shown and "not marked yet" not in shown
    marked = [e for e in history_events(grades) if e.get("event") == "mark"]
    assert {e["by"] for e in marked if e["student"] == student_name(BLANK)} == {BLANK_BY}
    assert BLANK_BY not in {e["by"] for e in marked if e["student"] != student_name(BLANK)}


def test_a_ta_changes_or_takes_back_a_blank_mark_and_the_kit_leaves_it(course):
    grades = course / "grades"
    page = Page(grades)
    try:
        alias = page.session.alias[student_name(BLANK)]
        status, answer = page.post(
            "/api/mark",
            {"key": QUESTIONS[0], "aliases": [alias], "items": [], "adjust": 1,
             "comment": "The draft in the cell below counts."},
        )  # fmt: skip
        assert status == 200 and answer["marks"][alias]["by"] == "kim"
        status, _ = page.post("/api/unmark", {"key": QUESTIONS[1], "aliases": [alias]})
        assert status == 200
    finally:
        page.close()
    again = Page(grades)  # started again: the TA's mark and their unmarking both stand
    try:
        marks = {key: again.session.marks(key)[alias] for key in QUESTIONS}
        assert (marks[QUESTIONS[0]]["by"], marks[QUESTIONS[0]]["score"]) == ("kim", 1)
        assert marks[QUESTIONS[1]] is None
        assert marks[QUESTIONS[2]]["by"] == BLANK_BY
    finally:
        again.close()


def test_a_blank_answer_filled_in_by_a_regrade_is_left_to_mark_again(course):
    grades = course / "grades"
    Page(grades).close()
    regrade(course, BLANK, "norm-classifier", "A late answer: BatchNorm1d rescales them.")
    page = Page(grades)
    try:
        alias = page.session.alias[student_name(BLANK)]
        assert page.session.marks(QUESTIONS[2])[alias] is None  # the kit's 0 taken back
        assert page.session.marks(QUESTIONS[0])[alias]["by"] == BLANK_BY
    finally:
        page.close()
    taken = [e for e in history_events(grades) if e.get("event") == "unmark"]
    assert [(e["student"], e["by"]) for e in taken] == [(student_name(BLANK), BLANK_BY)]


def test_an_answer_left_as_released_is_no_answer():
    """Starter text in the released answer cell, handed back as it was: no answer; the same
    text with a word of the student's is an answer."""
    released = copy.deepcopy(RELEASED)
    start = "My answer (two sentences):\n"
    released["cells"][_index(released, f"answer:{QID}")]["source"] = [start]
    left = copy.deepcopy(released)
    answer = read_answers(left, released)[QID]
    assert answer.unchanged and not answer.answered
    written = handin(start + "BatchNorm1d rescales the pooled features.")
    assert read_answers(written, released)[QID].answered
    assert read_answers(left)[QID].answered  # without the released notebook: not known
