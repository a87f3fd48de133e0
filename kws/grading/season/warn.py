"""What a careful colleague would say of a course file that the kit reads without refusing it.

    course = read_course(Path("course.toml"), assignments)
    for warning in course.warnings:        # CourseWarning: kind, where, what, the fix
        print(warning)                     # course.toml, line 1: timezone = "EST" is ...

A warning never changes a grade; with ``--strict`` the commands refuse the file instead
(`kws.grading.season.cli.warn_or_refuse`). Each is a `CourseWarning` whose `kind` (one of
`KINDS`) is a field, never a sentence to parse; what each kind means is on
docs/how-to/deadlines.md ("Warnings"). For a zone abbreviation whose place is known, `shifts`
gives how far the zone moves each date written without an offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from kws.spec.toml import line_of

KINDS = ("zone", "midnight", "weekend", "clock-change", "grace", "cap", "roster")
# Zones a course may be run in on purpose: UTC under its names. Every other name without a
# place (Area/City) is an abbreviation, a fixed offset or a legacy alias.
UTC_NAMES = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}
_GMT = ("Europe/London", "GMT is UTC all year, and Britain's clocks go to BST in summer")
# The clock an abbreviation names, and what to say of it.
MEANT = {
    "EST": ("America/New_York", "US Eastern time is EST in winter and EDT in summer"),
    "EST5EDT": ("America/New_York", "a legacy name of US Eastern time"),
    "CST6CDT": ("America/Chicago", "a legacy name of US Central time"),
    "MST": ("America/Denver", "US Mountain time is MST in winter and MDT in summer "
            "(Arizona keeps MST all year: America/Phoenix)"),
    "MST7MDT": ("America/Denver", "a legacy name of US Mountain time"),
    "PST8PDT": ("America/Los_Angeles", "a legacy name of US Pacific time"),
    "HST": ("Pacific/Honolulu", "Hawaii's clock"),
    "CET": ("Europe/Berlin", "Central European time is a country's clock (Europe/Paris, "
            "Europe/Rome, ... alike)"),
    "MET": ("Europe/Berlin", "Middle European time is a country's clock"),
    "EET": ("Europe/Athens", "Eastern European time is a country's clock (Europe/Helsinki, "
            "Europe/Bucharest, ... alike)"),
    "WET": ("Europe/Lisbon", "Western European time is a country's clock"),
    **dict.fromkeys(("GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Etc/GMT", "Etc/GMT0",
                     "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich"), _GMT),
}  # fmt: skip


@dataclass(frozen=True)
class Shift:
    """How the course's zone moves one date written without an offset, against the zone the
    instructor meant: `written` (as in the file), the moment in each zone, and `hours` (positive:
    the course's zone makes it later)."""

    key: tuple[str, ...]  # ("due", "speaker_id"), ("extensions", "alice", "speaker_id")
    written: datetime  # naive, as written
    here: datetime  # in the course file's zone
    meant: datetime  # in the zone meant

    @property
    def hours(self) -> float:
        return (self.here - self.meant).total_seconds() / 3600

    @property
    def label(self) -> str:
        return label(self.key)


@dataclass(frozen=True)
class CourseWarning:
    """One warning: its `kind` (of `KINDS`), the course file (as given) and line, the key, what
    is wrong (`said`) and the `fix`; for ``zone``, the zone meant (`meant`) and the dates it
    moves (`shifts`)."""

    kind: str
    path: Path
    line: int | None
    key: tuple[str, ...]
    said: str
    fix: str
    meant: str | None = None
    shifts: tuple[Shift, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path}, line {self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return f"{self.where}: {self.said}; {self.fix}"


def label(key: tuple[str, ...]) -> str:
    """``[due] speaker_id``, ``[extensions.alice] speaker_id``, ``grace_minutes``."""
    if len(key) == 1:
        return key[0]
    return f"[{'.'.join(key[:-1])}] {key[-1]}"


def _offset(moment: datetime) -> str:
    minutes = round(moment.utcoffset().total_seconds() / 60)
    sign, minutes = ("+" if minutes >= 0 else "−"), abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_warning(path: Path, text: str, name: str, zone: ZoneInfo,
                 floating: dict[tuple[str, ...], datetime]) -> CourseWarning | None:  # fmt: skip
    """The ``zone`` warning of ``timezone = name`` (None for a place's clock or UTC);
    `floating`: the file's dates written without an offset, by key."""
    if name in UTC_NAMES or ("/" in name and not name.startswith("Etc/")):
        return None
    january = datetime(datetime.now(timezone.utc).year, 1, 1, tzinfo=zone)
    fixed = january.utcoffset() == january.replace(month=7).utcoffset()
    meant, why = MEANT.get(name, (None, ""))
    shifts = ()
    if meant is None and name.startswith("Etc/GMT"):
        said = (f'timezone = "{name}" is a fixed {_offset(january)} '
                "all year (the sign of Etc/GMT names is reversed), with no daylight time")  # fmt: skip
        fix = 'write the place\'s zone, e.g. timezone = "Europe/Berlin" (Area/City)'
    elif meant is None:
        said = f'timezone = "{name}" is a legacy name, not a place\'s clock'
        fix = 'write the place\'s zone, e.g. timezone = "Asia/Tokyo" (Area/City)'
    else:
        clock = (f"a fixed {_offset(january)} all year, with no "
                 "daylight time" if fixed else "an abbreviation")  # fmt: skip
        there = ZoneInfo(meant)
        shifts = tuple(Shift(key, written, written.replace(tzinfo=zone), written.replace(tzinfo=there))
                       for key, written in floating.items())  # fmt: skip
        moved = [s for s in shifts if s.hours]
        said = f'timezone = "{name}" is {clock}: {why}'
        if moved:
            by = sorted({s.hours for s in moved})
            hours = " or ".join(f"{abs(h):g} h {'later' if h > 0 else 'earlier'}" for h in by)
            said += (f"; {len(moved)} of the file's {len(shifts)} dates fall {hours} than on "
                     f"{meant}'s clock ({', '.join(s.label for s in moved)})")  # fmt: skip
        elif shifts:
            said += f"; none of the file's dates moves against {meant} this term"
        fix = f'did you mean timezone = "{meant}"?'
    line = line_of(text, "timezone")
    return CourseWarning("zone", path, line, ("timezone",), said, fix, meant, shifts)


def _when(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def date_warnings(path: Path, text: str, zone: ZoneInfo, due: dict[str, datetime],
                  extensions: dict[str, dict[str, datetime]],
                  floating: dict[tuple[str, ...], datetime]) -> list[CourseWarning]:  # fmt: skip
    """``midnight``, ``weekend`` and ``clock-change`` warnings of the due dates and extensions."""
    found = []
    dates = {("due", name): moment for name, moment in due.items()}
    for student, granted in extensions.items():
        dates |= {("extensions", student, name): moment for name, moment in granted.items()}
    for key, moment in dates.items():
        local, line = moment.astimezone(zone), line_of(text, *key)
        if local.time() == time(0, 0):
            before = local - timedelta(minutes=1)
            found.append(CourseWarning(
                "midnight", path, line, key,
                f"{label(key)} = {local:%Y-%m-%d %H:%M} is midnight at the start of "
                f"{_when(local)}: students read it as the end of that day, or of the day "
                "before",
                f'write "{before:%Y-%m-%d %H:%M}" (the end of {_when(before)}) or '
                f'"{local:%Y-%m-%d} 23:59"',
            ))  # fmt: skip
        elif key[0] == "due" and local.weekday() >= 5:  # (a midnight's warning names its day)
            found.append(CourseWarning(
                "weekend", path, line, key,
                f"{label(key)} = {local:%Y-%m-%d %H:%M} falls on a {local:%A}",
                "nothing to fix if you meant it (office hours and help are scarce on weekends)",
            ))  # fmt: skip
    for key, written in floating.items():
        there = written.replace(tzinfo=zone)
        back = there.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        twice = written.replace(tzinfo=zone, fold=1).utcoffset() != there.utcoffset()
        if back != written or twice:
            what = ("does not exist: the clocks go forward over it, and it is read as "
                    f"{there.astimezone(zone):%H:%M %Z}") if back != written else (
                    "comes twice: the clocks go back over it, and the first is taken")  # fmt: skip
            found.append(CourseWarning(
                "clock-change", path, line_of(text, *key), key,
                f"{label(key)} = {written:%Y-%m-%d %H:%M} {what} in {zone.key}",
                "move it out of the night of the clock change",
            ))  # fmt: skip
    return found


def rule_warnings(path: Path, text: str, per_day: float, cap: float, count: str,
                  grace_minutes: float) -> list[CourseWarning]:  # fmt: skip
    """``grace`` and ``cap`` warnings of the late rule."""
    found = []
    step, unit = (24 * 60, "a started day") if count == "started_days" else (60, "an hour")
    if per_day > 0 and grace_minutes >= step:
        found.append(CourseWarning(
            "grace", path, line_of(text, "grace_minutes"), ("grace_minutes",),
            f"grace_minutes = {grace_minutes:g} is as long as the penalty's step ({unit}, "
            f'count = "{count}"): a hand-in just past it pays for the time the grace period '
            "forgave",
            "for whole days a student may spend late, use grace_days; keep grace_minutes for "
            "upload delays (e.g. 15)",
        ))  # fmt: skip
    if per_day > 0 and cap <= per_day:
        found.append(CourseWarning(
            "cap", path, line_of(text, "late", "cap"), ("late", "cap"),
            f"[late] cap = {cap:g} is reached on the first day late (per_day = {per_day:g}): a "
            "minute late costs what a week late costs",
            f"raise the cap (e.g. cap = {min(1.0, 5 * per_day):g}: five days) or lower per_day",
        ))  # fmt: skip
    return found


def roster_warnings(path: Path, text: str, extensions: dict, roster: set[str],
                    roster_file: Path | None) -> list[CourseWarning]:  # fmt: skip
    """A ``roster`` warning for each extension whose student is not on the roster (the names
    of its hand-in column, `roster`, from `roster_file`)."""
    return [CourseWarning(
        "roster", path, line_of(text, "extensions", student), ("extensions", student),
        f"[extensions.{student}] {student!r} is not a hand-in folder of the roster "
        f"({roster_file}): the LMS exports leave them out",
        "correct the name, or add the student to the roster's folder column",
    ) for student in extensions if student not in roster]  # fmt: skip
