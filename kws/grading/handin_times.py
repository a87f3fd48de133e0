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

Canvas's and Moodle's bulk downloads name the files by student (Canvas:
``name_userid_submissionid_file``, ``LATE`` in the name of a late one) but do not write the
hand-in time into them: export it from the LMS into the times CSV.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from kws.grading.course import CourseError

GRADESCOPE_METADATA = "submission_metadata.json"
SOURCES = ("times CSV", "gradescope metadata", "file times")


@dataclass(frozen=True)
class HandinTime:
    """When a hand-in came in and where that was read."""

    submitted: datetime
    source: str  # one of SOURCES


def read_times_csv(path: Path, zone: ZoneInfo) -> dict[tuple[str, str], datetime]:
    """{(student, assignment or ""): when} from a times CSV; CourseError naming the line."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such times CSV (columns student, assignment, submitted)")
    times = {}
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
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
            times[key] = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    return times


def gradescope_time(handin: Path) -> datetime | None:
    """``created_at`` of the hand-in's ``submission_metadata.json``, or None without one."""
    path = Path(handin) / GRADESCOPE_METADATA
    if not path.is_file():
        return None
    try:
        return datetime.fromisoformat(json.loads(path.read_text())["created_at"])
    except (ValueError, KeyError, TypeError):
        raise CourseError(f"{path}: no readable created_at; is it Gradescope's "
                          "submission metadata?") from None  # fmt: skip


def handin_time(
    student: str,
    assignment: str,
    notebook: Path | None,
    handin: Path | None,
    times: dict[tuple[str, str], datetime],
) -> HandinTime | None:
    """When `student` handed in `assignment`, from the first source that knows (module doc).

    Args:
        student: the hand-in folder's name.
        assignment: the assignment's name.
        notebook: the assignment's notebook in the hand-in, if there is one (for file times).
        handin: the hand-in folder, if it still exists.
        times: the times CSV's entries (`read_times_csv`), or empty.

    Returns:
        The time and its source, or None when nothing records it.
    """
    for key in ((student, assignment), (student, "")):
        if key in times:
            return HandinTime(times[key], SOURCES[0])
    if handin is not None and (when := gradescope_time(handin)) is not None:
        return HandinTime(when, SOURCES[1])
    if notebook is not None and notebook.is_file():
        return HandinTime(
            datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc), SOURCES[2]
        )
    return None
