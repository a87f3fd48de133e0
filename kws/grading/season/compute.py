"""A season's grades: each student's standing in each notebook, its own assignment, with the late
penalty and the adjustments (what ``standings.json`` holds; `kws.grading.season.apply` writes it
and the gradebook's columns).

`class_standings` computes them from a graded class, the course file, hand-in times, the
adjustments and the written answers' marks, as docs/how-to/deadlines.md ("What the kit
decides") says. A student is **ungraded** in every assignment when the grader could not grade
the hand-in; one with no readable results file has no standing at all: the commands refuse the
folder (`kws.grading.records.grades.check_results`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from kws.grading.protocol.handin import find_notebook
from kws.grading.records.adjustments import read_adjustments
from kws.grading.records.gradebook import ungraded_reason
from kws.grading.records.grades import Grades, check_records, test_assignment
from kws.grading.records.kept_marks import check_marks_kept
from kws.grading.records.marks.written import Written, written_part
from kws.grading.records.standings import Adjustment, Standing, Standings
from kws.grading.season.course import Course, CourseError, late_of
from kws.grading.season.times import handin_time
from kws.spec import ASSIGNMENTS


def _notebook(handin: Path | None, name: str) -> Path | None:
    """The notebook of `name` in the hand-in folder, found as the grader finds it, or None."""
    spec = ASSIGNMENTS.get(name)
    if handin is None or spec is None:
        return None
    try:
        return find_notebook(handin, spec.notebook, list(spec.model_tasks.values()))
    except FileNotFoundError:
        return None


def _one(
    student, name: str, maximum: float, course, times, adjusted, spent, file_times, written: Written
) -> Standing:
    """One student's standing in one assignment; `spent`: grace days used so far (updated)."""
    tests = [t for t in student.tests if test_assignment(t) == name]
    adjustments = tuple(adjusted.get((student.name, name), []))
    bonus = sum(a.points for a in adjustments)
    spec = ASSIGNMENTS.get(name)
    handed_in = bool(tests)
    if spec is not None and spec.written_only and student.document is not None:
        # nothing ran: handed in when the hand-in holds its notebook, marked by a person
        handed_in = _notebook(student.handin, name) is not None
    if student.document is None or not handed_in:
        ungraded = student.document is None or ungraded_reason(student.document) is not None
        status = "ungraded" if ungraded else "missing"
        return Standing(status, 0.0, maximum, max(0.0, bonus), None, adjustments)
    marked, unmarked = written.of(student.name, name)  # the written answers' marks
    raw = round(sum(t["score"] for t in tests) + marked, 4)
    late = None
    due = course.due_for(student.name, name) if course else None
    if due is not None:
        notebook = _notebook(student.handin, name) if file_times else None
        when = handin_time(student.name, name, notebook, student.handin, times, file_times)
        if when is None:  # `kws.grading.season.inputs.check_class` lists these beforehand
            raise CourseError(f"no hand-in time for {student.name} {name}: give it in a times "
                              "CSV (--times FILE)")  # fmt: skip
        left = course.grace_days - spent[student.name]
        late = late_of(course, due, when.submitted, maximum, left, when.source)
        spent[student.name] += late.grace_days_used if late else 0
    penalty = late.penalty if late else 0.0
    final = round(max(0.0, raw - penalty + bonus), 4)
    return Standing("graded", raw, maximum, final, late, adjustments, marked, unmarked)


def class_standings(
    grades,
    course: Course | None = None,
    times: dict | None = None,
    *,
    adjusted: dict[tuple[str, str], list[Adjustment]] | None = None,
    file_times: bool = False,
    written: Written | None = None,
) -> Standings:
    """Every student's standing in every assignment graded in `grades` (`read_grades`).

    Args:
        grades: the graded class (`kws.grading.records.grades.read_grades`).
        course: the course file (due dates, late rule), or None: everything on time.
        times: the times CSV's entries (`kws.grading.season.times.read_times_csv`), or None.
        adjusted: the adjustments by (student, assignment); default: ``adjustments.csv``.
        file_times: whether a notebook's modification time may date a hand-in nothing else
            dates (``--file-times``).
        written: the written questions and marks (default: the folder's, `written_part`).

    Returns:
        The standings ``standings.json`` holds.

    Raises:
        CourseError: a graded notebook with a due date and no hand-in time (checked before
            grading by `kws.grading.season.inputs.check_class`).
    """
    written = written_part(grades.folder) if written is None else written
    tests: dict[str, set[str]] = {}  # {assignment: its tests' names over the class}
    for student in grades.students:
        for test in student.tests:
            if name := test_assignment(test):
                tests.setdefault(name, set()).add(test["name"])
    maxima = {name: sum(grades.maximum[t] for t in tests[name]) + written.maxima.get(name, 0.0)
              for name in sorted(tests)}  # fmt: skip
    maxima |= {  # a written-only assignment without a test (nbgrader's test cells are tests)
        n: m
        for n, m in written.maxima.items()
        if n in ASSIGNMENTS and ASSIGNMENTS[n].written_only and n not in maxima
    }
    adjusted = read_adjustments(grades.folder) if adjusted is None else adjusted
    far = datetime.max.replace(tzinfo=timezone.utc)
    order = sorted(maxima, key=lambda n: ((course and course.due.get(n)) or far, n))
    spent = {s.name: 0 for s in grades.students}
    standings = Standings(marks=written.digest)
    for name in sorted(maxima):
        due, spec = (course.due.get(name) if course else None), ASSIGNMENTS.get(name)
        standings.assignments[name] = {"title": spec.title if spec else name,
                                       "maximum": maxima[name],
                                       "due": due.isoformat() if due else None}  # fmt: skip
        if written.maxima.get(name):
            standings.assignments[name]["written"] = written.maxima[name]
    for student in grades.students:
        entries = {n: _one(student, n, maxima[n], course, times or {}, adjusted, spent,
                           file_times, written) for n in order}  # fmt: skip
        standings.students[student.name] = dict(sorted(entries.items()))
    return standings


def counted_maximum(standings: Standings, student: str, now: datetime | None = None) -> float:
    """The maximum of `student`'s hand-in: what it was graded in, and missing work now due."""
    now = now or datetime.now(timezone.utc)
    total = 0.0
    for name, standing in standings.students.get(student, {}).items():
        due = standings.assignments[name].get("due")
        overdue = due is not None and datetime.fromisoformat(due) <= now
        total += standing.maximum if standing.status != "missing" or overdue else 0.0
    return total


def with_standings(grades: Grades) -> Grades:
    """`grades` with standings: those its folder's ``standings.json`` holds, or, where it has
    none (a folder graded before standings were written), computed as on time without
    adjustments. What every command that publishes grades reads them with: RecordsError
    (`kws.grading.records.grades.check_records`) when the folder's files are not those its
    last command recorded, or its gradebook disagrees with its standings."""
    check_records(grades)
    check_marks_kept(grades.folder)
    if not grades.standings.students:
        grades.standings = class_standings(grades)
    return grades
