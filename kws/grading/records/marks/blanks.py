"""Blank answers marked by the kit: an answer that is empty, or left as the released notebook
holds it (`kws.written.answers.Answer.answered` False), is 0 points with the reason "no answer",
recorded as a mark of its own (`mark_blanks`) so that no one needs a key for it and the exports
count it. Its giver, `BLANK_BY`, tells it from a person's mark in the history; a grader may
replace it like any mark, and it is never written over a person's mark.

    mark_blanks(store, {"speaker_id/why-pool": {"alice": (digest, answered)}})
"""

from __future__ import annotations

from kws.grading.records.marks.history import history_events
from kws.grading.records.marks.rubric import MarkConflict
from kws.grading.records.marks.store import MarkStore

BLANK_BY = "kws (no answer)"
"""Who gave a blank answer its 0 (``by`` in ``marks.json`` and the history)."""
BLANK_COMMENT = "No answer: the answer cell was left empty or as it was released (0 points)."
"""The reason a blank answer's mark gives the student."""


def mark_blanks(store: MarkStore, answers: dict[str, dict[str, tuple[str, bool]]]) -> int:
    """Give each blank answer of `answers` that has no mark its 0 ("no answer"), and take back
    a mark the kit gave an answer that is no longer blank (a hand-in collected again). An
    answer a person marked, or whose mark a person took back, is left to them.

    Args:
        store: the grades folder's marks.
        answers: {question key: {student: (the answer's digest, whether it is answered)}}, of
            the questions ``rubrics.json`` holds.

    Returns:
        How many answers were marked or unmarked.
    """
    marks = store.marks()
    taken_back = _taken_back(store)
    changed = 0
    for key, by_student in answers.items():
        held = marks.get(key, {})
        blank = {  # no mark, or the kit's given to another blank answer (an empty cell then)
            student: digest
            for student, (digest, answered) in by_student.items()
            if not answered
            and (key, student) not in taken_back
            and (student not in held or (held[student].by == BLANK_BY
                                         and held[student].digest != digest))
        }  # fmt: skip
        answered = [
            student
            for student, (digest, answered) in by_student.items()
            if answered and student in held and held[student].by == BLANK_BY
        ]
        try:
            for digest in sorted(set(blank.values())):  # one mark for each blank answer's text
                students = sorted(s for s, d in blank.items() if d == digest)
                versions = {s: held[s].version if s in held else None for s in students}
                store.save(key, students, items=[], digests=blank, by=BLANK_BY,
                           comment=BLANK_COMMENT, zero=True, versions=versions,
                           alike=False)  # fmt: skip
                changed += len(students)
            if answered:
                versions = {s: held[s].version for s in answered}
                store.unmark(key, answered, by=BLANK_BY, versions=versions)
                changed += len(answered)
        except MarkConflict:  # a grader marked one of them meanwhile: theirs to mark
            continue
    return changed


def _taken_back(store: MarkStore) -> set[tuple[str, str]]:
    """The (question key, student) whose mark a person took back last (since the marks last
    started afresh): left unmarked, as they chose."""
    last: dict[tuple[str, str], dict] = {}
    for event in history_events(store.folder):
        if event.get("event") == "restart":
            last = {}
        elif event.get("event") in ("mark", "unmark"):
            last[event.get("question"), event.get("student")] = event
    return {
        answer
        for answer, event in last.items()
        if event["event"] == "unmark" and event.get("by") != BLANK_BY
    }
