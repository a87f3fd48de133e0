"""When each hand-in came in, from the best record the instructor has (for the late rule), in
this order: a times CSV or Moodle's grading worksheet (``kws grade --times FILE``), Gradescope's
``submission_metadata.json`` in the hand-in folder, and the notebook's file time only where the
instructor asks for it (``--file-times``). The sources and their formats are on
docs/how-to/deadlines.md ("Where the hand-in times come from").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from kws.grading.records.tables import csv_rows
from kws.grading.season.course import CourseError
from kws.grading.season.dates import (
    DateError,
    dotted_note,
    in_zone,
    is_slash_date,
    parse_time,
    slash_order,
)
from kws.spec import ASSIGNMENTS
from kws.spec.toml import unknown

GRADESCOPE_METADATA = "submission_metadata.json"
SOURCES = ("times CSV", "gradescope metadata", "file times", "Moodle worksheet")
MOODLE_TIME = "Last modified (submission)"  # the worksheet's column of hand-in times
MOODLE_FORMAT = "%A, %d %B %Y, %I:%M %p"  # Moodle's English strftimedatetime
NOTHING = ("", "-")  # a time cell that records no hand-in (Moodle writes "-")
SAVE_AS = "save it as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"


@dataclass(frozen=True)
class HandinTime:
    """When a hand-in came in, where that was read, and the times file's line (0: elsewhere)."""

    submitted: datetime
    source: str  # one of SOURCES
    line: int = 0


class Times(dict):
    """{(student, assignment or ""): `HandinTime`} read from the times file at `path`, with
    `notes` for the instructor on how it was read (e.g. slash dates read day first)."""

    def __init__(self, path: Path | None = None):
        super().__init__()
        self.path = path
        self.notes: list[str] = []


def _column(header: list[str], name: str) -> str | None:
    return next((h for h in header if h.strip().casefold() == name.casefold()), None)


def _table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line, row)]) of a CSV as Excel or an LMS saves it (a byte-order mark, CRLF,
    commas, semicolons or tabs, Excel's ``sep=`` line); blank rows left out."""
    _, found = csv_rows(path, CourseError, SAVE_AS)
    header = found[0][1] if found else []
    rows = []
    for line, cells in found[1:]:
        padded = cells + [""] * (len(header) - len(cells))
        rows.append((line, dict(zip(header, padded, strict=False))))
    return header, rows


def read_times_csv(path: Path, zone: ZoneInfo) -> Times:
    """{(student, assignment or ""): when and from what} from a times CSV or Moodle's grading
    worksheet (module docstring); CourseError naming the file, the line and the fix. A blank
    or ``-`` time records no hand-in. The students are checked against the class by
    `kws.grading.season.inputs`."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such times CSV (columns student, assignment, submitted)")
    header, rows = _table(path)
    if _column(header, MOODLE_TIME):
        return _moodle_worksheet(path, header, rows, zone)
    student, submitted = _column(header, "student"), _column(header, "submitted")
    assignment = _column(header, "assignment")
    if not student or not submitted:
        raise CourseError(f"{path}: needs the columns student and submitted (and, "
                          f"optionally, assignment); it has {header}")  # fmt: skip
    written = {line: row[submitted] for line, row in rows if row[submitted] not in NOTHING}
    try:
        order, said = slash_order({n: t for n, t in written.items() if is_slash_date(t)})
    except DateError as error:
        raise CourseError(f"{path}: {error}") from None
    times = Times(path)
    times.notes += [f"{path}: {note}" for note in (said, dotted_note(written)) if note]
    for line, row in rows:
        if row[submitted] in NOTHING:
            continue
        name, notebook = row[student], row.get(assignment, "") if assignment else ""
        if not name:
            raise CourseError(f"{path}, line {line}: no student; give the hand-in folder's name")
        if notebook and notebook not in ASSIGNMENTS:
            raise CourseError(f"{path}, line {line}: assignment = "
                              + unknown(notebook, sorted(ASSIGNMENTS), "an assignment"))  # fmt: skip
        try:
            moment = in_zone(parse_time(row[submitted], order), zone)
        except DateError as error:
            raise CourseError(f"{path}, line {line}: submitted = {row[submitted]!r} is not a "
                              f"time the kit reads: {error}") from None  # fmt: skip
        _add(times, (name, notebook), HandinTime(moment, SOURCES[0], line))
    return times


def check_not_future(times: Times, now: datetime | None = None) -> None:
    """CourseError naming the file, the row and the fix when a hand-in time of `times` is
    later than `now` (default: this moment): a hand-in cannot have come in after its grading,
    so the file is wrong (an LMS export with a wrong year, a time zone off by a day), and a
    late rule would take its penalty for every hour of it. ``--accept-future-times`` skips it."""
    now = now or datetime.now(timezone.utc)
    later = sorted((when.line, key, when) for key, when in times.items() if when.submitted > now)
    if not later:
        return
    line, (student, assignment), when = later[0]
    more = f" (and {len(later) - 1} more rows)" if len(later) > 1 else ""
    raise CourseError(
        f"{times.path}, line {line}: {student} handed in {assignment or 'every notebook'} at "
        f"{when.submitted.isoformat()}, later than now ({now.isoformat(timespec='minutes')})"
        f"{more}: a hand-in time cannot be after its grading; check the year, the day and the "
        "time zone of the row and correct the file, or pass --accept-future-times to grade "
        "with the times as given"
    )


def _add(times: Times, key: tuple[str, str], when: HandinTime) -> None:
    """Record `when` under `key`; CourseError when another line gave another time."""
    earlier = times.get(key)
    if earlier is not None and earlier.submitted != when.submitted:
        what = f"{key[0]} {key[1] or '(every notebook)'}"
        raise CourseError(f"{times.path}, lines {earlier.line} and {when.line}: two times for "
                          f"{what}; keep the one that counts")  # fmt: skip
    times[key] = when


def _moodle_time(text: str) -> datetime:
    """A worksheet time: Moodle's English default or ISO 8601; ValueError otherwise."""
    try:
        return datetime.strptime(text, MOODLE_FORMAT)
    except ValueError:
        return parse_time(text)


def _moodle_worksheet(path: Path, header: list[str], rows: list, zone: ZoneInfo) -> Times:
    """The hand-in times of Moodle's grading worksheet, by hand-in folder (module docstring)."""
    column = {name: _column(header, name) for name in ("Identifier", "Full name", "folder")}
    missing = [name for name in ("Identifier", "Full name") if not column[name]]
    if missing and not column["folder"]:
        raise CourseError(f"{path}: a Moodle grading worksheet needs the columns Identifier and "
                          f"Full name (or a folder column); {missing} are missing")  # fmt: skip
    times = Times(path)
    for line, row in rows:
        text = row[_column(header, MOODLE_TIME)]
        if text in NOTHING:
            continue  # nothing handed in
        try:
            moment = _moodle_time(text)
        except ValueError:
            raise CourseError(
                f"{path}, line {line}: {MOODLE_TIME} = {text!r} is neither Moodle's English "
                "date (Thursday, 2 October 2025, 11:59 PM) nor ISO 8601; download the "
                "worksheet with English as the language, or put the times in a times CSV"
            ) from None
        cell = {name: row[found] if found else "" for name, found in column.items()}
        number = cell["Identifier"].removeprefix("Participant ").strip()
        folder = cell["folder"] or f"{cell['Full name']}_{number}_assignsubmission_file_"
        _add(times, (folder, ""), HandinTime(in_zone(moment, zone), SOURCES[3], line))
    return times


def gradescope_timestamp(text: str) -> datetime:
    """A time as Gradescope's metadata writes it (ISO 8601 with an offset; a ``Z`` for UTC is
    read too, which Python 3.10's `datetime.fromisoformat` would refuse)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def gradescope_time(handin: Path) -> datetime | None:
    """``created_at`` of the hand-in's ``submission_metadata.json``, or None without one."""
    path = Path(handin) / GRADESCOPE_METADATA
    if not path.is_file():
        return None
    try:
        return gradescope_timestamp(json.loads(path.read_text())["created_at"])
    except (ValueError, KeyError, TypeError):
        raise CourseError(f"{path}: no readable created_at; is it Gradescope's "
                          "submission metadata?") from None  # fmt: skip


def handin_time(
    student: str,
    assignment: str,
    notebook: Path | None,
    handin: Path | None,
    times: dict[tuple[str, str], HandinTime],
    file_times: bool = False,
) -> HandinTime | None:
    """When `student` handed in `assignment`, from the first source that knows (module doc).

    Args:
        student: the hand-in folder's name.
        assignment: the assignment's name.
        notebook: the assignment's notebook in the hand-in, if there is one (for file times).
        handin: the hand-in folder, if it still exists.
        times: the times CSV's or worksheet's entries (`read_times_csv`), or empty.
        file_times: whether the notebook's modification time may stand in (the instructor
            asked for it: ``--file-times``).

    Returns:
        The time and its source, or None when nothing records it.
    """
    for key in ((student, assignment), (student, "")):
        if key in times:
            return times[key]
    if handin is not None and (when := gradescope_time(handin)) is not None:
        return HandinTime(when, SOURCES[1])
    if file_times and notebook is not None and notebook.is_file():
        return HandinTime(
            datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc), SOURCES[2]
        )
    return None
