"""Students' regrade requests and the answers to them: ``OUT/requests.csv``, beside the
gradebook, sealed with it (`kws.grading.records.seal`).

    kws requests import grades/ form.csv                      # student, question, reason
    kws requests answer grades/ alice speaker_id/norm --keep --reply "Full marks need ..."

One line an event, oldest first: ``student, question, event, text, points, who, when``;
``event`` is ``asked`` (``text``: the student's reason) or ``answered`` (``text``: the reply,
``points``: the points the question counts after it, empty where the mark was kept). The file
is its own history: nothing in it is rewritten. A question's request is open from its
``asked`` line until an ``answered`` line after it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from kws.grading.records.files import write_whole

REQUESTS_FILE = "requests.csv"
COLUMNS = ("student", "question", "event", "text", "points", "who", "when")
ASKED, ANSWERED = "asked", "answered"


@dataclass(frozen=True)
class Event:
    """One line of ``requests.csv`` (the module says what each column holds)."""

    student: str
    question: str
    event: str
    text: str
    points: float | None
    who: str
    when: str


def read_requests(grades_dir: Path) -> list[Event]:
    """Every event of ``requests.csv`` in `grades_dir`, oldest first ([] without the file);
    ValueError naming the file and line of one that is not an event."""
    path = Path(grades_dir) / REQUESTS_FILE
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    events = []
    for line, row in enumerate(rows, start=2):
        try:
            points = float(row["points"]) if row["points"] else None
            if row["event"] not in (ASKED, ANSWERED):
                raise ValueError(row["event"])
            events.append(Event(row["student"], row["question"], row["event"], row["text"],
                                points, row["who"], row["when"]))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}, line {line}: not a request or answer this kit records; "
                             "restore the file from a backup, then run `kws season "
                             f"{grades_dir}`") from None  # fmt: skip
    return events


@dataclass(frozen=True)
class Thread:
    """One student's requests about one question: what they asked and what they were told,
    oldest first; `open` while the last request has no answer."""

    student: str
    question: str
    events: tuple[Event, ...]

    @property
    def open(self) -> bool:
        return self.events[-1].event == ASKED


def threads(events: list[Event]) -> list[Thread]:
    """`events` by (student, question), in the order each was first asked."""
    found: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        found.setdefault((event.student, event.question), []).append(event)
    return [Thread(student, question, tuple(e)) for (student, question), e in found.items()]


def open_requests(grades_dir: Path) -> list[Thread]:
    """The requests of `grades_dir` no one answered yet."""
    return [thread for thread in threads(read_requests(grades_dir)) if thread.open]


def write_events(grades_dir: Path, events: list[Event]) -> Path:
    """``requests.csv`` with `events` added (created with its header if new), written whole."""
    path = Path(grades_dir) / REQUESTS_FILE
    earlier = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = io.StringIO(newline="")
    writer = csv.writer(lines)
    if not earlier:
        writer.writerow(COLUMNS)
    for e in events:
        points = "" if e.points is None else f"{e.points:g}"
        writer.writerow([e.student, e.question, e.event, e.text, points, e.who, e.when])
    return write_whole(path, earlier + lines.getvalue())


def unsettled(grades_dir: Path) -> str | None:
    """Why the grades of `grades_dir` are not settled yet: the open requests, each named, and
    how to answer them; None when there is none."""
    left = open_requests(grades_dir)
    if not left:
        return None
    listed = ", ".join(f"{t.student} ({t.question})" for t in left)
    return (
        f"{len(left)} regrade request(s) not answered yet: {listed}; answer each with "
        f"`kws requests answer {grades_dir} STUDENT QUESTION --keep | --points P --reply "
        '"..."`, then this command'
    )
