"""The synthetic class of a rehearsal: who hands in what, and when, against the course file.

    stories = class_stories(course)               # on-time, in-grace, day-late, ... (`Story`)
    times = handin_times(stories, course)         # {(student, assignment): when}
    Path("times.csv").write_text(times_csv(times))
    Path("roster.csv").write_text(roster_csv(stories))

Each student is one story, told for every notebook that has a due date: on time, in the grace
period, a day and a week late, on time thanks to an extension (one student per extension the
course file grants, under the name it grants it to), nothing handed in (on the roster only), and
on time with a common mistake in the hand-in (a TODO left, no outputs/, an argument renamed
after training), or with a regrade (graded without outputs/, then again with them). The
times are what a times CSV records, so the real commands read them as they read a class's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from kws.grading.season.course import Course
from kws.spec import ASSIGNMENTS

MISTAKES = ("todo", "no-outputs", "renamed-argument")  # what `kws.rehearsal.handins` makes
ADJUSTED = "renamed-arg"  # the student a TA adjusts by hand (`kws adjust`), after grading
REGRADED = "regraded"  # the student graded again (`kws grade --student`)
ON_TIME = timedelta(hours=-2)
DOMAIN = "rehearsal.example.edu"  # the synthetic students' e-mail addresses


@dataclass(frozen=True)
class Story:
    """One synthetic student: the hand-in folder's `student` name, what they do (`says`, for the
    page), whether a hand-in folder exists, the `mistake` in it (of `MISTAKES`; in which
    notebook: `mistake_in`), and when they hand in: `late` after the due date (None: on time),
    or before their extension (`extension`)."""

    student: str
    says: str
    hands_in: bool = True
    mistake: str | None = None
    mistake_in: str | None = None
    late: timedelta | None = None
    extension: bool = False


def _hours(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


def by_due_date(course: Course) -> list[str]:
    """The kit's assignments, those with a due date first, in the order of their due dates."""
    far = datetime.max.replace(tzinfo=course.timezone)
    return sorted(ASSIGNMENTS, key=lambda name: (course.due.get(name, far), name))


def class_stories(course: Course) -> list[Story]:
    """The synthetic class of `course` (module docstring), in the order the page lists it."""
    grace = timedelta(minutes=course.grace_minutes)
    in_grace = grace / 2 if grace >= timedelta(minutes=2) else timedelta(minutes=1)
    grace_said = (f"{_hours(in_grace)} late, within the {course.grace_minutes:g}-minute grace "
                  "period" if grace >= timedelta(minutes=2) else
                  "1 minute late (the course file has no grace period)")  # fmt: skip
    order = by_due_date(course)
    first, last = order[0], order[-1]
    stories = [
        Story("on-time", "hands in 2 h before each due date"),
        Story("in-grace", f"hands in {grace_said}", late=in_grace),
        Story("day-late", "hands in a day (24 h) after each due date", late=timedelta(days=1)),
        Story("week-late", "hands in a week after each due date", late=timedelta(days=7)),
    ]
    for student in course.extensions:  # the names the course file grants extensions to
        stories.append(Story(student, "hands in an hour before each extended due date (on "
                             "time elsewhere)", extension=True))  # fmt: skip
    stories += [
        Story("no-hand-in", "is on the roster and hands in nothing", hands_in=False),
        Story(
            "todo-left",
            f"leaves the last TODO of {last}'s model cells, on time",
            mistake="todo",
            mistake_in=last,
        ),  # fmt: skip
        Story(
            "no-outputs", "hands in the notebooks without outputs/, on time", mistake="no-outputs"
        ),  # fmt: skip
        Story(
            ADJUSTED,
            f"renames an argument of {first}'s model after training, on time; a "
            "TA adds 2 points by hand (kws adjust)",
            mistake="renamed-argument",
            mistake_in=first,
        ),  # fmt: skip
        Story(
            REGRADED,
            "hands in without outputs/, on time; sends them later and is graded "
            "again (kws grade --student)",
            mistake="no-outputs",
        ),  # fmt: skip
    ]
    taken = set(course.extensions)
    return [s for s in stories if s.extension or s.student not in taken]


def handin_times(stories: list[Story], course: Course) -> dict[tuple[str, str], datetime]:
    """{(student, assignment): when it was handed in}, for every notebook with a due date of
    every student who hands in."""
    times = {}
    for story in stories:
        if not story.hands_in:
            continue
        for name, due in course.due.items():
            extended = course.extensions.get(story.student, {}).get(name)
            if story.extension and extended is not None:
                when = max(extended - timedelta(hours=1), due + (extended - due) / 2)
            else:
                when = due + (story.late if story.late is not None else ON_TIME)
            times[(story.student, name)] = when.astimezone(course.timezone)
    return times


def times_csv(times: dict[tuple[str, str], datetime]) -> str:
    """The times as a times CSV (student, assignment, submitted: ISO 8601 with its offset)."""
    file = io.StringIO(newline="")
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(["student", "assignment", "submitted"])
    for (student, name), when in sorted(times.items()):
        writer.writerow([student, name, when.isoformat()])
    return file.getvalue()


def roster_csv(stories: list[Story]) -> str:
    """The class roster with the columns Canvas and Moodle match students by, and ``folder``."""
    file = io.StringIO(newline="")
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "First name",
                     "Last name", "Email address", "folder"])  # fmt: skip
    for number, story in enumerate(stories, start=1):
        first, _, rest = story.student.partition("-")
        writer.writerow([story.student, number, f"S{number:03d}", story.student, "rehearsal",
                         first, rest or "-", f"{story.student}@{DOMAIN}", story.student])  # fmt: skip
    return file.getvalue()
