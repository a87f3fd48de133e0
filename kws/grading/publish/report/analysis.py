"""What a class's grading says, read from the folder `kws grade --out` wrote (for `kws report`):
score distributions, the tests over the class, the failure messages grouped, the accuracies
against the tiers and the hand-ins a person should look at, as plain data that
`kws.grading.publish.report.page` draws and writes.
"""

from __future__ import annotations

import contextlib
import re
import statistics
from dataclasses import dataclass

from kws.grading.judge.document import HIDDEN_OUTPUT, findings_of
from kws.grading.judge.tiers import accuracy_of, tiers_of
from kws.grading.records.grades import Grades, test_assignment
from kws.spec import ASSIGNMENTS, Spec

TOTAL = "total"
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")


KINDS = ("raw", "final")


def score_distributions(grades: Grades, kind: str = "raw") -> dict[str, tuple[list[float], float]]:
    """{assignment: (the scores of the students graded in it, its maximum)}, and "total" (every
    student's total against the class's largest maximum) when more than one notebook was
    graded. `kind`: "raw", the tests' points, or "final", after late penalties and adjustments
    (the standings' final score; the total: the gradebook's ``total``). A student missing a
    notebook is left out of its distribution; one the grader could not grade counts as 0."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: choose one of {', '.join(KINDS)}")
    out: dict[str, tuple[list[float], float]] = {}
    totals = {s.name: 0.0 for s in grades.students}  # the raw totals
    for assignment, facts in grades.standings.assignments.items():
        entries = [(s.name, grades.standings.of(s.name, assignment)) for s in grades.students]
        graded = [(name, e) for name, e in entries if e is not None and e.status != "missing"]
        for name, entry in graded:
            totals[name] += entry.raw
        scores = [entry.final if kind == "final" else entry.raw for _, entry in graded]
        out[assignment] = (scores, float(facts["maximum"]))
    if len(out) == 1:  # one notebook graded: its scores are the total
        return out
    if kind == "final":
        scores = [float(s.row.get("total") or 0.0) for s in grades.students]
    else:
        scores = [round(totals[s.name], 4) for s in grades.students]
    maximum = max([float(s.row.get("max_score") or 0.0) for s in grades.students] + [0.0])
    out[TOTAL] = (scores, maximum)
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
        named = (t for s in grades.students for t in s.tests if t["name"] == name)
        where = test_assignment(next(named), "other")
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


def failure_groups(grades: Grades) -> list[FailureGroup]:
    """The failure messages of the class, grouped, the most students first."""
    groups: dict[str, FailureGroup] = {}
    for student in grades.students:
        for test in student.tests:
            output = (test.get("output") or "").strip()
            if test["status"] != "failed" or not output or _hidden(test):
                continue
            key = " ".join(_NUMBER.sub("#", output).split())  # numbers as #, spaces as one
            group = groups.setdefault(key, FailureGroup(output, [], []))
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


def task_of(test: dict, spec: Spec | None) -> tuple[str | None, str | None]:
    """The task an accuracy `test` grades (its own, else its `spec`'s one task with a target
    tier; None: unknown), and that task's target tier (None: unknown)."""
    task = (test.get("extra_data") or {}).get("task")
    if task is None and spec is not None:
        targeted = [t.name for t in spec.tasks.values() if t.target]
        task = targeted[0] if len(targeted) == 1 else None
    return task, (spec.tasks[task].target if spec and task in spec.tasks else None)


def accuracies(grades: Grades) -> list[TaskAccuracy]:
    """Per task, the accuracies the accuracy tests state, with the tier lines of the run."""
    found: dict[tuple[str, str], TaskAccuracy] = {}
    for student in grades.students:
        document = student.document or {}
        for test in student.tests:
            accuracy = accuracy_of(test)
            assignment = test_assignment(test, "other")
            task, target = task_of(test, ASSIGNMENTS.get(assignment))
            if accuracy is None or task is None:
                continue
            entry = found.setdefault(
                (assignment, task), TaskAccuracy(assignment, task, {}, None, target)
            )
            entry.accuracies[student.name] = accuracy
            entry.tiers = entry.tiers or tiers_of(document, assignment)
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
        if student.ungraded is not None:
            why = student.ungraded if student.document is not None else notes
            kind = "timed out" if "ran longer than" in why else "crashed"
            flags.append(Flag(student.name, kind, why or "no results.json was written"))
            continue
        for kind, said in (("review", "manual review"), ("grader_error", "grader error")):
            found = findings_of(student.document, kind)
            flags += [Flag(student.name, said, finding["text"]) for finding in found]
        # A tampering hand-in fails every test that reaches its model: one flag, the first
        # test's message to the student, and how many more said so.
        tampered = findings_of(student.document, "tampering")
        if tampered:
            first, more = tampered[0], len(tampered) - 1
            said = {t["name"]: t.get("output") for t in student.tests}.get(first["test"])
            also = f" (and {more} more test{'s' * (more > 1)} said so)" if more else ""
            text = f"{first['test']}: {said}" if said else first["text"]
            flags.append(Flag(student.name, "tampering", f"{text}{also}"))
    return flags


def grading_times(grades: Grades) -> dict[str, float]:
    """{student: wall seconds the grading of the hand-in took} (the gradebook's `seconds`)."""
    times = {}
    for student in grades.students:
        with contextlib.suppress(ValueError):
            times[student.name] = float(student.row.get("seconds") or "nan")
    return {name: t for name, t in times.items() if t == t}


def _hidden(test: dict) -> bool:
    """A hidden test's output says only that it is hidden (`HIDDEN_OUTPUT`, in the course's
    language): nothing to group."""
    return test.get("visibility") == "hidden" or test.get("output") == HIDDEN_OUTPUT
