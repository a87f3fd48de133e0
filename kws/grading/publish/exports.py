"""A graded class in the CSV layouts Canvas and Moodle import (`kws export canvas|moodle`).

    export_grades("canvas", Path("grades"), Path("canvas.csv"))  # roster: `kws grade --roster`'s

One row per roster row (`kws.grading.records.roster`), in its order, with the final score (late
penalties, adjustments and the written answers' marks counted); a hand-in with no roster row
cannot be exported and is reported. The column layouts, what a missing student gets and how each
LMS imports the file, with sources: docs/how-to/lms.md.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.records import requests as regrade
from kws.grading.records.files import private_folder, write_whole
from kws.grading.records.gradebook import RUN_FILE
from kws.grading.records.grades import read_grades
from kws.grading.records.marks.written import UNMARKED, check_marked
from kws.grading.records.roster import Roster, RosterError, RosterMatch, match_roster, read_roster
from kws.grading.records.seal import RecordsError
from kws.grading.records.tables import SPREADSHEET_ENCODING
from kws.grading.season.compute import with_standings
from kws.spec import ASSIGNMENTS

LMS = ("canvas", "moodle")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_KEYS = ("ID", "SIS User ID", "SIS Login ID")  # what Canvas matches a row's student by
CANVAS_POINTS_ROW = "    Points Possible"  # the second row, as Canvas's own export writes it
MOODLE_IDENTIFIERS = ("Email address", "ID number", "Username")  # user fields Moodle maps from
MOODLE_NAMES = ("First name", "Last name")
MISSING = ("zero", "blank")
OPEN_REQUESTS = ("refuse", "keep")  # while a regrade request is open: refuse, or export
TOTAL_TITLE = "kws total"


@dataclass
class Export:
    """What `export_grades` wrote: the file, its grade column and points, the counts."""

    path: Path
    lms: str
    column: str
    points: float
    rows: int
    match: RosterMatch
    missing: list[str] = field(default_factory=list)  # rows exported as missing, as labelled
    open: list[regrade.Thread] = field(default_factory=list)  # requests open, marks as now


def number(points: float) -> str:
    """Points as an LMS reads them: at most two decimals, no trailing zeros (``12.5``, ``74``)."""
    text = f"{points:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def class_scores(
    grades_dir: Path,
    assignment: str | None,
    unmarked: str = "refuse",
    open_requests: str = "refuse",
) -> tuple[dict[str, float | None], float, str]:
    """({hand-in folder: final points, None where that notebook is missing}, the maximum, the
    default column title) of a graded folder: the final totals (late penalties and adjustments
    applied, `kws.grading.season.compute`), or one notebook's final points (`assignment`).
    The written answers' marks are in them; RecordsError when the marks changed since they
    were counted, or (`unmarked` "refuse") an answer has no mark yet
    (`kws.grading.records.marks.written.check_marked`), or (`open_requests` "refuse") a
    student's regrade request is not answered yet (`kws.grading.records.requests`; "keep":
    the marks as they are now)."""
    grades = with_standings(read_grades(grades_dir))
    standings = grades.standings
    if assignment is not None and assignment not in standings.assignments:
        graded = ", ".join(standings.assignments) or "none"
        raise ValueError(f"--assignment {assignment}: {grades_dir} holds no grades of it "
                         f"(graded there: {graded})")  # fmt: skip
    check_marked(grades_dir, standings, unmarked)
    left = regrade.unsettled(grades_dir)  # a grade a student contests is not settled yet
    if left and open_requests == "refuse":
        raise RecordsError(f"{grades_dir}: {left} (or export the marks as they are now, with "
                           "--open-requests keep)")  # fmt: skip
    if assignment is None:
        scores = {s.name: float(s.row.get("total") or 0.0) for s in grades.students}
        maximum = max([float(s.row.get("max_score") or 0.0) for s in grades.students] + [0.0])
        graded = [name for name in standings.assignments if name in ASSIGNMENTS]
        title = ASSIGNMENTS[graded[0]].title if len(graded) == 1 else TOTAL_TITLE
        return scores, maximum, title
    scores = {}
    for student in grades.students:
        standing = standings.of(student.name, assignment)
        missing = standing is None or standing.status == "missing"
        scores[student.name] = None if missing else standing.final
    title = ASSIGNMENTS[assignment].title if assignment in ASSIGNMENTS else assignment
    return scores, float(standings.assignments[assignment]["maximum"]), title


def recorded_roster(grades_dir: Path) -> tuple[Path, str]:
    """The roster `kws grade --roster` copied into `grades_dir`, and its hand-in column."""
    run_file = Path(grades_dir) / RUN_FILE
    run = json.loads(run_file.read_text()) if run_file.is_file() else {}
    if not run.get("roster"):
        raise FileNotFoundError(
            f"{grades_dir} was graded without --roster; pass --roster FILE: the class list "
            "(a CSV with a column of hand-in folder names, see docs/how-to/lms.md)"
        )
    return Path(grades_dir) / run["roster"], run["roster_key"]


def _canvas(roster: Roster, title: str) -> tuple[list[str], list[list[str]]]:
    if not any(roster.column(c) for c in CANVAS_KEYS):
        raise RosterError(
            f"{roster.path}: none of the columns {', '.join(CANVAS_KEYS)}, which Canvas matches "
            "students by; start from Canvas's gradebook export (Grades > Export > Export Entire "
            "Gradebook) and add the hand-in folder column"
        )
    nameless = [roster.label(r) for r in roster.rows if not any(roster.value(r, c) for c in CANVAS_KEYS)]  # fmt: skip
    if nameless:
        raise RosterError(f"{roster.path}: no ID, SIS User ID or SIS Login ID for "
                          f"{', '.join(nameless)}; Canvas could not match them")  # fmt: skip
    header = [*CANVAS_COLUMNS, title]
    return header, [[roster.value(row, c) for c in CANVAS_COLUMNS] for row in roster.rows]


def _moodle(roster: Roster, title: str, id_column: str | None) -> tuple[list[str], list[list[str]]]:
    wanted = [id_column] if id_column else MOODLE_IDENTIFIERS
    identifier = next((roster.column(c) for c in wanted if roster.column(c)), None)
    if identifier is None:
        if id_column:
            raise RosterError(f"{roster.path}: no column {id_column!r} (--id-column); its "
                              f"columns: {', '.join(roster.header)}")  # fmt: skip
        raise RosterError(
            f"{roster.path}: none of the columns {', '.join(MOODLE_IDENTIFIERS)}, the user "
            "fields Moodle's grade import matches students by; export the participants or "
            "grades from Moodle, or pass --id-column COLUMN naming the roster's identifier"
        )
    blank = [roster.label(r) for r in roster.rows if not r[identifier]]
    if blank:
        raise RosterError(
            f"{roster.path}: no {identifier} for {', '.join(blank)}; Moodle abandons the whole "
            "import at a row whose user it cannot find: fill them in (or pick another "
            "--id-column)"
        )
    names = [c for c in (roster.column(n) for n in MOODLE_NAMES) if c]
    columns = [*names, identifier]
    return [*columns, title], [[row[c] for c in columns] for row in roster.rows]


def export_grades(
    lms: str,
    grades_dir: Path,
    out: Path,
    *,
    roster: Path | None = None,
    key: str | None = None,
    assignment: str | None = None,
    column: str | None = None,
    missing: str = "zero",
    scale_to: float | None = None,
    id_column: str | None = None,
    unmarked: str = "refuse",
    open_requests: str = "refuse",
) -> Export:
    """Write the CSV `lms` (canvas, moodle) imports for the class graded into `grades_dir`;
    every path relative to the working directory. `roster`/`key`: the class list and its
    hand-in column (default: what `kws grade --roster` recorded); `column`: the grade column's
    title (default: the notebook's title); `missing`: "zero" or "blank" for students with no
    hand-in; `unmarked`: "refuse" while a written answer has no mark (`kws mark`), "zero" to
    export them as 0; `open_requests`: "refuse" while a regrade request is open (`kws requests`),
    "keep" to export the marks as they are now (the export lists the open ones).
    FileNotFoundError / ValueError (RosterError, RecordsError) naming the
    file and the fix."""
    if (lms not in LMS or missing not in MISSING or unmarked not in UNMARKED
            or open_requests not in OPEN_REQUESTS):  # fmt: skip
        raise ValueError(f"LMS {lms!r} / missing {missing!r} / unmarked {unmarked!r} / open "
                         f"requests {open_requests!r}: choose from {LMS}, {MISSING}, {UNMARKED} "
                         f"and {OPEN_REQUESTS}")  # fmt: skip
    grades_dir, out = Path(grades_dir), Path(out).resolve()  # messages name it as given
    table = read_roster(roster, key=key) if roster is not None else None  # what was given first
    scores, maximum, title = class_scores(grades_dir, assignment, unmarked, open_requests)
    if table is None:
        roster, recorded_key = recorded_roster(grades_dir)
        table = read_roster(roster, key=key or recorded_key)
    match = match_roster(table, list(scores))
    title = column or title
    canvas = lms == "canvas"
    header, identities = _canvas(table, title) if canvas else _moodle(table, title, id_column)
    points = maximum if scale_to is None else scale_to
    if scale_to is not None and maximum <= 0:
        raise ValueError(f"--scale-to: {grades_dir} has no points to scale (maximum 0)")
    factor = 1.0 if scale_to is None else scale_to / maximum
    blank = "" if canvas else "-"  # Moodle's own exports write "-" for no grade
    rows, absent = [], []
    for row, identity in zip(table.rows, identities, strict=True):
        folder = row[table.key]
        if folder in match.matched and scores[folder] is not None:
            rows.append([*identity, number(scores[folder] * factor)])
        else:  # no hand-in, or none of this notebook
            rows.append([*identity, "0" if missing == "zero" else blank])
            absent.append(table.label(row))
    if canvas:
        rows.insert(0, [CANVAS_POINTS_ROW, *[""] * (len(CANVAS_COLUMNS) - 1), number(points)])
    text = io.StringIO(newline="")
    csv.writer(text).writerows([header, *rows])
    private_folder(out.parent, existing=False)
    # whole, the instructor's alone (mode 0600), with the byte-order mark Excel reads UTF-8 by
    write_whole(out, text.getvalue().encode(SPREADSHEET_ENCODING))
    return Export(out, lms, title, points, len(table.rows), match, absent,
                  regrade.open_requests(grades_dir))  # fmt: skip
