"""Apply a season's rules to a graded folder (`kws grade --course`, `kws season`, `kws adjust`):
``standings.json`` and the gradebook's columns. `apply_season` checks every input against the
class and computes the standings before it writes anything; then `write_records` writes each
file whole, the seal last. A mistake leaves the folder as it was.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kws.grading.records.adjustments import write_adjustment
from kws.grading.records.files import write_whole
from kws.grading.records.gradebook import ROSTER_FILE
from kws.grading.records.grades import Grades, check_results, read_grades, test_assignment
from kws.grading.records.kept_marks import check_marks_kept
from kws.grading.records.lock import SEASON, holding
from kws.grading.records.marks.rubric import Rubric
from kws.grading.records.marks.store import MarkStore
from kws.grading.records.marks.written import marks_digest, written_part
from kws.grading.records.overrides import Override, read_overrides, write_override
from kws.grading.records.plan import KeptPlan, read_kept_plan
from kws.grading.records.requests import Event, write_events
from kws.grading.records.roster import kept_roster_names
from kws.grading.records.seal import seal
from kws.grading.records.standings import COLUMN_PARTS, Adjustment, Standings, write_standings
from kws.grading.season.compute import class_standings, counted_maximum
from kws.grading.season.inputs import SeasonInputs, check_class, keep_season_files, read_season
from kws.grading.season.written import notebook_rubrics, plan_rubrics
from kws.spec import ASSIGNMENTS

# The gradebook's columns that are not a test's (what `write_gradebook` and `kws report` add).
NOT_TESTS = ("student", "total", "raw_total", "max_score", "tier_sets", "seconds", "notes",
             "similar_to")  # fmt: skip


def gradebook_text(grades: Grades, standings: Standings) -> str:
    """The gradebook of `grades`, its test columns read again from the results, with per
    assignment its status, raw, late penalty, adjustments and final; ``total`` the sum of the
    finals, ``raw_total`` of the raw scores, ``max_score`` `counted_maximum`. A missing
    assignment's test cells are blank; other columns (``similar_to``, notes) are kept."""
    parts = [f"{n} {p}" for n in standings.assignments for p in _parts(standings, n)]
    tests = {t["name"]: test_assignment(t) for s in grades.students for t in s.tests}
    every = {f"{n} {p}" for n in {*ASSIGNMENTS, *standings.assignments}
             for p in (*COLUMN_PARTS, WRITTEN_PART)}  # fmt: skip
    seen = [c for c in grades.header if c not in NOT_TESTS and c not in every]
    columns = seen + [t for t in tests if t not in seen]
    kept = [c for c in grades.header if c in NOT_TESTS and c not in ("student", "raw_total")]
    season = parts + ["raw_total"] if standings.assignments else []
    header = ["student", *columns, *season, *kept]
    file = io.StringIO(newline="")
    writer = csv.DictWriter(file, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    for student in grades.students:
        row = dict(student.row)
        if student.document is not None:  # the results, not what the gradebook said of them
            scores = {t["name"]: t["score"] for t in student.tests}
            row |= {c: scores.get(c, 0.0) for c in columns}
            row["total"] = student.document.get("score", row.get("total"))
        if standings.assignments:  # no test names its assignment (another grader): as graded
            row |= _season_cells(student, standings, tests)
        writer.writerow(row)
    return file.getvalue()


WRITTEN_PART = "written"  # the column of the written answers' marks, after raw (counted in it)


def _parts(standings: Standings, name: str) -> tuple[str, ...]:
    """The columns of assignment `name`: `COLUMN_PARTS`, with its written marks' after raw
    where its notebook asks written questions."""
    if not standings.assignments[name].get("written"):
        return COLUMN_PARTS
    return (*COLUMN_PARTS[:2], WRITTEN_PART, *COLUMN_PARTS[2:])


def _season_cells(student, standings: Standings, tests: dict[str, str | None]) -> dict:
    entries = standings.students.get(student.name, {})
    row = {}
    for name, s in entries.items():
        penalty = s.late.penalty if s.late else 0.0
        values = (s.status, s.raw, penalty, sum(a.points for a in s.adjustments), s.final)
        if s.status == "missing":  # nothing to score: blank, not 0
            values = (s.status, "", "", values[3] or "", s.final or "")
            row |= {test: "" for test, owner in tests.items() if owner == name}
        row |= {f"{name} {p}": v for p, v in zip(COLUMN_PARTS, values, strict=True)}
        row[f"{name} {WRITTEN_PART}"] = "" if s.status == "missing" else s.written
    other = [t for t in student.tests if not test_assignment(t)]  # in no assignment
    extra, extra_max = sum(t["score"] for t in other), sum(t["max_score"] for t in other)
    row["total"] = round(float(sum(s.final for s in entries.values()) + extra), 4)
    row["raw_total"] = round(float(sum(s.raw for s in entries.values()) + extra), 4)
    row["max_score"] = counted_maximum(standings, student.name) + extra_max
    return row


def write_records(grades: Grades, standings: Standings, command: str) -> None:
    """Write ``standings.json`` and the gradebook (`gradebook_text`) of `grades`, each whole,
    then seal the folder as `command` left it (`kws.grading.records.seal`)."""
    write_standings(grades.folder, standings)
    write_whole(grades.folder / "gradebook.csv", gradebook_text(grades, standings))
    seal(grades.folder, command)


def graded_assignments(grades: Grades, kept: KeptPlan | None = None) -> dict[str, set[str]]:
    """{student: the assignments graded in their hand-in}: those the plan kept in the folder
    (or `kept`, about to be kept) says were (`kws.grading.records.plan`: a written-only
    notebook runs no test), and those their results hold tests of."""
    kept = kept or read_kept_plan(grades.folder)
    planned = kept.graded([s.name for s in grades.students]) if kept else {}
    return {s.name: ({test_assignment(t) for t in s.tests} - {None}) | planned.get(s.name, set())
            for s in grades.students}  # fmt: skip


def counted_questions(grades: Grades, kept: KeptPlan | None = None) -> list[Rubric]:
    """The written questions the grades of `grades` count: those of every notebook graded in
    them (`graded_assignments`), as the kept plan (or `kept`, the one the command keeps)
    decided them; for a folder that keeps no plan (graded by a kit that kept none), the
    solution notebooks' (`notebook_rubrics`).

    Raises:
        RecordsError: the kept plan cannot be read (naming it and the fix).
    """
    kept = kept or read_kept_plan(grades.folder)
    graded = set().union(*graded_assignments(grades, kept).values())
    return plan_rubrics(kept.written, graded) if kept else notebook_rubrics(graded)


def class_of(
    grades: Grades, kept: KeptPlan | None = None
) -> tuple[dict[str, Path | None], dict[str, set[str]]]:
    """({student: their hand-in folder, None where it is gone}, `graded_assignments`) of the
    class `grades` (graded by the plan `kept`; default: the folder's): what `checked_season`
    checks a season against."""
    return {s.name: s.handin for s in grades.students}, graded_assignments(grades, kept)


def checked_season(
    season: SeasonInputs,
    folder: Path,
    handins: dict[str, Path | None],
    graded: dict[str, set[str]],
    *,
    roster: set[str] | None = None,
    roster_file: Path | None = None,
) -> SeasonInputs:
    """`season` checked against its class, the one check of a season every command makes:
    `kws grade` before it grades (`kws.grading.classrun.plan.season_to_grade`), `kws merge`
    before it merges, and `apply_season` (`kws season`, ...) before it writes.

    Args:
        season: what `read_season` read; folder: the grades folder.
        handins, graded: the class, as `check_class` takes them.
        roster: the roster's students (default: those of the roster kept in `folder`);
            roster_file: where they come from, for the warnings' words (with the default: the
            kept one).

    Returns:
        `season`, its class's notes and warnings added (`check_class`); a season checked
        already in this command (`SeasonInputs.checked`) is not checked again.

    Raises:
        CourseError: a mistake, naming the file given, its line and the fix.
    """
    if season.checked:  # once per command
        return season
    if roster is None:
        roster, roster_file = kept_roster_names(folder), Path(folder) / ROSTER_FILE
    check_class(season, handins, graded, roster, roster_file)
    season.checked = True
    return season


def apply_season(
    grades_dir: Path,
    *,
    season: SeasonInputs | None = None,
    adjustment: tuple[str, str, Adjustment] | None = None,
    override: Override | None = None,
    answer: Event | None = None,
    command: str = "kws season",
    wait: bool = False,
    grades: Grades | None = None,
    kept: KeptPlan | None = None,
) -> Standings:
    """Compute the standings of the class graded in `grades_dir` and write the records; every
    input is checked before the first write, and the folder is held while it is written
    (`kws.grading.records.lock`: one command at a time).

    Args:
        grades_dir: the folder `kws grade --out` wrote.
        season: what `kws.grading.season.inputs.read_season` read already (the course file,
            times and file times given, to keep); default: the files kept in the folder.
        adjustment: (student, assignment, adjustment) to record with them (`kws adjust`).
        override: a test's override to record with them and count (`kws override`).
        answer: the answer to a regrade request to record with them (`kws requests answer`).
        command: the command that applies it, for the folder's seal and lock.
        wait: wait for a command that writes the folder now, instead of refusing.
        grades: the class as the command that graded it holds it in memory
            (`kws.grading.records.grades.grades_of`), in place of reading it back.
        kept: the plan the command has just kept in the folder (`kws grade`, `kws merge`:
            `kws.grading.records.plan.keep_plan`); default: the one kept there, as sealed.

    Returns:
        The standings written, with notes for the instructor.

    Raises:
        CourseError: a mistake in the course file or the times, named with the file given.
        LostResults: a student's results file is missing or unreadable (never a 0).
        FolderBusy: another command writes the folder (and not `wait`).
        RecordsError: an unfinished `kws grade` left the folder half-graded.
    """
    with holding(grades_dir, command, scope=SEASON, wait=wait):
        if grades is None:  # with the override given counted, as it will be once recorded
            more = [*read_overrides(grades_dir), override] if override else None
            grades = read_grades(Path(grades_dir), overrides=more)
        check_results(grades)
        season = season or read_season(grades.folder)
        season = checked_season(season, grades.folder, *class_of(grades, kept))
        adjusted = {key: list(found) for key, found in season.adjusted.items()}
        if adjustment is not None:
            student, assignment, change = adjustment
            adjusted.setdefault((student, assignment), []).append(change)
        check_marks_kept(grades.folder)  # a lost marks file is never "no marks"
        asked = counted_questions(grades, kept)  # the kept plan's, of every notebook graded
        written = written_part(grades.folder, asked)
        standings = class_standings(grades, season.course, season.times, adjusted=adjusted,
                                    file_times=season.file_times, written=written)  # fmt: skip
        standings.notes += season.notes + grades.notes
        left = standings.unmarked()
        if left:  # counted in the maximum, and refused by the exports until marked
            standings.notes.append(f"{left} written answer(s) not marked yet, counted in the "
                                   f"maximum: mark them with `kws mark {grades.folder}` (exports "
                                   "refuse them until then, or --unmarked zero)")  # fmt: skip
        keep_season_files(grades.folder, season)  # every input is good: from here on, writes
        if adjustment is not None:
            write_adjustment(grades.folder, *adjustment)
        if override is not None:
            write_override(grades.folder, override)
        if answer is not None:
            write_events(grades.folder, [answer])
        if asked:  # the questions in the records from the first grade: counted, unmarked or not
            MarkStore(grades.folder, ()).add_questions(asked, by=command)
            standings.marks = marks_digest(grades.folder)
        write_records(grades, standings, command)
    return standings
