"""Apply a season's rules to a graded folder: ``standings.json`` and the gradebook's columns.

    kws grade submissions/ --data data --out grades/ --course course.toml [--times times.csv]
    kws season grades/ [--course course.toml] [--times times.csv]   # deadlines changed: re-apply
    kws adjust grades/ alice speaker_id +2 --reason "..."            # a person's change

`apply_season` reads what `kws grade` wrote (results, gradebook, run.json), the course file
(`kws.grading.season.course`) and hand-in times (`kws.grading.season.times`) it keeps beside them, and
the adjustments (`kws.grading.records.adjustments`); it computes the standings (`kws.grading.season.compute`)
and writes ``OUT/standings.json`` (`kws.grading.records.standings`) and the gradebook's per-assignment
columns.
"""

from __future__ import annotations

import csv
import shutil
from datetime import timezone
from pathlib import Path

from kws.grading.records.grades import read_grades, test_assignment
from kws.grading.records.standings import Standings, write_standings
from kws.grading.season.compute import class_standings, counted_maximum
from kws.grading.season.course import COURSE_FILE, read_course
from kws.grading.season.times import read_times_csv
from kws.spec import ASSIGNMENTS

TIMES_FILE = "times.csv"  # the copy `kws grade --times` keeps beside the gradebook
COLUMN_PARTS = ("status", "raw", "late penalty", "adjustments", "final")


def write_season_columns(grades, standings: Standings) -> Path:
    """Rewrite the gradebook: per assignment its status, raw, late penalty, adjustments and
    final; ``total`` the sum of the finals, ``raw_total`` of the raw scores, ``max_score``
    `counted_maximum`. A missing assignment's test cells are left blank."""
    path = grades.folder / "gradebook.csv"
    if not standings.assignments:  # no test names its assignment (another grader): as written
        return path
    parts = [f"{n} {p}" for n in standings.assignments for p in COLUMN_PARTS]
    tests = {t["name"]: test_assignment(t) for s in grades.students for t in s.tests}
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
            other = [t for t in student.tests if not test_assignment(t)]  # in no assignment
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
    grades_dir = Path(grades_dir)
    course_file, times_file = keep_season_files(grades_dir, course, times)
    parsed = read_course(course_file, sorted(ASSIGNMENTS)) if course_file else None
    entries = (
        read_times_csv(times_file, parsed.timezone if parsed else timezone.utc)
        if times_file
        else {}
    )
    grades = read_grades(grades_dir)
    standings = class_standings(grades, parsed, entries)
    write_standings(grades_dir, standings)
    write_season_columns(grades, standings)
    return standings
