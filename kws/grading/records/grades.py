"""A graded folder read back: the gradebook's rows, each student's results.json, where the
hand-ins are, and the standings, as `kws grade --out` (and `kws season`) wrote them.

    grades = read_grades(Path("grades"))    # gradebook.csv, results/*.json, run.json, standings.json
    grades.students[0].tests                # the student's results.json tests
    grades.status("alice", "speaker_id")    # graded, missing or ungraded

Reading changes nothing; `kws.grading.season` computes standings where the folder has none.
`check_records` is what every command that publishes grades runs first: the folder's files are
those its last command sealed (`kws.grading.records.seal`), and the gradebook agrees with
``standings.json`` (`check_agreement`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.records.gradebook import RUN_FILE, safe_name
from kws.grading.records.seal import RecordsError, check_seal
from kws.grading.records.standings import COLUMN_PARTS, Standings, read_standings


@dataclass
class Student:
    """One gradebook row and its results.json (None when the grader wrote none)."""

    name: str
    row: dict[str, str]
    document: dict | None
    handin: Path | None = None  # the hand-in folder, where it still exists

    @property
    def tests(self) -> list[dict]:
        return (self.document or {}).get("tests", [])


@dataclass
class Grades:
    """A graded class: the gradebook's rows in order, and where the hand-ins are."""

    folder: Path
    header: list[str]
    students: list[Student]
    submissions: Path | None = None
    maximum: dict[str, float] = field(default_factory=dict)  # test name -> its max in the class
    standings: Standings = field(default_factory=Standings)  # ``standings.json``

    def status(self, student: str, assignment: str) -> str:
        """graded, missing or ungraded: `student`'s status in `assignment`."""
        standing = self.standings.of(student, assignment)
        return standing.status if standing else "graded"


def read_grades(folder: Path, submissions: Path | None = None) -> Grades:
    """The class `kws grade --out FOLDER` graded, with its ``standings.json`` (empty where it
    has none: `kws.grading.season.compute.with_standings` computes them); FileNotFoundError
    naming what is missing.

    `submissions`: the hand-ins' folder, when it is not the one ``run.json`` records (a grade
    folder copied from elsewhere, or written before `kws grade` recorded it)."""
    folder = Path(folder)
    gradebook = folder / "gradebook.csv"
    if not gradebook.is_file():
        if (folder / "shards").is_dir():  # graded with --shard I/N, not merged yet
            raise FileNotFoundError(
                f"{gradebook}: no gradebook yet; {folder} holds shards: run `kws merge {folder}`"
            )
        raise FileNotFoundError(
            f"{gradebook}: no gradebook; pass the folder `kws grade --out` wrote "
            "(it holds gradebook.csv and results/)"
        )
    with open(gradebook, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        header, rows = list(reader.fieldnames or []), list(reader)
    if "student" not in header:
        raise ValueError(f"{gradebook}: no `student` column; is it a kws gradebook?")
    students = []
    for row in rows:
        path = folder / "results" / f"{safe_name(row['student'])}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = None
        students.append(Student(row["student"], row, _named(document)))
    if submissions is None and (folder / RUN_FILE).is_file():
        recorded = json.loads((folder / RUN_FILE).read_text()).get("submissions")
        submissions = Path(recorded) if recorded else None
    grades = Grades(folder, header, students, submissions)
    for student in students:
        handin = submissions / student.name if submissions else None
        student.handin = handin if handin is not None and handin.is_dir() else None
        for test in student.tests:
            grades.maximum[test["name"]] = max(
                grades.maximum.get(test["name"], 0.0), test["max_score"]
            )
    grades.standings = read_standings(folder)
    return grades


def _named(document: dict | None) -> dict | None:
    """`document` with each test's assignment filled in where a kit that left it out wrote the
    results (its tests named only their function and task) and one notebook was graded: the one
    its tier sets name."""
    if not isinstance(document, dict):
        return None
    graded = list((document.get("extra_data") or {}).get("tier_sets") or {})
    for test in document.get("tests", []):
        facts = test.setdefault("extra_data", {})
        if isinstance(facts, dict) and not facts.get("assignment") and len(graded) == 1:
            facts["assignment"] = graded[0]
    return document


def test_assignment(test: dict, default: str | None = None) -> str | None:
    """The assignment a results.json test belongs to (its ``extra_data``), else `default`."""
    return (test.get("extra_data") or {}).get("assignment") or default


def _number(text: str | None) -> float:
    return float(text) if text not in (None, "") else 0.0


def check_agreement(grades: Grades) -> None:
    """RecordsError when the gradebook of `grades` disagrees with its ``standings.json``: a
    student in one and not the other, a notebook's final score or the total not the same."""
    standings, folder = grades.standings, grades.folder
    fix = f"run `kws season {folder}` to write both again, then this command"
    rows = {s.name: s for s in grades.students}
    odd = sorted(set(rows) ^ set(standings.students))
    if odd:
        raise RecordsError(f"{folder}: gradebook.csv and standings.json list different students "
                           f"({', '.join(odd)}); {fix}")  # fmt: skip
    for name, entries in standings.students.items():
        student = rows[name]
        for assignment, standing in entries.items():
            column = f"{assignment} {COLUMN_PARTS[-1]}"
            if column not in student.row:
                raise RecordsError(f"{folder}: gradebook.csv has no column {column!r} though "
                                   f"standings.json grades {assignment}; {fix}")  # fmt: skip
            if abs(_number(student.row[column]) - standing.final) > 1e-6:
                raise RecordsError(f"{folder}: {name}'s {assignment} is {student.row[column]} "
                                   f"in gradebook.csv, {standing.final:g} in standings.json; "
                                   f"{fix}")  # fmt: skip
        extra = sum(t["score"] for t in student.tests if not test_assignment(t))
        total = sum(s.final for s in entries.values()) + extra
        if entries and abs(_number(student.row.get("total")) - total) > 1e-3:
            raise RecordsError(f"{folder}: {name}'s total is {student.row.get('total')} in "
                               f"gradebook.csv, {total:g} by standings.json; {fix}")  # fmt: skip


def check_records(grades: Grades) -> None:
    """`kws.grading.records.seal.check_seal` and `check_agreement` of a graded folder read by
    `read_grades`: what every command that publishes grades runs first."""
    check_seal(grades.folder)
    if grades.standings.students:
        check_agreement(grades)
