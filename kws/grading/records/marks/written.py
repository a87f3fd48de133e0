"""The marks in the grades: the written part of a class's grades (`written_part`), and the
check that standings count the marks as they are before they are published (`check_marked`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kws.grading.records.marks.rubric import MARKS_FILE, RUBRICS_FILE, Mark, Rubric, with_questions
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.seal import RecordsError

UNMARKED = ("refuse", "zero")  # what publishing does with answers no one marked yet


@dataclass
class Written:
    """The written part of a class's grades, from ``rubrics.json`` and ``marks.json``.

    Attributes:
        maxima: {assignment: the points of its written questions}.
        questions: {assignment: its questions' keys, in order}.
        digest: the digest of the two files (what ``standings.json`` records it counted).
    """

    maxima: dict[str, float]
    questions: dict[str, list[str]]
    digest: str
    rubrics: dict[str, Rubric]
    marks: dict[str, dict[str, Mark]]

    def of(self, student: str, assignment: str) -> tuple[float, int]:
        """(`student`'s written points in `assignment` under the rubrics as they are now, how
        many of its questions have no mark of theirs)."""
        points, unmarked = 0.0, 0
        for key in self.questions.get(assignment, []):
            mark = self.marks.get(key, {}).get(student)
            if mark is None:
                unmarked += 1
            else:
                points += self.rubrics[key].score(mark)
        return round(points, 4), unmarked


def marks_digest(grades_dir: Path) -> str:
    """The digest of ``rubrics.json`` and ``marks.json`` as they are ("" where neither is)."""
    paths = [Path(grades_dir) / name for name in (RUBRICS_FILE, MARKS_FILE)]
    if not any(path.is_file() for path in paths):
        return ""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.is_file() else b"-")
        digest.update(b"\0")
    return digest.hexdigest()


def written_part(grades_dir: Path, asked: Iterable[Rubric] = ()) -> Written:
    """The written questions and marks of `grades_dir` (`Written`), with the questions of
    `asked` (the graded notebooks' own, `kws.grading.season.written`) that ``rubrics.json``
    does not hold yet; MarksError naming the file when one cannot be read, or holds a mark no
    page would give."""
    store = MarkStore(grades_dir, ())
    rubrics, _, _ = with_questions(store.rubrics(), asked)
    marks = store.marks()
    for key, by in marks.items():
        for student, mark in by.items():
            rubric = rubrics.get(key)
            ids = {item.id for item in rubric.items} if rubric else set()
            if rubric is None or not set(mark.items) <= ids or abs(mark.adjust) > rubric.points:
                what = ("no such question in rubrics.json" if rubric is None else
                        f"items {list(mark.items)} or an adjustment of {mark.adjust:g} its rubric "
                        f"does not allow (items {', '.join(sorted(ids)) or 'none'}, at most "
                        f"{rubric.points:g} points)")  # fmt: skip
                raise store._damaged(MARKS_FILE, f"{student}'s mark of {key!r}: {what}")
    maxima: dict[str, float] = {}
    questions: dict[str, list[str]] = {}
    for key, rubric in rubrics.items():
        maxima[rubric.assignment] = maxima.get(rubric.assignment, 0.0) + rubric.points
        questions.setdefault(rubric.assignment, []).append(key)
    return Written(maxima, questions, marks_digest(grades_dir), rubrics, marks)


def check_marked(grades_dir: Path, standings, unmarked: str = "refuse") -> None:
    """RecordsError when the `standings` of `grades_dir` are not the marks' to publish: the
    marks changed since they were counted (the fix: ``kws season GRADES``), or, with
    `unmarked` "refuse", written answers of a graded hand-in have no mark yet (the fix:
    ``kws mark GRADES``, or count them as 0: ``--unmarked zero``)."""
    folder = Path(grades_dir)
    if marks_digest(folder) != standings.marks:
        raise RecordsError(
            f"{folder}: the written answers' marks changed since {folder / 'standings.json'} "
            f"counted them; run `kws season {folder}` to count them, then this command"
        )
    if unmarked not in UNMARKED:
        raise ValueError(f"--unmarked {unmarked!r}: choose from {', '.join(UNMARKED)}")
    left = standings.unmarked()
    if left and unmarked == "refuse":
        raise RecordsError(
            f"{folder}: {left} written answer{'s' if left != 1 else ''} not marked yet; mark "
            f"them (`kws mark {folder}`, then `kws season {folder}`), or count them as 0 "
            "points with --unmarked zero"
        )
