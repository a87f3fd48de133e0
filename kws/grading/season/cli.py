"""The `kws` verbs of the season, `kws season`, `kws adjust`, `kws marks restore` and `kws marks
restart` (`kws.cli` lists them under "the season"), and what the other verbs print of it:
`print_season` (after `kws grade`), `course_rules` (`kws gradescope --course`) and
`warn_or_refuse` (the course file's warnings, or with ``--strict`` their refusal), below the
grading packages that call them.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

from kws.verbs import FILE_TIMES, FUTURE_TIMES, GRADES, STRICT, WAIT, Arg, Verb


def _late_summary(standings) -> list[str]:
    """One line per late hand-in or adjusted grade, for the instructor's terminal."""
    lines = []
    for student, entries in standings.students.items():
        for name, s in entries.items():
            if s.late is not None:
                lines.append(f"  {student} {name}: {s.late.hours_late:g} h late "
                             f"({s.late.source}), {s.late.grace_days_used} grace day(s), "
                             f"-{s.late.penalty:g} -> {s.final:g}/{s.maximum:g}")  # fmt: skip
            for a in s.adjustments:
                lines.append(f"  {student} {name}: adjusted {a.points:+g} ({a.reason})")
    return lines


def print_season(grades_dir: Path, standings) -> None:
    """Print what `apply_season` decided for the class graded into `grades_dir` (`standings`,
    what it returned): where ``standings.json`` is, a line per late hand-in or adjusted grade,
    and its notes."""
    lines = _late_summary(standings)
    print(f"standings: {Path(grades_dir) / 'standings.json'}; "
          f"{len(lines)} late hand-in(s) or adjustment(s)")  # fmt: skip
    if lines:
        print("\n".join(lines))
    for note in standings.notes:
        print(f"note: {note}")


def grades_folder_faults(folder: str) -> Callable[[argparse.Namespace, BaseException], str | None]:
    """The `kws.verbs.Verb.faults` of a verb that writes the grades folder `args.<folder>`: a
    fault of the machine it meets (a full disk, an I/O error:
    `kws.grading.sandbox.faults.machine_fault`) said with the error, what the folder keeps and
    what to do. Where the command changed a record before it stopped, the folder's lock says so,
    and the commands that publish grades refuse it until the command is run again
    (`kws.grading.records.lock`)."""

    def said(args: argparse.Namespace, error: BaseException) -> str | None:
        from kws.grading.records.lock import STOPPED, last_run
        from kws.grading.sandbox.faults import machine_fault

        if not isinstance(error, OSError | MemoryError) or machine_fault(error) is None:
            return None
        grades = getattr(args, folder)
        record = last_run(grades)
        changed = record is not None and record.pid == os.getpid() and record.state == STOPPED
        kept = (f"{grades} keeps every file whole, and the commands that publish grades refuse "
                "it until this command finishes" if changed else
                f"the grades of {grades} are as they were")  # fmt: skip
        return (f"{error}: a fault of this machine, not of the grades; {kept}: free space (or "
                "fix the disk), then run the same command again")  # fmt: skip

    return said


def warn_or_refuse(warnings, strict: bool) -> None:
    """What every command that reads a course file does with its warnings
    (`kws.grading.season.warn.CourseWarning`), before it writes anything: print each on a line
    of its own (``warning: course.toml, line 1: ...; did you mean ...``); with `strict` (its
    ``--strict``, `kws.verbs.STRICT`), then refuse them: a CourseError listing every one
    (its file, line and fix)."""
    from kws.grading.season.course import CourseError

    for warning in warnings:
        print(f"warning: {warning}", flush=True)
    if warnings:
        print("(a warning changes no grade; --strict refuses the course file instead)", flush=True)
    if strict and warnings:
        listed = "\n".join(f"  {warning}" for warning in warnings)
        raise CourseError(f"{len(warnings)} warning(s) about the course file, refused with "
                          f"--strict (nothing was written):\n{listed}")  # fmt: skip


def course_rules(path: Path) -> str:
    """What a course file makes the Gradescope autograder do, in a few lines."""
    from kws.grading.season.course import read_course
    from kws.spec import ASSIGNMENTS

    course = read_course(path, sorted(ASSIGNMENTS))
    lines = [f"course file {path} (in the zip), applied to every submission:",
             f"  late: {course.rule.sentence()}; grace period {course.grace_minutes:g} min; "
             "grace days are settled with `kws season` on the downloaded submissions"]  # fmt: skip
    if course.attempts_per_day is not None:
        lines.append(f"  attempts: {course.attempts_per_day} graded in any 24 hours; over "
                     "that, the last counted attempt stands")  # fmt: skip
    if course.public_share is not None:
        lines.append(f"  Kaggle rule: {course.public_share:.0%} of the hidden test items shown "
                     "during the homework (the public part); the grade uses the rest (the "
                     "held-out part), counted from each notebook's due date on: after it, "
                     "Regrade All Submissions on Gradescope")  # fmt: skip
    return "\n".join(lines)


def _season(args: argparse.Namespace) -> int:
    from kws.grading.records.grades import read_grades
    from kws.grading.records.lock import SEASON, check_may_write
    from kws.grading.season.apply import apply_season, checked_season, class_of
    from kws.grading.season.inputs import read_season

    check_may_write(args.grades, SEASON, wait=args.wait)  # half a `kws grade`: its own to finish
    season = read_season(args.grades, args.course, args.times, args.file_times,
                         accept_future_times=args.accept_future_times)  # fmt: skip
    grades = read_grades(args.grades)  # the names too, before anything is written
    checked_season(season, grades.folder, *class_of(grades))
    warn_or_refuse(season.warnings, args.strict)
    standings = apply_season(args.grades, season=season, wait=args.wait)
    print_season(args.grades, standings)
    return 0


def points_given(text: str) -> float:
    """The points of `kws adjust` as typed (``+2``, ``-1.5``); ValueError with the fix for a
    decimal comma (``+2,5``: write ``+2.5``) or anything that is not a number."""
    points = _number(text)
    if points is not None:
        return points
    if text.count(",") == 1 and _number(text.replace(",", ".")) is not None:
        raise ValueError(f"points {text!r}: write {text.replace(',', '.')} (a decimal point, "
                         "not a comma)")  # fmt: skip
    raise ValueError(f"points {text!r} is not a number of points; write e.g. +2 or -1.5")


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _adjust(args: argparse.Namespace) -> int:
    from kws.grading.records.adjustments import new_adjustment, read_adjustments, recorded_as
    from kws.grading.records.seal import unchanged
    from kws.grading.records.standings import read_standings
    from kws.grading.season.apply import apply_season

    args.points = points_given(args.points)  # before anything is read or written
    known = read_standings(args.grades)
    if not known.students:
        raise FileNotFoundError(f"{args.grades}: no standings.json; grade the class with "
                                "`kws grade` first")  # fmt: skip
    if args.student not in known.students:
        raise ValueError(f"{args.student!r} is not in {args.grades}'s gradebook; its "
                         f"students: {', '.join(sorted(known.students))}")  # fmt: skip
    if args.assignment not in known.assignments:
        raise ValueError(f"{args.assignment!r} was not graded in {args.grades}; graded: "
                         f"{', '.join(known.assignments)}")  # fmt: skip
    change = new_adjustment(args.points, args.reason, args.who)
    earlier = recorded_as(read_adjustments(args.grades), args.student, args.assignment, change)
    if earlier is not None:  # the command run again: one adjustment, recorded once
        if not unchanged(args.grades):  # it stopped after recording it: finish its grades
            known = apply_season(args.grades, command="kws adjust", wait=args.wait)
        standing = known.of(args.student, args.assignment)
        print(f"{args.student} {args.assignment}: {change.points:+g} ({change.reason}) was "
              f"recorded already, by {earlier.who} at {earlier.when}; nothing changed (final "
              f"{standing.final:g} of {standing.maximum:g}). Another adjustment needs its own "
              "reason")  # fmt: skip
        return 0
    standings = apply_season(args.grades, adjustment=(args.student, args.assignment, change),
                             command="kws adjust", wait=args.wait)  # fmt: skip
    standing = standings.of(args.student, args.assignment)
    print(f"{args.student} {args.assignment}: raw {standing.raw:g}, final {standing.final:g} "
          f"of {standing.maximum:g} (recorded in {Path(args.grades) / 'adjustments.csv'})")  # fmt: skip
    return 0


def _marks_restore(args: argparse.Namespace) -> int:
    from kws.grading.records.grades import read_grades
    from kws.grading.records.kept_marks import restore_marks
    from kws.grading.records.lock import SEASON, check_may_write, holding
    from kws.grading.records.marks.rubric import HISTORY_FILE, MARKS_FILE
    from kws.grading.season.apply import apply_season, counted_questions

    check_may_write(args.grades, SEASON, wait=args.wait)
    with holding(args.grades, "kws marks restore", scope=SEASON, wait=args.wait):
        grades = read_grades(args.grades)
        asked = counted_questions(grades)  # the kept plan's, of every notebook graded
        rebuilt = restore_marks(args.grades, asked)
        standings = apply_season(args.grades, command="kws marks restore")
    grades, history = Path(args.grades), Path(args.grades) / HISTORY_FILE
    files = [str(grades / name) for name in rebuilt if name != HISTORY_FILE]
    if files:
        print(f"rebuilt {', '.join(files)} from {history}")
    if HISTORY_FILE in rebuilt:
        print(f"recorded the marks of {grades / MARKS_FILE}, as {grades / 'records.json'} sealed "
              f"them, in {history} again: its last mark of each answer is theirs")  # fmt: skip
    if not rebuilt:
        print("the marks' files are whole and agree with their history: nothing to rebuild")
    print_season(args.grades, standings)
    return 0


def _marks_restart(args: argparse.Namespace) -> int:
    from kws.grading.records.grades import read_grades
    from kws.grading.records.lock import SEASON, check_may_write, holding
    from kws.grading.records.restart_marks import check_lost, marks_lost, restart_marks
    from kws.grading.season.apply import apply_season, counted_questions

    check_may_write(args.grades, SEASON, wait=args.wait)
    with holding(args.grades, "kws marks restart", scope=SEASON, wait=args.wait):
        grades = read_grades(args.grades)
        asked = counted_questions(grades)  # the kept plan's, of every notebook graded
        check_lost(args.grades, asked)
        lost = "\n".join(f"  - {line}" for line in marks_lost(args.grades, asked))
        if not args.lose_marks:
            raise ValueError(f"{args.grades}: starting the marks afresh loses:\n{lost}\nnothing "
                             "was changed; if no backup of the marks is left, run the same "
                             "command with --lose-marks")  # fmt: skip
        kept = restart_marks(args.grades, asked)
        standings = apply_season(args.grades, command="kws marks restart")
    print(f"started the marks of {args.grades} afresh; lost:\n{lost}")
    if kept is not None:
        print(f"what was left of {Path(args.grades) / 'marks'} is in {kept}")
    print(f"every written answer is unmarked: mark them with `kws mark {args.grades}`, then "
          f"`kws season {args.grades}`")  # fmt: skip
    print_season(args.grades, standings)
    return 0


SEASON = Verb(
    "season",
    "apply the course file (deadlines, late rule) and adjustments again",
    _season,
    faults=grades_folder_faults("grades"),
    arguments=(
        GRADES,
        Arg("--course", type=Path,
            help="course file (TOML): due dates, late rule, extensions (kept)"),
        Arg("--times", type=Path,
            help="hand-in times: a CSV of student, assignment, submitted, or Moodle's grading "
            "worksheet (kept)"),
        FILE_TIMES,
        FUTURE_TIMES,
        STRICT,
        WAIT,
    ),
)  # fmt: skip

ADJUST = Verb(
    "adjust",
    "a person's change to one student's grade",
    _adjust,
    faults=grades_folder_faults("grades"),
    arguments=(
        GRADES,
        Arg("student", help="the student's name in the gradebook"),
        Arg("assignment", help="the assignment, e.g. speaker_id"),
        Arg("points", help="points to add, e.g. +2 or -1.5 (negative: take off)"),
        Arg("--reason", required=True, help="why, in a sentence the student reads"),
        Arg("--who", help="who decided (default: your login name)"),
        WAIT,
    ),
)  # fmt: skip

MARKS = Verb(
    "marks",
    "the written answers' marks: rebuild them from their history, or start them afresh",
    verbs=(
        Verb(
            "restore",
            "rebuild marks/rubrics.json and marks/marks.json from marks/history.jsonl where they "
            "are gone or cut short, then count them (as `kws season`)",
            _marks_restore,
            faults=grades_folder_faults("grades"),
            arguments=(GRADES, WAIT),
        ),
        Verb(
            "restart",
            "start the marks afresh, every written answer unmarked, when they are lost with "
            "their history and no backup is left (it says what is lost first)",
            _marks_restart,
            faults=grades_folder_faults("grades"),
            arguments=(
                GRADES,
                Arg("--lose-marks", action="store_true",
                    help="confirm: the marks that are lost stay lost (without it, the command "
                    "says what would be lost and changes nothing)"),
                WAIT,
            ),
        ),
    ),
)  # fmt: skip
