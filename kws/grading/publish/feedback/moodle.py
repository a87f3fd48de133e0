"""Feedback pages packed for Moodle's "Upload multiple feedback files in a zip": one zip a
notebook, each file under a folder named ``<full name>_<participant id>_assignfeedback_file_``
(docs/how-to/feedback.md).

    zips = moodle_zips(pages, read_roster(Path("worksheet.csv"), key="folder"), Path("feedback"))
"""

from __future__ import annotations

import re
from pathlib import Path

from kws.grading.records.files import private_folder, write_zip
from kws.grading.records.roster import Roster, RosterError

IDENTIFIER = "Identifier"  # the grading worksheet's column: "Participant 123456"
FULL_NAME = "Full name"
PLUGIN = "assignfeedback_file"


def participant_folder(roster: Roster, row: dict[str, str]) -> str:
    """``<full name>_<participant id>_assignfeedback_file_`` for a worksheet row; RosterError
    naming the line when its Identifier holds no number."""
    found = re.search(r"\d+", roster.value(row, IDENTIFIER))
    if found is None:
        line = roster.lines[roster.rows.index(row)]
        raise RosterError(
            f"{roster.path}, line {line}: {IDENTIFIER} {roster.value(row, IDENTIFIER)!r} holds "
            "no participant number; use the worksheet Moodle wrote (Participant 123456)"
        )
    name = roster.value(row, FULL_NAME) if roster.column(FULL_NAME) else row[roster.key]
    name = re.sub(r"[_/\\]+", " ", name).strip() or "student"
    return f"{name}_{found.group()}_{PLUGIN}_"


def check_worksheet(roster: Roster) -> None:
    """RosterError when `roster` is no Moodle grading worksheet (it has no Identifier column)."""
    if roster.column(IDENTIFIER) is None:
        raise RosterError(
            f"{roster.path}: no {IDENTIFIER} column; pass the assignment's grading worksheet "
            "(Moodle: View all submissions > Download grading worksheet)"
        )


def moodle_zips(
    pages: dict[str, list[Path]], roster: Roster, out: Path
) -> tuple[list[Path], list[str]]:
    """One zip per assignment for Moodle's bulk feedback upload, ``moodle-<assignment>.zip`` in
    `out`, of `pages` ({student: their ``<assignment>.html`` pages}, as `write_feedback` wrote
    them), `roster` being Moodle's grading worksheet read with the column that names hand-in
    folders. Returns the zips written, and the students the worksheet has no row for;
    RosterError when it has no Identifier column (it is no grading worksheet)."""
    check_worksheet(roster)
    rows = {row[roster.key]: row for row in roster.rows if row[roster.key]}
    by_assignment: dict[str, list[tuple[str, Path]]] = {}
    for student, paths in pages.items():
        if student not in rows:
            continue
        folder = participant_folder(roster, rows[student])
        for path in paths:
            by_assignment.setdefault(path.stem, []).append((folder, path))
    zips = []
    private_folder(out)
    for assignment, entries in sorted(by_assignment.items()):
        archive = Path(out) / f"moodle-{assignment}.zip"
        zips.append(
            write_zip(archive, [(path, f"{folder}/{path.name}") for folder, path in entries])
        )
    return zips, sorted(student for student in pages if student not in rows)
