"""What one student reads about one graded notebook (`class_feedback`), from the folder
`kws grade --out` wrote: their own results, standings entry, the course file kept beside them
(their due date, the course's time zone), the marks of their written answers and the released
notebooks (`kws.grading.publish.feedback.rerun`); nothing else: no other student, no similarity
column, no hidden labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from kws.grading.judge.tiers import accuracy_of, tiers_of
from kws.grading.publish.feedback.rerun import KIT_NOTEBOOKS, Rerun, rerun_for, self_check_cells
from kws.grading.publish.report.analysis import task_of
from kws.grading.records.grades import Grades, Student, test_assignment
from kws.grading.records.marks.written import Written
from kws.grading.records.requests import Thread, read_requests, threads
from kws.grading.records.standings import STANDINGS_FILE, Standing, Standings, StandingsError
from kws.grading.season.course import COURSE_FILE, Course, read_course
from kws.i18n import N_
from kws.spec import ASSIGNMENTS, Spec

# Why a page has no tests, in English: translated where the page is rendered (`kws.i18n`).
UNGRADED_TIMED_OUT = N_(
    "The grader could not grade your hand-in: it ran longer than its time limit before writing "
    "a result. Your instructor has the details and will look at it."
)
UNGRADED_ERROR = N_(
    "The grader could not grade your hand-in: it stopped with an error before writing a "
    "result. Your instructor has the details and will look at it."
)
NOT_HANDED_IN = N_(
    "You did not hand in this notebook: nothing of it was in your hand-in. If you did hand it "
    "in, tell your instructor."
)
YOUR_HAND_IN = N_("Your hand-in")  # the title of an ungraded student's page


@dataclass(frozen=True)
class TestLine:
    """One test as the student sees it."""

    __test__ = False  # not a pytest test class, despite the name
    name: str
    score: float
    max_score: float
    message: str
    rerun: Rerun | None = None
    # A person's points in place of the grader's (`kws override`): original, points, reason,
    # who, when; None where the grader's count.
    override: dict | None = None

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9


@dataclass(frozen=True)
class Accuracy:
    """The student's hidden-test accuracy in one task, the tier lines and the tier for full marks."""

    task: str
    accuracy: float
    tiers: dict[str, float] | None
    target: str | None


@dataclass(frozen=True)
class WrittenLine:
    """One written question as the student sees its mark: the rubric items given (their
    sentence and points), the points beyond them, the comment; `marked` False while no one has
    marked it."""

    title: str
    points: float
    maximum: float
    items: tuple[tuple[str, float], ...]
    adjust: float
    comment: str
    marked: bool


def written_lines(written: Written | None, student: str, name: str) -> list[WrittenLine]:
    """`student`'s marks of the written questions of assignment `name` (`kws mark`)."""
    lines = []
    for key in written.questions.get(name, []) if written else []:
        rubric, mark = written.rubrics[key], written.marks.get(key, {}).get(student)
        if mark is None:
            lines.append(WrittenLine(rubric.title, 0.0, rubric.points, (), 0.0, "", False))
            continue
        given = tuple((i.text, i.points) for i in rubric.items if i.id in mark.items)
        lines.append(WrittenLine(rubric.title, rubric.score(mark), rubric.points, given,
                                 mark.adjust, mark.comment, True))  # fmt: skip
    return lines


@dataclass
class Feedback:
    """One student's page for one assignment.

    Attributes:
        student: the gradebook's name of the student.
        assignment: the spec's name (``keyword_spotting``).
        title: the assignment's title, as students read it.
        tests: the tests Gradescope would show now, in the grader's order.
        withheld: how many tests are not shown (hidden, or shown after the due date).
        total_shown: False while a test shown after the due date is withheld (the total would
            reveal its points).
        accuracy: the accuracies the shown tests state, per task.
        standing: raw score, late penalty, adjustments and final score.
        due: the student's own due date (ISO 8601; an extension's, if granted), when the course
            file or the standings give one.
        reruns: the self-check cells covering the failed tests, each once.
        problem: why there is no result, for a hand-in the grader could not grade.
        zone: the course's time zone, in which the page gives every time (None: as recorded).
        extended: whether `due` is an extension granted to this student.
        written: each written question's mark (`kws mark`), in the notebook's order.
        requests: the student's regrade requests about this notebook and their answers.
        ask_by: the last moment to ask for a regrade of this notebook (ISO 8601), when the
            course file's ``[requests]`` gives one.
        ask_how: how to ask (the course file's ``regrade_how``: a form's address or a sentence).
        withheld_overrides: the overrides (`TestLine.override`) of the tests not shown, for a
            line each that names no test.
    """

    student: str
    assignment: str
    title: str
    tests: list[TestLine]
    withheld: int
    total_shown: bool
    accuracy: list[Accuracy]
    standing: Standing
    due: str | None = None
    reruns: list[Rerun] = field(default_factory=list)
    problem: str | None = None  # why the hand-in has no result, in words for the student
    zone: tzinfo | None = None
    extended: bool = False
    written: list[WrittenLine] = field(default_factory=list)
    requests: list[Thread] = field(default_factory=list)  # the student's regrade requests
    ask_by: str | None = None  # the regrade requests' deadline (the course file's [requests])
    ask_how: str = ""  # how to ask (the course file's regrade_how)
    withheld_overrides: list[dict] = field(default_factory=list)


def kept_course(grades_dir: Path) -> Course | None:
    """The course file `kws grade --course` or `kws season` kept in `grades_dir`, or None."""
    path = Path(grades_dir) / COURSE_FILE
    return read_course(path, sorted(ASSIGNMENTS)) if path.is_file() else None


def due_of(student: str, name: str, standings: Standings, course: Course | None) -> str | None:
    """`student`'s due date for the assignment `name` (ISO 8601): the course file's, with an
    extension they were granted; else the one the standings record for the assignment."""
    due = course.due_for(student, name) if course else None
    return due.isoformat() if due else (standings.assignments.get(name) or {}).get("due")


def is_shown(test: dict, due: str | None, now: datetime) -> bool:
    """Whether Gradescope shows `test` to its student at `now`: ``hidden`` never,
    ``after_due_date`` once `due` has passed (never without one), any other always (the page is
    the publication). `now` must carry its offset; StandingsError for a `due` that is no ISO
    8601 time."""
    visibility = test.get("visibility", "visible")
    if visibility == "hidden":
        return False
    return visibility != "after_due_date" or (due is not None and now >= _due_time(due))


def _due_time(due: str) -> datetime:
    try:
        return _aware(datetime.fromisoformat(due))
    except (TypeError, ValueError):
        raise StandingsError(
            f"{STANDINGS_FILE}: due date {due!r} is no ISO 8601 time (e.g. "
            "2026-10-02T23:59:00+02:00); correct it in the course file and grade again"
        ) from None


def _aware(moment: datetime) -> datetime:
    """`moment` with its offset; one written without (not ISO 8601 as standings.json asks) is
    read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _accuracy(spec: Spec | None, test: dict, document: dict, name: str) -> Accuracy | None:
    value = accuracy_of(test)
    if value is None:
        return None
    task, target = task_of(test, spec)
    return Accuracy(task or "model", value, tiers_of(document, name), target)


def student_feedback(
    student: Student,
    name: str,
    standings: Standings,
    *,
    notebooks: Path = KIT_NOTEBOOKS,
    now: datetime | None = None,
    course: Course | None = None,
    written: Written | None = None,
) -> Feedback:
    """The page of `student` (a row of `kws.grading.records.grades.read_grades` with its results
    document, which must hold the tests of assignment `name`): the tests shown, the accuracy
    against the tiers, the cells to re-run (found in the released notebooks, `notebooks`) and
    the standing (from the class's `standings`; without an entry, final = raw). `now`: the
    time the visibility rules are judged at (default: now, UTC); `course`: the course file (the
    student's due date, the time zone), or None; `written`: the class's written questions and
    marks (`kws.grading.records.marks.written.written_part`), or None."""
    now = _aware(now or datetime.now(timezone.utc))
    spec = ASSIGNMENTS.get(name)
    due = due_of(student.name, name, standings, course)
    tests = [t for t in student.tests if test_assignment(t, "other") == name]
    shown = [t for t in tests if is_shown(t, due, now)]
    cells = self_check_cells(Path(notebooks) / spec.notebook) if spec else []
    lines = []
    for test in shown:
        rerun = rerun_for(spec, test, cells) if spec else None
        message = (test.get("output") or "").strip()
        override = (test.get("extra_data") or {}).get("override")
        lines.append(
            TestLine(test["name"], test["score"], test["max_score"], message, rerun, override)
        )
    found = (_accuracy(spec, t, student.document or {}, name) for t in shown)
    raw = round(sum(t["score"] for t in tests), 4)
    maximum = sum(t["max_score"] for t in tests)
    standing = standings.of(student.name, name) or Standing("graded", raw, maximum, raw)
    withheld_late = any(t.get("visibility") == "after_due_date" for t in tests if t not in shown)
    unshown = [(t.get("extra_data") or {}).get("override") for t in tests if t not in shown]
    title = (standings.assignments.get(name) or {}).get("title") or (spec.title if spec else name)
    reruns = [line.rerun for line in lines if line.rerun and not line.passed]
    return Feedback(
        student=student.name,
        assignment=name,
        title=title,
        tests=lines,
        withheld=len(tests) - len(shown),
        total_shown=not withheld_late,
        accuracy=[a for a in found if a is not None],
        standing=standing,
        due=due,
        reruns=list(dict.fromkeys(reruns)),
        zone=course.timezone if course else None,
        extended=bool(course and name in course.extensions.get(student.name, {})),
        written=written_lines(written, student.name, name),
        withheld_overrides=[given for given in unshown if given],
    )


def _no_result(
    student: str,
    entries: dict[str, Standing],
    problem: str,
    fallback: str | None,
    standings: Standings,
    course: Course | None,
) -> list[Feedback]:
    """A page per assignment of `entries` ({name: standing}) that says why there is no result
    (`problem`) in place of the tests; titled as the standings or its spec say, else `fallback`
    (None: the assignment's name)."""
    pages, zone = [], course.timezone if course else None
    for name, standing in entries.items():
        spec, info = ASSIGNMENTS.get(name), standings.assignments.get(name) or {}
        title = info.get("title") or (spec.title if spec else fallback or name)
        due = due_of(student, name, standings, course)
        pages.append(
            Feedback(
                student, name, title, [], 0, True, [], standing, due, problem=problem, zone=zone
            )
        )
    return pages


def ungraded_feedback(
    student: Student, standings: Standings, course: Course | None = None
) -> list[Feedback]:
    """The pages of a student the grader wrote no results for: one per assignment the standings
    mark ``ungraded`` (one "hand-in" page without standings), saying so without the grading
    machine's details (the gradebook's notes name its folders: they stay the instructor's)."""
    timed_out = "ran longer than" in (student.ungraded or student.row.get("notes", ""))
    problem = UNGRADED_TIMED_OUT if timed_out else UNGRADED_ERROR
    entries = standings.students.get(student.name, {})
    ungraded = {name: entry for name, entry in entries.items() if entry.status == "ungraded"}
    ungraded = ungraded or {"hand-in": Standing("ungraded", 0.0, 0.0, 0.0)}
    return _no_result(student.name, ungraded, problem, YOUR_HAND_IN, standings, course)


def missing_feedback(
    student: str, standings: Standings, course: Course | None = None
) -> list[Feedback]:
    """The pages of the assignments `student` handed nothing in for (``missing`` in the
    standings), saying so and what it counts (0 of the maximum once it was due)."""
    problem = NOT_HANDED_IN
    entries = standings.students.get(student, {})
    missing = {name: entry for name, entry in entries.items() if entry.status == "missing"}
    return _no_result(student, missing, problem, None, standings, course)


def class_feedback(
    grades: Grades,
    standings: Standings,
    *,
    notebooks: Path = KIT_NOTEBOOKS,
    now: datetime | None = None,
    course: Course | None = None,
    written: Written | None = None,
) -> list[Feedback]:
    """A page per student and assignment their results hold, in the gradebook's order, and one
    per assignment they handed nothing in for (`missing_feedback`); a student the grader wrote
    no results for gets the pages of `ungraded_feedback`. `course`: the course file
    (`kept_course`), for each student's own due date and the course's time zone."""
    pages = []
    for student in grades.students:
        if student.ungraded is not None:
            pages += ungraded_feedback(student, standings, course)
            continue
        names = dict.fromkeys(test_assignment(t, "other") for t in student.tests)
        names |= {  # graded with no test: a written-only assignment, marked by a person
            name: None
            for name, standing in standings.students.get(student.name, {}).items()
            if standing.status == "graded"
        }
        asked = [t for t in threads(read_requests(grades.folder)) if t.student == student.name]
        for name in names:
            page = student_feedback(student, name, standings, notebooks=notebooks, now=now,
                                    course=course, written=written)  # fmt: skip
            tests = {t["name"] for t in student.tests if test_assignment(t, "other") == name}
            page.requests = [t for t in asked
                             if t.question in tests or t.question.startswith(f"{name}/")]  # fmt: skip
            if course is not None:  # where and until when to ask about this page's marks
                deadline = course.requests.get(name)
                page.ask_by = deadline.isoformat() if deadline else None
                page.ask_how = course.regrade_how
            pages.append(page)
        pages += missing_feedback(student.name, standings, course)
    return pages
