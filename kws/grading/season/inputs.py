"""A season's inputs, read and checked against the class before anything is graded or written.

    season = read_season(Path("grades"), course=Path("course.toml"), times=Path("times.csv"))
    check_class(season, handins={"ann": Path("submissions/ann")},
                graded={"ann": {"keyword_spotting"}}, roster=set())

`read_season` reads the files given (else the copies kept in the grades folder), so every
message names the file given; `check_class` checks every name and time in them against the
class. Nothing here writes but `keep_season_files`, once the whole command's inputs are good.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

from kws.grading.records.adjustments import ADJUSTMENTS_FILE, read_adjustments
from kws.grading.records.files import write_whole
from kws.grading.records.gradebook import RUN_FILE
from kws.grading.records.seal import SEAL_FILE, readable_seal
from kws.grading.records.standings import STANDINGS_FILE, Adjustment
from kws.grading.season.course import COURSE_FILE, Course, CourseError, read_course
from kws.grading.season.times import Times, check_not_future, handin_time, read_times_csv
from kws.grading.season.warn import CourseWarning, roster_warnings
from kws.spec import ASSIGNMENTS
from kws.spec.toml import closest, where

TIMES_FILE = "times.csv"  # the copy `kws grade --times` keeps beside the gradebook
SEASON_FILE = "season.json"  # the folder's choices: {"file_times": true}
FILE_TIMES_RISK = (
    "the notebooks' modification times, which a copy, an unzip or a sync changes, can move a "
    "grade by tens of points"
)


@dataclass
class SeasonInputs:
    """What a season is computed from: the course file (None: everything on time), the hand-in
    times, whether file times may stand in, and the files' bytes to keep once all is good."""

    course: Course | None
    times: Times
    file_times: bool
    course_file: Path | None = None  # the file read: the one given, or the kept copy
    times_file: Path | None = None
    keep: dict[str, bytes] = field(default_factory=dict)  # {name in the folder: bytes given}
    choice: bool | None = None  # --file-times / --no-file-times, to record (None: as recorded)
    notes: list[str] = field(default_factory=list)
    adjusted: dict[tuple[str, str], list[Adjustment]] = field(default_factory=dict)
    adjustments_file: Path | None = None
    class_warnings: list[CourseWarning] = field(default_factory=list)  # set by `check_class`
    checked: bool = False  # checked against its class in this command (`checked_season`)

    def digest(self) -> dict | None:
        """What a run applies of this season, as its plan holds it: the sha256 of the course
        file and of the times file read (None for one not given nor kept) and whether file
        times stand in; None where neither file is (no season to apply)."""
        if self.course_file is None and self.times_file is None:
            return None
        files = {"course": self.course_file, "times": self.times_file}
        digests = {f"{key}_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()
                   if path is not None else None for key, path in files.items()}  # fmt: skip
        return digests | {"file_times": self.file_times}

    @property
    def warnings(self) -> list[CourseWarning]:
        """The course file's warnings (`kws.grading.season.warn`), then those of its names
        against the class's roster (once `check_class` ran)."""
        return [*(self.course.warnings if self.course else ()), *self.class_warnings]


def recorded_file_times(grades_dir: Path) -> bool:
    """Whether the class in `grades_dir` was graded with ``--file-times`` (its season.json)."""
    path = Path(grades_dir) / SEASON_FILE
    if not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("file_times"))
    except (ValueError, AttributeError):
        raise CourseError(f"{path} cannot be read; delete it and pass --file-times again if "
                          "the class is graded with file times") from None  # fmt: skip


def read_season(
    grades_dir: Path,
    course: Path | None = None,
    times: Path | None = None,
    file_times: bool | None = None,
    accept_future_times: bool = False,
) -> SeasonInputs:
    """The course file and times `course` / `times` as given (else the copies kept in
    `grades_dir`), read and checked on their own; `file_times`: None for the folder's
    recorded choice. A times file given is refused where a time is later than now
    (`check_not_future`), unless `accept_future_times` (``--accept-future-times``); the kept
    one was checked when it was given. CourseError naming the file given, its line and key,
    and the fix."""
    grades_dir = Path(grades_dir)
    course_file = course if course is not None else _kept(grades_dir / COURSE_FILE)
    times_file = times if times is not None else _kept(grades_dir / TIMES_FILE)
    _check_applied(grades_dir, course_file, times_file)
    parsed = read_course(course_file, sorted(ASSIGNMENTS)) if course_file else None
    zone = parsed.timezone if parsed else timezone.utc
    entries = read_times_csv(times_file, zone) if times_file else Times()
    if times is not None and not accept_future_times:
        check_not_future(entries)
    given = {COURSE_FILE: course, TIMES_FILE: times}
    keep = {name: Path(path).read_bytes() for name, path in given.items() if path is not None}
    chosen = recorded_file_times(grades_dir) if file_times is None else file_times
    season = SeasonInputs(parsed, entries, chosen, course_file, times_file, keep, file_times)
    season.notes += entries.notes
    season.adjusted = read_adjustments(grades_dir)
    season.adjustments_file = grades_dir / ADJUSTMENTS_FILE
    return season


def _kept(path: Path) -> Path | None:
    return path if path.is_file() else None


def applied_season(grades_dir: Path) -> dict[str, tuple[str, str | None]]:
    """{``course.toml`` / ``times.csv``: (why the grades say it is part of them, the file
    `kws grade` was given or None)}: the folder's seal lists it, its ``run.json`` names it, or
    its standings carry due dates. Whether a season was applied is a fact of these records,
    never of ``run.lock``."""
    folder, why = Path(grades_dir), {}
    record = readable_seal(folder)
    run = {}
    with contextlib.suppress(OSError, ValueError, AttributeError):
        run = json.loads((folder / RUN_FILE).read_text(encoding="utf-8")).get("season") or {}
    for name, key in ((COURSE_FILE, "course"), (TIMES_FILE, "times")):
        given = run.get(key) if isinstance(run.get(key), str) else None
        if record is not None and name in record["files"]:
            why[name] = (f"{folder / SEAL_FILE} recorded it (`{record['command']}`)", given)
        elif given:
            why[name] = (f"{folder / RUN_FILE} records that `kws grade` was given {given}", given)
    due = False
    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError, TypeError):
        standings = json.loads((folder / STANDINGS_FILE).read_text(encoding="utf-8"))
        due = any(entry.get("due") for entry in standings["assignments"].values())
    if due and COURSE_FILE not in why:
        why[COURSE_FILE] = (f"{folder / STANDINGS_FILE} has due dates", None)
    return why


def _check_applied(grades_dir: Path, course_file: Path | None, times_file: Path | None) -> None:
    """CourseError when the course file or the times the grades were computed with are gone
    and not given again: without them the season would be applied as no season (raw scores,
    every hand-in on time), so the command says which file to give."""
    applied = applied_season(grades_dir)
    gone = [name for name, used in ((COURSE_FILE, course_file), (TIMES_FILE, times_file))
            if used is None and name in applied]  # fmt: skip
    if not gone:
        return
    options = {COURSE_FILE: "--course", TIMES_FILE: "--times"}
    command = " ".join(f"{options[n]} {applied[n][1] or n.upper().replace('.', '_')}" for n in gone)
    reasons = "; ".join(f"{grades_dir / n}: {applied[n][0]}" for n in gone)
    are, it = ("is", "it") if len(gone) == 1 else ("are", "them")
    raise CourseError(
        f"{' and '.join(str(grades_dir / n) for n in gone)} {are} not there, though the grades "
        f"apply {it} ({reasons}): without {it} the late rule would not be applied. Give {it} "
        f"again: `kws season {grades_dir} {command}`"
    )


def check_class(
    season: SeasonInputs,
    handins: dict[str, Path | None],
    graded: dict[str, set[str]],
    roster: set[str] = frozenset(),
    roster_file: Path | None = None,
) -> None:
    """Check the season's names and times against the class; CourseError at the first mistake.

    Args:
        season: what `read_season` read.
        handins: {hand-in folder name: its folder, None where it is gone} of the class.
        graded: {hand-in folder name: the assignments graded (or about to be) in it}.
        roster: names of the roster's students (the hand-in column), who may have an
            extension or a times row without a hand-in yet.
        roster_file: the roster they come from, for the warnings' words (None: the kept one).

    Adds to `season.notes` the hand-ins dated by file times (when asked for), and sets
    `season.class_warnings`: an extension for a hand-in folder the roster lacks.
    """
    names = sorted(handins)
    known = set(names) | set(roster)
    course = season.course
    if course is not None:
        for student in course.extensions:
            if student not in known:
                place = where(course.path, course.text, "extensions", student)
                raise CourseError(f"{place}: [extensions.{student}] " + _stranger(student, names))
        if roster:  # a folder graded, but left out of the exports: said, not refused
            season.class_warnings = roster_warnings(course.path, course.text, course.extensions,
                                                    set(roster), roster_file)  # fmt: skip
    for student, assignment in season.adjusted:
        if student not in handins or assignment not in ASSIGNMENTS:
            what = f"student {student!r}" if student not in handins else f"{assignment!r}"
            raise CourseError(f"{season.adjustments_file}: an adjustment for {what}, which is "
                              f"not in the class graded ({', '.join(names)}); rename it in the "
                              "file to the hand-in folder it belongs to, or take the line "
                              "out")  # fmt: skip
    for (student, _), when in season.times.items():
        if student not in known and when.source == "Moodle worksheet":
            raise CourseError(f"{season.times.path}, line {when.line}: Moodle's download folder "
                              f"{student!r} is no hand-in folder; add a column folder with the "
                              "hand-in folder's name for this participant")  # fmt: skip
        if student not in known:
            raise CourseError(f"{season.times.path}, line {when.line}: student {student!r}: "
                              + _stranger(student, names))  # fmt: skip
    if course is not None:
        _check_releases(season, graded)
        _check_dated(season, handins, graded)


def _stranger(name: str, names: list[str]) -> str:
    """Why `name` (not among the hand-in folders `names`) is refused, and the fix."""
    guess = closest(name, names)
    hint = f"did you mean {guess!r}? " if guess else ""
    return (f"no hand-in folder is called {name!r}; {hint}names are the hand-in folders' "
            "names, exactly (a student with nothing handed in yet must be on the class "
            "roster: kws grade --roster)")  # fmt: skip


def _check_releases(season: SeasonInputs, graded: dict[str, set[str]]) -> None:
    """No hand-in time before the release of a notebook it dates (a day and month swapped)."""
    release = season.course.release
    for (student, assignment), when in season.times.items():
        for name in [assignment] if assignment else sorted(graded.get(student, ())):
            if name in release and when.submitted < release[name]:
                raise CourseError(
                    f"{season.times.path}, line {when.line}: {student} handed in "
                    f"{name} at {when.submitted.isoformat()}, before its release "
                    f"({release[name].isoformat()}, {season.course.path}); check the day, the "
                    "month and the year"
                )


def _check_dated(
    season: SeasonInputs, handins: dict[str, Path | None], graded: dict[str, set[str]]
) -> None:
    """Every graded notebook with a due date has a hand-in time, or file times were asked for."""
    undated: dict[str, list[str]] = {}
    for student, names in sorted(graded.items()):
        for name in sorted(names):  # dated as `handin_time` dates it without file times
            if season.course.due_for(student, name) is None:
                continue
            if handin_time(student, name, None, handins.get(student), season.times) is None:
                undated.setdefault(student, []).append(name)
    if not undated:
        return
    listed = "; ".join(f"{s} ({', '.join(n)})" for s, n in undated.items())
    count = sum(len(n) for n in undated.values())
    gone = [s for s in undated if handins.get(s) is None]
    if season.file_times and gone:
        raise CourseError(f"no hand-in time for {', '.join(gone)}, and file times cannot date "
                          "them: their hand-in folders are gone; give their times in a times "
                          "CSV (--times FILE)")  # fmt: skip
    if season.file_times:
        season.notes.append(f"hand-in times from file times (asked for with --file-times): "
                            f"{listed}")  # fmt: skip
        return
    source = f"{season.times_file} has no row for them" if season.times_file else "no --times"
    raise CourseError(
        f"{count} handed-in notebook(s) with a due date in {season.course.path} have no hand-in "
        f"time ({source}, and no Gradescope submission_metadata.json): {listed}. Give their "
        "times in a times CSV (--times FILE: student, assignment, submitted), or pass "
        f"--file-times to use {FILE_TIMES_RISK}"
    )


def keep_season_files(grades_dir: Path, season: SeasonInputs) -> None:
    """Keep the files given beside the gradebook (``course.toml``, ``times.csv``, each the
    instructor's alone) and a --file-times choice (``season.json``); call it only once every
    input of the command is checked."""
    grades_dir = Path(grades_dir)
    grades_dir.mkdir(parents=True, exist_ok=True)
    for name, data in season.keep.items():
        write_whole(grades_dir / name, data)
    if season.choice is not None:
        write_whole(grades_dir / SEASON_FILE, json.dumps({"file_times": season.choice}) + "\n")
