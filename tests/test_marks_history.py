"""The marks and their history agree, or every command that reads marks refuses, as an
instructor meets it from the course folder: an older ``marks.json`` put back by a backup or a
sync tool after re-marks, an older history put back, a history edited by hand with
``marks.json`` then lost. Each refusal names the newer file and `kws marks restore`; the
restore keeps only the marks ``records.json`` sealed; following every message the kit prints
leads back to the export of the real marks. And a comment alone is no mark: the answer stays
unmarked, refused by the export as any unmarked answer."""

import json
import shutil

import pytest
from course_helpers import ROOT
from marking_class import student_name
from test_written_totals import EXPORT, QUESTIONS, STUDENTS, Page, _first_two, _marked, course, kws

from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.rubric import MarksError

__all__ = ["course"]  # the class of test_written_totals, graded and counted


def _remark_three_times(course) -> str:
    """student000's first question marked again three times through the page (two items,
    then one, then all three), counted and exported: the export the marks must give back."""
    page = Page(course / "grades")
    try:
        items = [i.id for i in page.session.store.rubrics()[QUESTIONS[0]].items]
        for given in (items[:2], items[:1], items):
            page.mark(QUESTIONS[0], 0, given, comment="marked again")
    finally:
        page.close()
    kws(course, "season", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    return (course / "canvas.csv").read_text()


def _refused_everywhere(course, said: str) -> None:
    """The export (with and without --unmarked zero), `kws season` and `kws mark` refuse, each
    saying `said` and the restore; nothing exported."""
    (course / "canvas.csv").unlink(missing_ok=True)
    for unmarked in ("refuse", "zero"):
        refused = kws(course, *EXPORT, "--unmarked", unmarked, ok=False)
        assert said in refused and "`kws marks restore grades`" in refused, refused
    refused = kws(course, "season", "grades", ok=False)
    assert said in refused and "`kws marks restore grades`" in refused, refused
    with pytest.raises(MarksError, match=r"`kws marks restore \S*grades`"):
        MarkingSession(course / "grades", solutions=ROOT / "solutions", grader="kim")
    assert not (course / "canvas.csv").exists()


def test_an_older_marks_file_put_back_is_refused_and_the_history_restores_the_later_marks(course):
    """Item 3: a backup puts back marks.json from before three re-marks. `kws season` no longer
    counts it: every command says marks.json is older than its history, and the restore it
    names rebuilds the later marks, the export as it was."""
    marks = course / "grades" / "marks" / "marks.json"
    _marked(course)
    older = marks.read_bytes()
    right = _remark_three_times(course)
    marks.write_bytes(older)  # the backup tool's copy
    _refused_everywhere(course, "grades/marks/marks.json is older than grades/marks/history.jsonl")
    said = kws(course, "marks", "restore", "grades")
    assert "rebuilt grades/marks/marks.json from grades/marks/history.jsonl" in said
    assert "whole" not in said
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right
    again = kws(course, "marks", "restore", "grades")
    assert "whole and agree with their history: nothing to rebuild" in again


def test_an_older_history_put_back_is_refused_and_the_sealed_marks_recorded_in_it_again(course):
    """A sync tool puts back an older history.jsonl: marks.json is the newer and the one
    records.json sealed, so the restore records its marks in the history again (never
    rewriting what the history holds) and the export is as it was."""
    history = course / "grades" / "marks" / "history.jsonl"
    _marked(course)
    older = history.read_bytes()
    right = _remark_three_times(course)
    history.write_bytes(older)
    _refused_everywhere(course, "grades/marks/history.jsonl is older than grades/marks/marks.json")
    said = kws(course, "marks", "restore", "grades")
    assert "recorded the marks of grades/marks/marks.json, as grades/records.json sealed" in said
    assert history.read_bytes().startswith(older)  # appended to, never rewritten
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right


def _emptied(history, student: str) -> bytes:
    """The history with the items of `student`'s mark events emptied (a hand edit); the
    history as it was."""
    whole = history.read_bytes()
    lines = []
    for line in whole.decode().splitlines():
        event = json.loads(line)
        if event.get("event") == "mark" and event.get("student") == student:
            event["items"] = []
        lines.append(json.dumps(event, ensure_ascii=False))
    history.write_text("\n".join(lines) + "\n")
    return whole


def test_a_hand_edited_history_never_restores_marks_the_record_did_not_seal(course):
    """Item 2: items emptied in student002's mark events, then marks.json lost. The restore
    the export advises rebuilds marks whose digest is not the one records.json holds: it
    refuses, writes nothing and says what to do; the history put back as it was, the restore
    gives back the real marks."""
    grades = course / "grades"
    history, marks = grades / "marks" / "history.jsonl", grades / "marks" / "marks.json"
    right = _marked(course)
    whole = _emptied(history, student_name(2))
    marks.unlink()
    (course / "canvas.csv").unlink()
    refused = kws(course, *EXPORT, "--unmarked", "zero", ok=False)
    assert "`kws marks restore grades`" in refused
    before = {p: p.read_bytes() for p in grades.rglob("*") if p.is_file()}
    refused = kws(course, "marks", "restore", "grades", ok=False)
    assert ("grades/marks/history.jsonl does not give back the marks grades/records.json "
            "sealed") in refused  # fmt: skip
    assert "Put back the history's lines as they were" in refused
    assert "`kws marks restore grades`" in refused and "kws marks restart grades" in refused
    after = {
        p: p.read_bytes() for p in grades.rglob("*") if p.is_file() and "run.lock" not in p.name
    }
    assert after == {p: b for p, b in before.items() if "run.lock" not in p.name}
    assert not marks.exists() and not (course / "canvas.csv").exists()
    kws(course, *EXPORT, "--unmarked", "zero", ok=False)  # still refused, not 0
    history.write_bytes(whole)  # the advice: the history's lines as they were
    kws(course, "marks", "restore", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right


def test_a_hand_edited_history_beside_the_sealed_marks_is_refused_and_brought_in_line(course):
    """The same edit with marks.json still there: every command says the two disagree, and
    the restore records the sealed marks in the history again; the export is unchanged and
    marks.json then survives being lost again."""
    grades = course / "grades"
    history = grades / "marks" / "history.jsonl"
    right = _marked(course)
    _emptied(history, student_name(2))
    _refused_everywhere(course, "grades/marks/marks.json and grades/marks/history.jsonl disagree")
    said = kws(course, "marks", "restore", "grades")
    assert "recorded the marks of grades/marks/marks.json" in said
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right
    (grades / "marks" / "marks.json").unlink()
    kws(course, "marks", "restore", "grades")
    kws(course, *EXPORT, "--unmarked", "zero")
    assert (course / "canvas.csv").read_text() == right


def test_marks_taken_back_and_given_again_restore_to_the_sealed_bytes(course):
    """An unmark, a mark given again and a question marked later: the rebuilt marks.json is
    the sealed file byte for byte (what the record's digest compares)."""
    grades = course / "grades"
    _marked(course)
    page = Page(grades)
    try:
        alias = page.session.alias[student_name(0)]
        status, _ = page.post("/api/unmark", {"key": QUESTIONS[1], "aliases": [alias]})
        assert status == 200
        page.mark(QUESTIONS[1], 0, _first_two(page, QUESTIONS[1])[:1])
        page.mark(QUESTIONS[2], 3, _first_two(page, QUESTIONS[2]))
    finally:
        page.close()
    sealed = (grades / "marks" / "marks.json").read_bytes()
    shutil.copy(grades / "marks" / "history.jsonl", course / "history.copy")
    (grades / "marks" / "marks.json").unlink()
    kws(course, "marks", "restore", "grades")
    assert (grades / "marks" / "marks.json").read_bytes() == sealed


def test_a_comment_alone_is_no_mark_and_the_export_refuses_the_answer_unmarked(course):
    """Item 7: a TA's note with no rubric item, through the page's API, saves nothing: the
    answer stays unmarked, the export refuses it as any unmarked answer and the feedback page
    says "not marked yet", never 0/3. 0 on purpose (the 0 key) is a mark of 0."""
    grades = course / "grades"
    page = Page(grades)
    try:
        alias = page.session.alias[student_name(1)]
        note = {"key": QUESTIONS[2], "aliases": [alias], "items": [], "comment": "Half a thought"}
        status, answer = page.post("/api/mark", note)
        assert status == 400 and "a comment alone is not a mark" in answer["error"]
        held = page.session.store.marks()
        assert student_name(1) not in {s for by in held.values() for s in by}
        kws(course, "season", "grades")
        said = kws(course, *EXPORT, ok=False)
        assert f"{3 * (STUDENTS - 1)} written answers not marked yet" in said  # 3: blank
        kws(course, "feedback", "grades", "--out", "fb")
        shown = (course / "fb" / student_name(1) / "speaker_id.html").read_text()
        assert "not marked yet" in shown and "Half a thought" not in shown
        status, answer = page.post("/api/mark", note | {"zero": True})
        assert status == 200 and answer["marks"][alias]["score"] == 0
    finally:
        page.close()
    kws(course, "season", "grades")
    said = kws(course, *EXPORT, ok=False)
    assert f"{3 * (STUDENTS - 1) - 1} written answers not marked yet" in said
