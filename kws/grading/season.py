"""A term's grades: each notebook its own assignment, late penalties, adjustments.

    kws grade submissions/ --data data --out grades/ --course course.toml [--times times.csv]
    kws season grades/ [--course course.toml] [--times times.csv]   # deadlines changed: re-apply
    kws adjust grades/ alice speaker_id +2 --reason "..."            # a person's change

`apply_season` reads what `kws grade` wrote (results, gradebook, run.json), the course file
(`kws.grading.course`) and hand-in times (`kws.grading.handin_times`) it keeps beside them, and
the adjustments (`kws.grading.adjustments`); it writes ``OUT/standings.json``
(`kws.grading.standings`) and the gradebook's per-assignment columns.

Decisions (docs/how-to/deadlines.md):

- a student is **missing** in an assignment when their hand-in holds none of its tests: left
  out of its statistics, 0 or blank in the exports (``--missing``);
- the **maximum** of a hand-in counts the assignments it was graded in, and the missing ones
  whose due date (course file) has passed; without a course file, only those it was graded in;
- **final** = max(0, raw - late penalty + the adjustments' points); only an adjustment can
  take it above the maximum.
"""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timezone
from pathlib import Path

from kws.assignments import ASSIGNMENTS
from kws.grading.adjustments import read_adjustments
from kws.grading.course import COURSE_FILE, Course, late_of, read_course
from kws.grading.handin_times import handin_time, read_times_csv
from kws.grading.standings import Standing, Standings, write_standings

TIMES_FILE = "times.csv"  # the copy `kws grade --times` keeps beside the gradebook
COLUMN_PARTS = ("status", "raw", "late penalty", "adjustments", "final")


def _assignment(test: dict) -> str | None:
    return (test.get("extra_data") or {}).get("assignment")


def assignment_maxima(grades) -> dict[str, float]:
    """{assignment: its maximum}: the sum of its tests' maxima over the class, by name."""
    maxima: dict[str, float] = {}
    for student in grades.students:
        for test in student.tests:
            name = _assignment(test)
            if name:
                maxima.setdefault(name, 0.0)
    for name in maxima:
        tests = {t["name"] for s in grades.students for t in s.tests if _assignment(t) == name}
        maxima[name] = sum(grades.maximum[t] for t in tests)
    return dict(sorted(maxima.items()))


def _title(name: str) -> str:
    spec = ASSIGNMENTS.get(name)
    return spec.title if spec else name


def _one(student, name: str, maximum: float, course, times, adjusted, spent, sources) -> Standing:
    """One student's standing in one assignment; `spent`: grace days used so far, `sources`:
    {source or None: ["student assignment", ...]} (both updated)."""
    tests = [t for t in student.tests if _assignment(t) == name]
    adjustments = tuple(adjusted.get((student.name, name), []))
    bonus = sum(a.points for a in adjustments)
    if student.document is None or not tests:
        status = "ungraded" if student.document is None else "missing"
        return Standing(status, 0.0, maximum, max(0.0, bonus), None, adjustments)
    raw = round(sum(t["score"] for t in tests), 4)
    late = None
    due = course.due_for(student.name, name) if course else None
    if due is not None:
        handin = student.handin
        spec = ASSIGNMENTS.get(name)
        notebook = handin / spec.notebook if handin and spec else None
        when = handin_time(student.name, name, notebook, handin, times)
        sources.setdefault(when.source if when else None, []).append(f"{student.name} {name}")
        if when is not None:
            left = course.grace_days - spent[student.name]
            late = late_of(course, due, when.submitted, maximum, left, when.source)
            spent[student.name] += late.grace_days_used if late else 0
    penalty = late.penalty if late else 0.0
    final = round(max(0.0, raw - penalty + bonus), 4)
    return Standing("graded", raw, maximum, final, late, adjustments)


def class_standings(grades, course: Course | None = None, times: dict | None = None) -> Standings:
    """Every student's standing in every assignment graded in `grades` (`read_grades`).

    Args:
        grades: the graded class (`kws.grading.report.read_grades`).
        course: the course file (due dates, late rule), or None: everything on time.
        times: the times CSV's entries (`kws.grading.handin_times.read_times_csv`), or None.

    Returns:
        The standings ``standings.json`` holds.
    """
    maxima = assignment_maxima(grades)
    adjusted = read_adjustments(grades.folder)
    far = datetime.max.replace(tzinfo=timezone.utc)
    order = sorted(maxima, key=lambda n: ((course and course.due.get(n)) or far, n))
    spent = {s.name: 0 for s in grades.students}
    sources: dict[str | None, list[str]] = {}
    standings = Standings()
    for name in sorted(maxima):
        due = course.due.get(name) if course else None
        standings.assignments[name] = {"title": _title(name), "maximum": maxima[name],
                                       "due": due.isoformat() if due else None}  # fmt: skip
    for student in grades.students:
        entries = {n: _one(student, n, maxima[n], course, times or {}, adjusted, spent, sources)
                   for n in order}  # fmt: skip
        standings.students[student.name] = dict(sorted(entries.items()))
    if sources.get("file times"):
        standings.notes.append("hand-in times from file times (the notebooks' modification "
                               "times, the last resort): " + ", ".join(sources["file times"]))  # fmt: skip
    if sources.get(None):
        standings.notes.append("no hand-in time found (no times CSV row, no "
                               "submission_metadata.json, no notebook), counted on time: "
                               + ", ".join(sources[None]))  # fmt: skip
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


def write_season_columns(grades, standings: Standings) -> Path:
    """Rewrite the gradebook: per assignment its status, raw, late penalty, adjustments and
    final; ``total`` the sum of the finals, ``raw_total`` of the raw scores, ``max_score``
    `counted_maximum`. A missing assignment's test cells are left blank."""
    path = grades.folder / "gradebook.csv"
    if not standings.assignments:  # no test names its assignment (another grader): as written
        return path
    parts = [f"{n} {p}" for n in standings.assignments for p in COLUMN_PARTS]
    tests = {t["name"]: _assignment(t) for s in grades.students for t in s.tests}
    kept = [c for c in grades.header if c not in parts and c != "raw_total"]
    at = kept.index("total") if "total" in kept else len(kept)
    header = kept[:at] + parts + ["raw_total"] + kept[at:]
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for student in grades.students:
            entries = standings.students.get(student.name, {})
            row = dict(student.row)
            for name, s in entries.items():
                penalty = s.late.penalty if s.late else 0.0
                values = (s.status, s.raw, penalty, sum(a.points for a in s.adjustments), s.final)
                if s.status == "missing":  # nothing to score: blank, not 0
                    values = (s.status, "", "", values[3] or "", s.final or "")
                row |= {f"{name} {p}": v for p, v in zip(COLUMN_PARTS, values, strict=True)}
                if s.status == "missing":
                    row |= {test: "" for test, owner in tests.items() if owner == name}
            other = [t for t in student.tests if not _assignment(t)]  # in no assignment
            extra, extra_max = sum(t["score"] for t in other), sum(t["max_score"] for t in other)
            row["total"] = round(float(sum(s.final for s in entries.values()) + extra), 4)
            row["raw_total"] = round(float(sum(s.raw for s in entries.values()) + extra), 4)
            row["max_score"] = counted_maximum(standings, student.name) + extra_max
            writer.writerow(row)
    partial.replace(path)
    return path


def keep_season_files(
    grades_dir: Path, course: Path | None, times: Path | None
) -> tuple[Path | None, Path | None]:
    """Keep the course file and the times CSV beside the gradebook (as ``course.toml`` and
    ``times.csv``); the copies, or the earlier ones when none is given, or None."""
    Path(grades_dir).mkdir(parents=True, exist_ok=True)
    return _kept(grades_dir, course, COURSE_FILE), _kept(grades_dir, times, TIMES_FILE)


def _kept(grades_dir: Path, given: Path | None, name: str) -> Path | None:
    """Copy `given` beside the gradebook as `name` (the instructor's alone); the copy's path,
    or the earlier copy when nothing is given."""
    target = Path(grades_dir) / name
    if given is not None:
        if Path(given).resolve() != target.resolve():
            shutil.copyfile(given, target)
        target.chmod(0o600)
    return target if target.is_file() else None


def apply_season(
    grades_dir: Path, *, course: Path | None = None, times: Path | None = None
) -> Standings:
    """Compute the standings of the class graded in `grades_dir`, write ``standings.json`` and
    the gradebook's per-assignment columns.

    Args:
        grades_dir: the folder `kws grade --out` wrote.
        course: a course file to use and keep (as ``course.toml``); default: the one kept.
        times: a times CSV to use and keep (as ``times.csv``); default: the one kept.

    Returns:
        The standings written.
    """
    from kws.grading.report import read_grades  # the report reads the standings back

    grades_dir = Path(grades_dir)
    course_file, times_file = keep_season_files(grades_dir, course, times)
    parsed = read_course(course_file, sorted(ASSIGNMENTS)) if course_file else None
    entries = (
        read_times_csv(times_file, parsed.timezone if parsed else timezone.utc)
        if times_file
        else {}
    )
    grades = read_grades(grades_dir, standings=False)
    standings = class_standings(grades, parsed, entries)
    write_standings(grades_dir, standings)
    write_season_columns(grades, standings)
    return standings
