"""The course file: due dates, the late rule, grace days and extensions of a course's season (TOML).

    # course.toml
    timezone = "Europe/Berlin"   # dates without an offset are in this zone (IANA name)
    grace_minutes = 15           # this late still counts as on time (upload delays)
    grace_days = 2               # whole days a student may spend late over the season, unpenalised

    [late]
    per_day = 0.10               # share of the assignment's maximum taken off per day late
    cap = 0.50                   # never more than this share
    count = "started_days"       # "started_days" (1 h late = a day) or "hours" (pro rata)

    [due]
    keyword_spotting = "2026-10-02 23:59"
    speaker_id = "2026-10-16 23:59"

    [extensions.alice]           # the hand-in folder's name, then assignment = new due date
    speaker_id = "2026-10-18 23:59"

    [gradescope]                 # the autograder's rules (`kws gradescope --course FILE`)
    attempts_per_day = 3         # graded attempts in any 24 hours; the last counted one stands
    public_share = 0.3           # Kaggle's rule: this share of the hidden test set is shown
    split_seed = "a secret"      #   during the homework; the grade uses the rest

`read_course` checks the file and says what to fix; `late_of` applies the rule to one hand-in.
Grace days are spent automatically, in the order of the due dates, on the first late hand-ins
(as Autolab and MarkUs do); a late hand-in's penalty counts only the days no grace day covered.
The penalty is a share of the assignment's maximum (as Canvas's late policy takes it), so the
final score is ``max(0, raw - penalty + adjustments)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kws.grading.records.standings import Late
from kws.spec import ASSIGNMENTS, tomllib

COUNTS = ("started_days", "hours")
COURSE_FILE = "course.toml"  # the copy `kws grade --course` keeps beside the gradebook


class CourseError(ValueError):
    """The course file cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class LateRule:
    """How much a late hand-in loses: `per_day` of the maximum a day, at most `cap`."""

    per_day: float = 0.0
    cap: float = 1.0
    count: str = "started_days"

    def sentence(self) -> str:
        """The rule in one sentence, for the gradebook and the students' pages."""
        unit = "a started day" if self.count == "started_days" else "a day, pro rata by the hour"
        return f"{self.per_day:.0%} of the maximum {unit} late, capped at {self.cap:.0%}"


@dataclass(frozen=True)
class Course:
    """A season's deadlines: due dates per assignment, the late rule and the student budgets."""

    path: Path
    timezone: ZoneInfo
    due: dict[str, datetime]
    rule: LateRule = LateRule()
    grace_minutes: float = 0.0
    grace_days: int = 0
    extensions: dict[str, dict[str, datetime]] = field(default_factory=dict)
    attempts_per_day: int | None = None  # Gradescope: graded attempts in any 24 hours
    public_share: float | None = None  # the Kaggle rule (`kws.grading.testsets.split`)
    split_seed: str = ""

    def grader_options(self) -> list[str]:
        """The grader's options for the Kaggle rule, if the course file sets it."""
        if self.public_share is None:
            return []
        return ["--public-share", str(self.public_share), "--split-seed", self.split_seed]

    def due_for(self, student: str, assignment: str) -> datetime | None:
        """`student`'s due date for `assignment` (an extension's, if granted), or None."""
        return self.extensions.get(student, {}).get(assignment) or self.due.get(assignment)


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` itself when it has an offset, else read as a time in `zone` (the course's)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _date(text: object, where: str, zone: ZoneInfo, path: Path) -> datetime:
    try:
        moment = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    except ValueError:
        raise CourseError(
            f'{path}: {where} = {text!r} is not a date; write it as "2026-10-02 23:59" '
            '(in the course\'s timezone) or with an offset, "2026-10-02T23:59+02:00"'
        ) from None
    return in_zone(moment, zone)


def _number(table: dict, key: str, default: float, path: Path, low: float, high: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or not low <= value <= high:
        raise CourseError(f"{path}: {key} = {value!r}; give a number from {low:g} to {high:g}")
    return float(value)


def read_course(path: Path, assignments: list[str]) -> Course:
    """The course file at `path`, checked against the assignment names the kit knows.

    Args:
        path: the course file (TOML, the module docstring's keys).
        assignments: the assignment names its ``[due]`` and extensions may name.

    Returns:
        The course, every date made time-zone aware.

    Raises:
        CourseError: a missing file, an unknown key or assignment, a bad date or number.
    """
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{path}: no such course file (see docs/how-to/deadlines.md)") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path}: not valid TOML ({error})") from None
    known = {"timezone", "grace_minutes", "grace_days", "late", "due", "extensions", "gradescope"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise CourseError(f"{path}: unknown key(s) {', '.join(unknown)}; the keys are "
                          f"{', '.join(sorted(known))}")  # fmt: skip
    try:
        zone = ZoneInfo(table.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"{path}: timezone = {table.get('timezone')!r} is not an IANA time "
                          "zone name such as \"Europe/Berlin\" or \"UTC\"") from None  # fmt: skip

    def dates(entries: dict, where: str) -> dict[str, datetime]:
        for name in entries:
            if name not in assignments:
                raise CourseError(f"{path}: [{where}] names {name!r}, not an assignment; "
                                  f"the assignments are {', '.join(assignments)}")  # fmt: skip
        return {n: _date(d, f"[{where}] {n}", zone, path) for n, d in entries.items()}

    late = table.get("late", {})
    count = late.get("count", "started_days")
    if count not in COUNTS:
        raise CourseError(f"{path}: [late] count = {count!r}; choose one of {', '.join(COUNTS)}")
    rule = LateRule(
        _number(late, "per_day", 0.0, path, 0.0, 1.0), _number(late, "cap", 1.0, path, 0.0, 1.0),
        count,
    )  # fmt: skip
    extensions = {
        student: dates(granted, f"extensions.{student}")
        for student, granted in table.get("extensions", {}).items()
    }
    gradescope = table.get("gradescope", {})
    attempts = gradescope.get("attempts_per_day")
    if attempts is not None:
        attempts = int(_number(gradescope, "attempts_per_day", 0, path, 1, 1000))
    share = gradescope.get("public_share")
    if share is not None:
        share = _number(gradescope, "public_share", 0.0, path, 0.01, 0.99)
        if not str(gradescope.get("split_seed", "")).strip():
            raise CourseError(f"{path}: [gradescope] public_share needs split_seed = \"...\", "
                              "a secret text of the course that fixes the split")  # fmt: skip
    return Course(
        path,
        zone,
        dates(table.get("due", {}), "due"),
        rule,
        _number(table, "grace_minutes", 0.0, path, 0.0, 7 * 24 * 60),
        int(_number(table, "grace_days", 0, path, 0, 365)),
        extensions,
        attempts,
        share,
        str(gradescope.get("split_seed", "")),
    )


def late_of(
    course: Course,
    due: datetime,
    submitted: datetime,
    maximum: float,
    grace_days_left: int,
    source: str,
) -> Late | None:
    """The late record of a hand-in submitted at `submitted` against `due`, or None if on time.

    Args:
        course: the course file (its late rule and grace period).
        due: the due date, an extension already applied.
        submitted: when the hand-in came in (time-zone aware).
        maximum: the assignment's maximum points (the penalty is a share of it).
        grace_days_left: the student's grace days not spent yet this season.
        source: where `submitted` came from, e.g. "gradescope metadata".

    Returns:
        None for a hand-in within the grace period, else its `Late` (penalty 0 when grace days
        covered every day late).
    """
    hours = (submitted - due).total_seconds() / 3600
    if hours * 60 <= course.grace_minutes:
        return None
    days = math.ceil(hours / 24)
    used = min(days, grace_days_left)
    if course.rule.count == "started_days":
        fraction = course.rule.per_day * (days - used)
    else:
        fraction = course.rule.per_day * max(0.0, hours - 24 * used) / 24
    penalty = round(min(course.rule.cap, fraction) * maximum, 4)
    return Late(
        submitted=submitted.isoformat(),
        due=due.isoformat(),
        hours_late=round(hours, 2),
        grace_days_used=used,
        penalty=penalty,
        rule=course.rule.sentence(),
        source=source,
    )


def kaggle_options(course: Path | None) -> list[str]:
    """The grader's options for the course file's Kaggle rule (none without one)."""
    if course is None:
        return []
    return read_course(course, sorted(ASSIGNMENTS)).grader_options()
