"""What a class's grading says, read from the folder `kws grade --out` wrote (for `kws report`).

    grades = read_grades(Path("grades"))        # gradebook.csv, results/*.json, run.json
    score_distributions(grades)                 # {"keyword_spotting": ([12.0, ...], 34.0), ...}
    test_table(grades)                          # per test: pass rate, points lost (worst first)
    failure_groups(grades)                      # the same message with other numbers counted once
    accuracies(grades)                          # per task: hidden-test accuracies, tier lines
    attention_flags(grades)                     # manual review, tampering, crashes, time-outs

Everything here is plain data; `kws.grading.report_html` draws and writes it.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.gradebook import RUN_FILE, safe_name
from kws.grading.results import HIDDEN_OUTPUT
from kws.grading.review import REVIEW_PREFIX
from kws.grading.season import class_standings
from kws.grading.standings import Standings, read_standings
from kws.grading.tiers import accuracy_in, tiers_in
from kws.spec import ASSIGNMENTS

TOTAL = "total"
# How the grader words a failure caused by code that patched torch or behaved differently when
# traced (grader/conftest.py, `Grading.probe_facts`): listed with the hand-ins to look at.
TAMPERING = ("changes torch or the grader's code", "computes something else while the grader")
GRADER_ERROR = "The grader hit an error"
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")


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
    standings: Standings = field(default_factory=Standings)  # `kws.grading.season`

    def status(self, student: str, assignment: str) -> str:
        """graded, missing or ungraded: `student`'s status in `assignment`."""
        standing = self.standings.of(student, assignment)
        return standing.status if standing else "graded"


def read_grades(folder: Path, submissions: Path | None = None, *, standings: bool = True) -> Grades:
    """The class `kws grade --out FOLDER` graded; FileNotFoundError naming what is missing.

    `submissions`: the hand-ins' folder, when it is not the one ``run.json`` records (a grade
    folder copied from elsewhere, or written before `kws grade` recorded it). `standings`: read
    ``standings.json`` too (computed as on time, without adjustments, where it is absent)."""
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
    if standings:
        grades.standings = read_standings(folder)
        if not grades.standings.students:
            grades.standings = class_standings(grades)
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


def assignment_of_test(test: dict) -> str:
    """The assignment a results.json test belongs to (its ``extra_data``), or "other"."""
    return (test.get("extra_data") or {}).get("assignment") or "other"


def score_distributions(grades: Grades) -> dict[str, tuple[list[float], float]]:
    """{assignment: (the raw scores of the students graded in it, its maximum)}, and "total"
    (every student's final total against the class's largest maximum) when more than one
    notebook was graded. A student missing a notebook is left out of its distribution; one the
    grader could not grade counts as 0."""
    out: dict[str, tuple[list[float], float]] = {}
    for assignment, facts in grades.standings.assignments.items():
        entries = [grades.standings.of(s.name, assignment) for s in grades.students]
        scores = [e.raw for e in entries if e is not None and e.status != "missing"]
        out[assignment] = (scores, float(facts["maximum"]))
    if len(out) == 1:  # one notebook graded: its scores are the total
        return out
    totals = [float(s.row.get("total") or 0.0) for s in grades.students]
    out[TOTAL] = (
        totals,
        max([float(s.row.get("max_score") or 0.0) for s in grades.students] + [0.0]),
    )
    return out


def summary(scores: list[float], maximum: float) -> dict[str, float]:
    """Median, mean and the share of full marks of one distribution."""
    full = sum(1 for s in scores if maximum > 0 and s >= maximum - 1e-6)
    return {
        "median": statistics.median(scores) if scores else 0.0,
        "mean": statistics.fmean(scores) if scores else 0.0,
        "full_share": full / len(scores) if scores else 0.0,
        "maximum": maximum,
    }


@dataclass(frozen=True)
class TestRow:
    """One test over the class: pass rate and points lost (a missing result loses them all)."""

    __test__ = False  # not a pytest test class, despite the name
    name: str
    assignment: str
    max_score: float
    pass_rate: float
    points_lost: float


def test_table(grades: Grades) -> list[TestRow]:
    """Every test that is worth points, the most points lost first; over the students who
    handed in its notebook (a missing notebook loses nothing here)."""
    rows = []
    for name, maximum in grades.maximum.items():
        if maximum <= 0:
            continue  # not graded in this run
        where = next(
            assignment_of_test(t) for s in grades.students for t in s.tests if t["name"] == name
        )
        due = [s for s in grades.students if grades.status(s.name, where) != "missing"]
        results = [next((t for t in s.tests if t["name"] == name), None) for s in due]
        passed = sum(1 for t in results if t and t["score"] >= t["max_score"] - 1e-9)
        lost = sum(maximum - (t["score"] if t else 0.0) for t in results)
        rows.append(TestRow(name, where, maximum, passed / max(1, len(due)), round(lost, 4)))
    return sorted(rows, key=lambda r: (-r.points_lost, r.name))


@dataclass
class FailureGroup:
    """One failure message (numbers aside): the tests that gave it and the students who got it."""

    message: str  # the first student's wording
    tests: list[str]
    students: list[str]


def normalised_message(message: str) -> str:
    """The message with every number as ``#`` and runs of spaces as one: the grouping key."""
    return " ".join(_NUMBER.sub("#", message).split())


def failure_groups(grades: Grades) -> list[FailureGroup]:
    """The failure messages of the class, grouped, the most students first."""
    groups: dict[str, FailureGroup] = {}
    for student in grades.students:
        for test in student.tests:
            output = (test.get("output") or "").strip()
            if test["status"] != "failed" or not output or output == HIDDEN_OUTPUT:
                continue
            group = groups.setdefault(normalised_message(output), FailureGroup(output, [], []))
            group.tests += [test["name"]] if test["name"] not in group.tests else []
            group.students += [student.name] if student.name not in group.students else []
    return sorted(groups.values(), key=lambda g: (-len(g.students), g.message))


@dataclass
class TaskAccuracy:
    """Hidden-test accuracies of one task: {student: accuracy}, the tiers and the target tier."""

    assignment: str
    task: str
    accuracies: dict[str, float]
    tiers: dict[str, float] | None
    target: str | None


def _task_of(test: dict, assignment: str) -> str | None:
    task = (test.get("extra_data") or {}).get("task")
    spec = ASSIGNMENTS.get(assignment)
    if task is None and spec is not None:
        targeted = [t for t in spec.tasks.values() if t.target]
        task = targeted[0].name if len(targeted) == 1 else None
    return task


def accuracies(grades: Grades) -> list[TaskAccuracy]:
    """Per task, the accuracies the accuracy tests state, with the tier lines of the run."""
    found: dict[tuple[str, str], TaskAccuracy] = {}
    for student in grades.students:
        output = (student.document or {}).get("output", "")
        for test in student.tests:
            accuracy = accuracy_in(test.get("output") or "")
            assignment = assignment_of_test(test)
            task = _task_of(test, assignment) if accuracy is not None else None
            if task is None:
                continue
            spec = ASSIGNMENTS.get(assignment)
            target = spec.tasks[task].target if spec and task in spec.tasks else None
            entry = found.setdefault(
                (assignment, task), TaskAccuracy(assignment, task, {}, None, target)
            )
            entry.accuracies[student.name] = accuracy
            entry.tiers = entry.tiers or tiers_in(output, assignment)
    return [found[key] for key in sorted(found)]


@dataclass(frozen=True)
class Flag:
    """A hand-in a person should look at: what kind of attention and why."""

    student: str
    kind: str  # manual review, tampering, crashed, timed out, grader error
    reason: str


def attention_flags(grades: Grades) -> list[Flag]:
    """Manual-review flags, tampering, crashes, time-outs and grader errors, by student."""
    flags = []
    for student in grades.students:
        notes = student.row.get("notes", "")
        if student.document is None:
            kind = "timed out" if "ran longer than" in notes else "crashed"
            flags.append(Flag(student.name, kind, notes or "no results.json was written"))
            continue
        for paragraph in student.document.get("output", "").split("\n\n"):
            if paragraph.startswith(REVIEW_PREFIX):
                text = paragraph[len(REVIEW_PREFIX) :].strip()
                flags.append(Flag(student.name, "manual review", text))
            elif "Tell the course staff" in paragraph:
                flags.append(Flag(student.name, "grader error", paragraph.strip()))
        tampered = []  # (test, what it said): a tampering hand-in fails every test it reaches
        for test in student.tests:
            output = test.get("output") or ""
            if any(phrase in output for phrase in TAMPERING):
                tampered.append((test["name"], output))
            elif output.startswith(GRADER_ERROR):
                flags.append(Flag(student.name, "grader error", f"{test['name']}: {output}"))
        if tampered:
            (name, output), more = tampered[0], len(tampered) - 1
            also = f" (and {more} more test{'s' * (more > 1)} said so)" if more else ""
            flags.append(Flag(student.name, "tampering", f"{name}: {output}{also}"))
    return flags


def grading_times(grades: Grades) -> dict[str, float]:
    """{student: wall seconds the grading of the hand-in took} (the gradebook's `seconds`)."""
    times = {}
    for student in grades.students:
        try:
            times[student.name] = float(student.row.get("seconds") or "nan")
        except ValueError:
            continue
    return {name: t for name, t in times.items() if t == t}


def write_similar_to(grades: Grades, notes: dict[str, str]) -> Path:
    """Rewrite the gradebook with a ``similar_to`` column (replaced if it is already there)."""
    path = grades.folder / "gradebook.csv"
    header = [c for c in grades.header if c != "similar_to"] + ["similar_to"]
    by_student = defaultdict(str, notes)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for student in grades.students:
            writer.writerow(student.row | {"similar_to": by_student[student.name]})
    partial.replace(path)
    grades.header = header
    return path
