"""A graded folder read back: the gradebook's rows, each student's results.json, where the
hand-ins are, and the standings, as `kws grade --out` (and `kws season`) wrote them.

    grades = read_grades(Path("grades"))    # gradebook.csv, results/*.json, run.json, standings.json
    grades.students[0].tests                # the student's results.json tests
    grades.status("alice", "speaker_id")    # graded, missing or ungraded

Reading changes nothing; `kws.grading.season` computes standings where the folder has none.
`check_records` is what every command that publishes grades runs first.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.records.gradebook import RUN_FILE, safe_name, ungraded_reason
from kws.grading.records.kept_marks import check_marks_kept
from kws.grading.records.lock import check_no_run
from kws.grading.records.overrides import (
    Override,
    apply_overrides,
    read_overrides,
    standing_overrides,
)
from kws.grading.records.seal import RecordsError, check_seal
from kws.grading.records.standings import COLUMN_PARTS, Standings, read_standings


@dataclass
class Student:
    """One gradebook row and its results.json (None when it is missing or unreadable: `lost`
    says which)."""

    name: str
    row: dict[str, str]
    document: dict | None
    handin: Path | None = None  # the hand-in folder, where it still exists
    lost: str = ""  # why its results file gives no grade: "is missing", "cannot be read (...)"

    @property
    def tests(self) -> list[dict]:
        return (self.document or {}).get("tests", [])

    @property
    def ungraded(self) -> str | None:
        """Why the grader graded nothing of this hand-in (its results' `ungraded_reason`, or
        why its results file gives no grade), or None for a graded one."""
        if self.document is None:
            return f"results file {self.lost}" if self.lost else "no results"
        return ungraded_reason(self.document)


@dataclass
class Grades:
    """A graded class: the gradebook's rows in order, and where the hand-ins are."""

    folder: Path
    header: list[str]
    students: list[Student]
    submissions: Path | None = None
    maximum: dict[str, float] = field(default_factory=dict)  # test name -> its max in the class
    standings: Standings = field(default_factory=Standings)  # ``standings.json``
    # What the instructor should know of the tests' overrides (``overrides.csv``): one that
    # counts nothing, or whose test was graded again to other points.
    notes: list[str] = field(default_factory=list)

    def status(self, student: str, assignment: str) -> str:
        """graded, missing or ungraded: `student`'s status in `assignment`."""
        standing = self.standings.of(student, assignment)
        return standing.status if standing else "graded"


def read_grades(
    folder: Path, submissions: Path | None = None, overrides: list[Override] | None = None
) -> Grades:
    """The class `kws grade --out FOLDER` graded, with its ``standings.json`` (empty where it
    has none: `kws.grading.season.compute.with_standings` computes them); FileNotFoundError
    naming what is missing.

    `submissions`: the hand-ins' folder, when it is not the one ``run.json`` records (a grade
    folder copied from elsewhere, or written before `kws grade` recorded it). `overrides`: the
    lines of ``overrides.csv`` to count (default: the folder's, `read_overrides`), each test's
    last one counting."""
    folder = Path(folder)
    gradebook = folder / "gradebook.csv"
    if not gradebook.is_file():
        check_no_run(folder)  # a first `kws grade` writing it, or stopped before its gradebook
        if (folder / "shards").is_dir():  # graded with --shard I/N, not merged yet
            raise FileNotFoundError(
                f"{gradebook}: no gradebook yet; {folder} holds shards: run `kws merge {folder}`"
            )
        raise FileNotFoundError(
            f"{gradebook}: no gradebook; pass the folder `kws grade --out` wrote "
            "(it holds gradebook.csv and results/)"
        )
    with open(gradebook, newline="", encoding="utf-8") as file:
        header, rows = _gradebook_rows(file, gradebook)
    results = {row["student"]: read_result(folder, row["student"]) for row in rows}
    if submissions is None and (folder / RUN_FILE).is_file():
        recorded = json.loads((folder / RUN_FILE).read_text()).get("submissions")
        submissions = Path(recorded) if recorded else None
    grades = _grades(folder, header, rows, results, submissions, overrides)
    grades.standings = read_standings(folder)
    return grades


def grades_of(
    folder: Path, gradebook: str, documents: dict[str, dict | None], submissions: Path
) -> Grades:
    """The class `kws grade` graded into `folder`, from what it holds in memory: the text of
    the gradebook it wrote, each student's results `documents` as its grader wrote them, and
    the hand-ins' folder; what `read_grades` would read back, without reading it (no
    standings: `kws.grading.season.apply.apply_season` computes them)."""
    header, rows = _gradebook_rows(io.StringIO(gradebook, newline=""), folder / "gradebook.csv")
    results = {row["student"]: (documents.get(row["student"]), "") for row in rows}
    return _grades(Path(folder), header, rows, results, submissions)


def _gradebook_rows(file, gradebook: Path) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(file)
    header, rows = list(reader.fieldnames or []), list(reader)
    if "student" not in header:
        raise ValueError(f"{gradebook}: no `student` column; is it a kws gradebook?")
    return header, rows


def _grades(
    folder: Path,
    header: list[str],
    rows: list[dict[str, str]],
    results: dict[str, tuple[dict | None, str]],
    submissions: Path | None,
    overrides: list[Override] | None = None,
) -> Grades:
    overrides = read_overrides(folder) if overrides is None else overrides
    overrides = standing_overrides(overrides)  # a person's points for a test
    students, notes = [], []
    for row in rows:
        document, lost = results[row["student"]]
        document, said = apply_overrides(row["student"], _named(document), overrides)
        students.append(Student(row["student"], row, document, lost=lost))
        notes += said
    strangers = sorted({student for student, _ in overrides} - {row["student"] for row in rows})
    notes += [f"{name} is not in the gradebook: their override(s) in overrides.csv count "
              "nothing; rename them to the hand-in folder's name" for name in strangers]  # fmt: skip
    grades = Grades(folder, header, students, submissions, notes=notes)
    for student in students:
        handin = submissions / student.name if submissions else None
        student.handin = handin if handin is not None and handin.is_dir() else None
        for test in student.tests:
            name = test["name"]
            grades.maximum[name] = max(grades.maximum.get(name, 0.0), test["max_score"])
    return grades


class LostResults(RecordsError):
    """Gradebook rows whose results file is missing or unreadable; the message names each
    student, the file, and the command that grades them again."""


def read_result(folder: Path, student: str) -> tuple[dict | None, str]:
    """`student`'s results document in the grades folder `folder`, and "" — or None and why it
    gives no grade: "is missing", "cannot be read (...)"."""
    path = Path(folder) / "results" / f"{safe_name(student)}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as error:
        why = "not JSON: half-written or cut short" if isinstance(error, ValueError) else error
        return None, f"cannot be read ({why})"
    if not isinstance(document, dict) or not isinstance(document.get("tests", []), list):
        return None, "cannot be read (not a results document)"
    return document, ""


def regrade_commands(folder: Path, students: list[str]) -> list[str]:
    """The `kws grade --student` commands that grade `students` again into `folder`, with the
    hand-ins and data folders its ``run.json`` records."""
    import shlex  # noqa: PLC0415 - only for the messages

    run = {}
    with contextlib.suppress(OSError, ValueError):
        run = json.loads((Path(folder) / RUN_FILE).read_text())
    words = ["kws", "grade", run.get("submissions") or "SUBMISSIONS", "--data",
             run.get("data") or "DATA", "--out", str(folder)]  # fmt: skip
    if run.get("assignment"):
        words += ["--assignment", run["assignment"]]
    return [shlex.join([*words, "--student", name]) for name in students]


def check_results(grades: Grades) -> None:
    """LostResults when a student of the gradebook of `grades` has no readable results file:
    a result that is not there is never a 0. The message names each one, its file and the
    command that grades them again."""
    lost = [s for s in grades.students if s.lost]
    if not lost:
        return
    listed = "; ".join(f"{s.name}'s results/{safe_name(s.name)}.json {s.lost}" for s in lost)
    commands = "\n  ".join(regrade_commands(grades.folder, [s.name for s in lost]))
    raise LostResults(f"{grades.folder}: {listed}. A result that is not there is not a 0: grade "
                      f"{'them' if len(lost) > 1 else 'it'} again, then this command:\n  "
                      f"{commands}")  # fmt: skip


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
    """What every command that publishes grades runs first, on a graded folder read by
    `read_grades`: `kws.grading.records.lock.check_no_run` (no run writing the folder or
    left it half-written), `check_results` (a result for every student),
    `kws.grading.records.kept_marks.check_marks_kept` (the marks there and agreeing with
    their history: before the seal, whose advice, `kws season`, would count an older marks
    file), `kws.grading.records.seal.check_seal` and `check_agreement`."""
    check_no_run(grades.folder)
    check_results(grades)
    check_marks_kept(grades.folder)
    check_seal(grades.folder)
    if grades.standings.students:
        check_agreement(grades)
