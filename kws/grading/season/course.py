"""The course file (``course.toml``): due dates, the late rule, grace days and extensions of a
course's season; its keys and their meaning are on docs/how-to/deadlines.md.

`read_course` checks the file and says what to fix (the file as given, its line and key, the
closest valid key: `check_keys`); the names it gives are checked against the class
by `kws.grading.season.inputs`. `late_of` applies the rule to one hand-in: grace days are spent
in the order of the due dates on the first late hand-ins, and the penalty, a share of the
assignment's maximum, counts only the days no grace day covered.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kws.grading.records.files import decode_text
from kws.grading.records.standings import Late
from kws.grading.season.dates import DateError, in_zone, toml_time
from kws.grading.season.warn import CourseWarning, date_warnings, rule_warnings, zone_warning
from kws.grading.testsets.split import Split
from kws.i18n import canonical, check_language
from kws.spec import ASSIGNMENTS
from kws.spec.toml import Toml, read_toml, unknown

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
    release: dict[str, datetime] = field(default_factory=dict)  # when each notebook came out
    text: str = field(default="", repr=False)  # the file as read, for the lines of messages
    warnings: tuple[CourseWarning, ...] = ()  # what it reads but a colleague would question
    language: str | None = None  # what the grader writes for students speaks (`kws.i18n`)
    # The last moment a student may ask for a regrade of each notebook (`kws requests`).
    requests: dict[str, datetime] = field(default_factory=dict)
    # How students ask for one: a form's address or a sentence, shown on their feedback pages.
    regrade_how: str = ""

    @property
    def split(self) -> Split | None:
        """The Kaggle rule's split this course file sets (``[gradescope] public_share`` and
        ``split_seed``), or None: it has no such rule."""
        if self.public_share is None:
            return None
        return Split(self.public_share, self.split_seed)

    def due_for(self, student: str, assignment: str) -> datetime | None:
        """`student`'s due date for `assignment` (an extension's, if granted), or None."""
        return self.extensions.get(student, {}).get(assignment) or self.due.get(assignment)


# Each table of the course file and its keys; None: the keys are assignment names (checked by
# `_Reader.dates`) or, for [extensions], hand-in folder names.
TABLES = {
    "late": ("per_day", "cap", "count"),
    "due": None,
    "release": None,
    "extensions": None,
    "gradescope": ("attempts_per_day", "public_share", "split_seed"),
    "requests": None,
}
TOP = (
    "timezone",
    "language",
    "regrade_how",
    "grace_minutes",
    "grace_days",
    *TABLES,
)  # the file's keys, tables last


def check_keys(toml: Toml) -> None:
    """Raise the file's error at the first key of the course file `toml` that is not one of
    the file's keys, or a table given as a value; the message names the file, the line, the
    key, the closest valid key and the fix.

    Args:
        toml: the course file, read (`kws.spec.toml.read_toml`).
    """
    for key, value in toml.table.items():
        if key not in TOP:
            raise toml.fail((key,), unknown(key, TOP, "a key of the course file"))
        if key in TABLES and not isinstance(value, dict):
            raise toml.fail((key,), f"{key} = {value!r}; [{key}] is a table: "
                            f"write it as a line [{key}] with its keys below")  # fmt: skip
        if key not in TABLES and isinstance(value, dict):
            raise toml.fail((key,), f"[{key}] is a table, but {key} is a value "
                            f"(e.g. {key} = ...) written above the first [table]")  # fmt: skip
        valid = TABLES.get(key)
        for inner in value if valid is not None else ():
            if inner not in valid:
                raise toml.fail(
                    (key, inner), f"[{key}] {unknown(inner, valid, f'a key of [{key}]')}"
                )
    for student, granted in toml.table.get("extensions", {}).items():
        if not isinstance(granted, dict):
            raise toml.fail(("extensions", student), f"extensions.{student} = {granted!r}; write "
                            f"the student's table as [extensions.{student}] with a line "
                            "assignment = due date below it")  # fmt: skip


def course_text(path: Path) -> str:
    """The course file's text as Notepad or Excel may save it: UTF-8 with or without a
    byte-order mark, UTF-16 with one, CRLF or LF line ends; CourseError for anything else."""
    if not Path(path).is_file():
        raise CourseError(f"{path}: no such course file (see docs/how-to/deadlines.md)")
    return decode_text(path, CourseError, "save it as UTF-8 (Notepad: Save As > Encoding: UTF-8)")


class _Reader:
    """One course file's values, each checked with the file, line and key in its message."""

    def __init__(self, toml: Toml, assignments: list[str]):
        self.fail, self.assignments = toml.fail, assignments
        self.zone = ZoneInfo("UTC")  # the file's own, once read
        self.floating: dict[tuple[str, ...], datetime] = {}  # dates written without an offset

    def number(self, table: dict, key: tuple[str, ...], default: float, low: float, high: float,
               whole: bool = False) -> float:  # fmt: skip
        value = table.get(key[-1], default)
        name = f"[{key[0]}] {key[-1]}" if len(key) > 1 else key[-1]
        kind = "a whole number" if whole else "a number"
        wrong = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong or not low <= value <= high or (whole and value != int(value)):
            raise self.fail(key, f"{name} = {value!r}; give {kind} from {low:g} to {high:g}")
        return float(value)

    def dates(self, entries: dict, key: tuple[str, ...]) -> dict[str, datetime]:
        """{assignment: its date, time-zone aware} of the table `key` (``[due]``, ...)."""
        label, found = ".".join(key), {}
        for name, value in entries.items():
            if name not in self.assignments:
                notebook = _notebook_of(name)
                said = (f"{name!r} is {notebook}'s notebook; the course file names assignments: "
                        f"write {notebook} = ..." if notebook else
                        unknown(name, self.assignments, "an assignment"))  # fmt: skip
                raise self.fail(key + (name,), f"[{label}] {said}")
            try:
                written = toml_time(value)
            except DateError as error:
                shown = repr(value) if isinstance(value, str) else str(value)
                raise self.fail(key + (name,), f"[{label}] {name} = {shown} is not a date "
                                f"the kit reads: {error}") from None  # fmt: skip
            if written.tzinfo is None:
                self.floating[key + (name,)] = written
            found[name] = in_zone(written, self.zone)
        return found


def _notebook_of(name: str) -> str | None:
    """The assignment whose notebook `name` is (``02_speaker_id.ipynb``, or its stem as TOML
    reads ``02_speaker_id.ipynb = ...``), or None."""
    for spec in ASSIGNMENTS.values():
        if name in (spec.notebook, Path(spec.notebook).stem):
            return spec.name
    return None


_OFFSET_ZONE = re.compile(r"^(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?00)?$", re.IGNORECASE)


def _zone_fix(name: str) -> str:
    """What to write in place of a time zone name the database lacks."""
    offset = _OFFSET_ZONE.match(str(name).strip())
    if offset:  # UTC+1: the place's clock, or the fixed offset under its database name
        sign, hours = offset.groups()
        fixed = f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        return (f'write the place\'s zone, e.g. "Europe/Berlin" (Area/City: its clock changes '
                f'with the seasons), or for UTC{sign}{int(hours)} all year "{fixed}" (the '
                "database writes the sign reversed)")  # fmt: skip
    return 'give an IANA time zone name such as "Europe/Berlin" or "UTC"'


def course_language(path: Path | None) -> str | None:
    """The ``language`` the course file at `path` names (None: no file given, or a file naming
    none): what `kws release` and `kws assign` write the student notebooks in where an
    assignment's spec names none. CourseError as `read_course` raises it, before anything is
    written."""
    if path is None:
        return None
    from kws.spec import assignments

    return read_course(path, list(assignments())).language


def read_course(path: Path, assignments: list[str]) -> Course:
    """The course file at `path`, checked against the assignment names the kit knows.

    Args:
        path: the course file (TOML, the module docstring's keys), as the instructor gave it:
            every message names it.
        assignments: the assignment names its ``[due]``, ``[release]`` and extensions may name.

    Returns:
        The course, every date made time-zone aware.

    Raises:
        CourseError: a missing or unreadable file, an unknown key (at any level) or assignment,
            a bad date or number, a due date not after its release, an extension or a
            regrade requests' deadline not after the due date; the message gives the file, the line, the key and the fix.
    """
    path = Path(path)
    text = course_text(path)
    toml = read_toml(path, text, CourseError)
    check_keys(toml)
    table, read = toml.table, _Reader(toml, assignments)
    zone_name = table.get("timezone", "UTC")
    try:
        read.zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise read.fail(("timezone",), f"timezone = {zone_name!r} is not an IANA time zone "
                        f"name; {_zone_fix(zone_name)}") from None  # fmt: skip
    language = table.get("language")
    if language is not None:
        problem = check_language(language)
        if problem:
            raise read.fail(("language",), problem)
        language = canonical(language)
    how = table.get("regrade_how", "")
    if not isinstance(how, str) or len(how) > 500:
        raise read.fail(("regrade_how",), f"regrade_how = {how!r}: give how students ask for a "
                        'regrade in quotes, a form\'s address or a sentence, regrade_how = "..."')  # fmt: skip
    late = table.get("late", {})
    count = late.get("count", "started_days")
    if count not in COUNTS:
        raise read.fail(("late", "count"), "[late] count = "
                        + unknown(str(count), COUNTS, "a way to count days late"))  # fmt: skip
    rule = LateRule(read.number(late, ("late", "per_day"), 0.0, 0.0, 1.0),
                    read.number(late, ("late", "cap"), 1.0, 0.0, 1.0), count)  # fmt: skip
    release = read.dates(table.get("release", {}), ("release",))
    due = read.dates(table.get("due", {}), ("due",))
    for name, moment in due.items():
        if name in release and moment <= release[name]:
            raise read.fail(("due", name), f"[due] {name} = {moment.isoformat()} is not after "
                            f"its release ({release[name].isoformat()}); check the month "
                            "and the day")  # fmt: skip
    extensions = {}
    for student, granted in table.get("extensions", {}).items():
        extensions[student] = read.dates(granted, ("extensions", student))
        for name, moment in extensions[student].items():
            if name in due and moment <= due[name]:
                raise read.fail(("extensions", student, name), f"[extensions.{student}] {name} "
                                f"= {moment.isoformat()} is not after the due date it extends "
                                f"({due[name].isoformat()}); an extension gives more time")  # fmt: skip
    requests = read.dates(table.get("requests", {}), ("requests",))
    for name, moment in requests.items():
        if name in due and moment <= due[name]:
            raise read.fail(("requests", name), f"[requests] {name} = {moment.isoformat()} is "
                            f"not after its due date ({due[name].isoformat()}); students ask "
                            "for a regrade once they have their feedback")  # fmt: skip
    gradescope = table.get("gradescope", {})
    attempts = gradescope.get("attempts_per_day")
    if attempts is not None:
        attempts = int(read.number(gradescope, ("gradescope", "attempts_per_day"), 0, 1, 1000,
                                   whole=True))  # fmt: skip
    share = gradescope.get("public_share")
    seed = gradescope.get("split_seed", "")
    if not isinstance(seed, str):
        raise read.fail(("gradescope", "split_seed"), f"[gradescope] split_seed = {seed!r}; "
                        'give a text in quotes, split_seed = "..."')  # fmt: skip
    if share is not None:
        share = read.number(gradescope, ("gradescope", "public_share"), 0.0, 0.01, 0.99)
        if not seed.strip():
            raise read.fail(("gradescope", "public_share"), "[gradescope] public_share needs "
                            'split_seed = "...", a secret text of the course that fixes the '
                            "split")  # fmt: skip
    grace = read.number(table, ("grace_minutes",), 0.0, 0.0, 7 * 24 * 60)
    warnings = [zone_warning(path, text, zone_name, read.zone, read.floating)]
    warnings += date_warnings(path, text, read.zone, due, extensions, read.floating)
    warnings += rule_warnings(path, text, rule.per_day, rule.cap, rule.count, grace)
    return Course(
        path,
        read.zone,
        due,
        rule,
        grace,
        int(read.number(table, ("grace_days",), 0, 0, 365, whole=True)),
        extensions,
        attempts,
        share,
        seed,
        release,
        text,
        tuple(w for w in warnings if w is not None),
        language,
        requests,
        how.strip(),
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
