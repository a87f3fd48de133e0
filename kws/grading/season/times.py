"""When each hand-in came in, from the best record the instructor has (for the late rule).

In this order, the first that knows:

1. a **times CSV** (``kws grade --times FILE``): columns ``student`` (the hand-in folder's
   name), ``submitted`` (ISO 8601; without an offset, in the course's time zone) and, optionally,
   ``assignment`` (blank: every notebook of that hand-in);
2. **Gradescope's** ``submission_metadata.json`` in the hand-in folder: its ``created_at``
   (Gradescope writes it into ``/autograder/`` for every submission);
3. **file times**, the last resort: the notebook's modification time in the hand-in folder. A
   copy, an unzip or a sync may have changed it; the source says "file times" wherever it is
   shown, so nobody mistakes it for a record.

The file given with ``--times`` may also be **Moodle's grading worksheet** (the assignment's
"Download grading worksheet"): its ``Last modified (submission)`` column is the hand-in time,
written in Moodle's English default (``Thursday, 2 October 2025, 11:59 PM``, in the time zone
of the account that downloaded it: read in the course's) or ISO 8601; ``-`` (nothing handed in)
is skipped. A row is matched to the hand-in folder named in a ``folder`` column where the
instructor added one, else to the folder name Moodle's "Download all submissions" gives that
participant (``<Full name>_<id>_assignsubmission_file_``). Its times count for every notebook
of the hand-in; the source reads "Moodle worksheet". Canvas's bulk download names the files by
student (``name_userid_submissionid_file``, ``LATE`` in the name of a late one) but carries no
hand-in time: export it from Canvas into the times CSV.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from kws.grading.season.course import CourseError, in_zone

GRADESCOPE_METADATA = "submission_metadata.json"
SOURCES = ("times CSV", "gradescope metadata", "file times", "Moodle worksheet")
MOODLE_TIME = "Last modified (submission)"  # the worksheet's column of hand-in times
MOODLE_FORMAT = "%A, %d %B %Y, %I:%M %p"  # Moodle's English strftimedatetime


@dataclass(frozen=True)
class HandinTime:
    """When a hand-in came in and where that was read."""

    submitted: datetime
    source: str  # one of SOURCES


def read_times_csv(path: Path, zone: ZoneInfo) -> dict[tuple[str, str], HandinTime]:
    """{(student, assignment or ""): when and from what} from a times CSV or Moodle's grading
    worksheet (module docstring); CourseError naming the file, the line and the fix."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such times CSV (columns student, assignment, submitted)")
    times = {}
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if MOODLE_TIME in (reader.fieldnames or []):
            return _moodle_worksheet(path, reader, zone)
        if not {"student", "submitted"} <= set(reader.fieldnames or []):
            raise CourseError(f"{path}: needs the columns student and submitted (and, "
                              f"optionally, assignment); it has {reader.fieldnames}")  # fmt: skip
        for line, row in enumerate(reader, start=2):
            try:
                moment = datetime.fromisoformat(row["submitted"].strip())
            except ValueError:
                raise CourseError(f"{path}, line {line}: submitted = {row['submitted']!r} is "
                                  "not an ISO 8601 time such as 2026-10-02T23:59+02:00") from None  # fmt: skip
            key = (row["student"].strip(), (row.get("assignment") or "").strip())
            moment = in_zone(moment, zone)
            times[key] = HandinTime(moment, SOURCES[0])
    return times


def _moodle_time(text: str) -> datetime:
    """A worksheet time: Moodle's English default or ISO 8601; ValueError otherwise."""
    try:
        return datetime.strptime(text, MOODLE_FORMAT)
    except ValueError:
        return datetime.fromisoformat(text)


def _moodle_worksheet(path: Path, reader: csv.DictReader, zone: ZoneInfo) -> dict:
    """The hand-in times of Moodle's grading worksheet, by hand-in folder (module docstring)."""
    missing = {"Identifier", "Full name"} - set(reader.fieldnames or [])
    if missing and "folder" not in (reader.fieldnames or []):
        raise CourseError(f"{path}: a Moodle grading worksheet needs the columns Identifier and "
                          f"Full name (or a folder column); {sorted(missing)} are missing")  # fmt: skip
    times = {}
    for line, row in enumerate(reader, start=2):
        text = (row.get(MOODLE_TIME) or "").strip()
        if text in ("", "-"):
            continue  # nothing handed in
        try:
            moment = _moodle_time(text)
        except ValueError:
            raise CourseError(
                f"{path}, line {line}: {MOODLE_TIME} = {text!r} is neither Moodle's English "
                "date (Thursday, 2 October 2025, 11:59 PM) nor ISO 8601; download the "
                "worksheet with English as the language, or put the times in a times CSV"
            ) from None
        folder = (row.get("folder") or "").strip()
        if not folder:
            number = (row.get("Identifier") or "").strip().removeprefix("Participant ").strip()
            folder = f"{(row.get('Full name') or '').strip()}_{number}_assignsubmission_file_"
        moment = in_zone(moment, zone)
        times[(folder, "")] = HandinTime(moment, SOURCES[3])
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
) -> HandinTime | None:
    """When `student` handed in `assignment`, from the first source that knows (module doc).

    Args:
        student: the hand-in folder's name.
        assignment: the assignment's name.
        notebook: the assignment's notebook in the hand-in, if there is one (for file times).
        handin: the hand-in folder, if it still exists.
        times: the times CSV's or worksheet's entries (`read_times_csv`), or empty.

    Returns:
        The time and its source, or None when nothing records it.
    """
    for key in ((student, assignment), (student, "")):
        if key in times:
            return times[key]
    if handin is not None and (when := gradescope_time(handin)) is not None:
        return HandinTime(when, SOURCES[1])
    if notebook is not None and notebook.is_file():
        return HandinTime(
            datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc), SOURCES[2]
        )
    return None
