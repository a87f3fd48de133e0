"""Marks typed in a spreadsheet rather than the page: `kws marks import GRADES FILE.csv`
(docs/how-to/mark.md, "Mark from a file"). One row a mark::

    student,question,items,points,comment
    alice,speaker_id/norm-classifier,scale training,,Say what BatchNorm1d does.
    bob,norm-classifier,,0,No answer to the question asked.

``question``: the question's key (``assignment/question``) or its id where one notebook asks it;
``items``: rubric item ids, separated by spaces; ``points``: points beyond the items (the page's
adjustment; ``0`` with no item: 0 points on purpose); ``comment``: for the student. Each row is
checked as the page checks a mark (`MarkStore.check_mark`) and every row is recorded, or none.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from kws.grading.marking.session import MarkingSession
from kws.grading.records.marks.blanks import BLANK_BY
from kws.grading.records.marks.rubric import MarksError
from kws.grading.records.marks.store import Given
from kws.grading.records.tables import csv_rows

COLUMNS = ("student", "question", "items", "points", "comment")
SAVE_AS = "save it as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"


def import_marks(session: MarkingSession, path: Path, *, by: str, replace: bool = False) -> int:
    """Record the marks of the CSV file `path` (see the module) in `session`'s grades folder,
    all of them or none.

    Args:
        session: the class read as `kws mark` reads it (the answers' digests, the students).
        path: the CSV file, named in messages as given.
        by: who imports them, as the marks and their history record it.
        replace: replace a mark a person gave already (without it such a row is refused; the
            0 the kit gave a blank answer is always replaced).

    Returns:
        How many marks were recorded.

    Raises:
        MarksError: naming the file, the line, what is wrong and the fix (nothing recorded).
    """
    _, rows = csv_rows(path, MarksError, SAVE_AS)
    if not rows:
        raise MarksError(f"{path}: the file is empty; its first line names the columns: "
                         f"{','.join(COLUMNS)}")  # fmt: skip
    line, header = rows[0]
    columns = [cell.lower() for cell in header]
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown or not {"student", "question"} <= set(columns) or len(set(columns)) < len(columns):
        raise MarksError(f"{path}, line {line}: the columns are {', '.join(header)}; name them "
                         f"from {', '.join(COLUMNS)} (student and question, each once)")  # fmt: skip
    store, marks = session.store, session.store.marks()
    rubrics = store.rubrics()
    seen: dict[tuple[str, str], int] = {}
    given = []
    for line, cells in rows[1:]:
        row = dict(zip(columns, cells + [""] * len(columns), strict=False))
        try:
            key = _question(row["question"], [k for k in rubrics if k in session.answers])
            student = row["student"]
            if student not in session.alias:
                raise MarksError(f"no student {student!r} in {store.folder / 'gradebook.csv'}; "
                                 "write the student's name as the gradebook does")  # fmt: skip
            if (key, student) in seen:
                raise MarksError(f"{student}'s answer to {key} is marked on line "
                                 f"{seen[key, student]} already; keep one of the two")  # fmt: skip
            seen[key, student] = line
            held = marks.get(key, {}).get(student)
            if held is not None and held.by != BLANK_BY and not replace:
                raise MarksError(f"{student}'s answer to {key} has {held.by}'s mark already; "
                                 "leave the row out, or replace such marks with --replace")  # fmt: skip
            items = tuple(re.split(r"[\s;|]+", row.get("items", "").strip()))
            items = tuple(item for item in items if item)
            adjust = _points(row.get("points", ""))
            comment = row.get("comment", "")
            zero = not items and adjust == 0 and row.get("points", "").strip() != ""
            store.check_mark(key, [student], items=list(items), adjust=adjust,
                             comment=comment, by=by, zero=zero)  # fmt: skip
        except MarksError as error:
            raise MarksError(f"{path}, line {line}: {error}; nothing was imported") from None
        digest = session.answers[key][session.alias[student]].digest
        given.append(Given(key, student, items, adjust, comment, zero, digest))
    if not given:
        raise MarksError(f"{path}: no mark below its header line; one row a mark, with the "
                         f"columns {','.join(COLUMNS)}")  # fmt: skip
    return store.save_all(given, by=by, source=f"kws marks import {Path(path).name}")


def _question(text: str, keys: list[str]) -> str:
    """The key of the question `text` names: its key, or its id where only one notebook asks
    a question of that id."""
    if text in keys:
        return text
    matching = [key for key in keys if key.split("/", 1)[1] == text]
    if len(matching) == 1:
        return matching[0]
    raise MarksError(f"no written question {text!r} (or more than one of that id); write one "
                     f"of {', '.join(keys)}")  # fmt: skip


def _points(text: str) -> float:
    """The points typed (``2``, ``-0.5``, empty for none)."""
    text = text.strip()
    if not text:
        return 0.0
    try:
        points = float(text)
    except ValueError:
        hint = f" (write {text.replace(',', '.')})" if text.count(",") == 1 else ""
        raise MarksError(f"points {text!r} is not a number{hint}") from None
    if not math.isfinite(points):
        raise MarksError(f"points {text!r} is not a number")
    return points
