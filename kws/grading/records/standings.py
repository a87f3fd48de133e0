"""Where each student stands in each assignment of the course: ``OUT/standings.json``, written
whenever a grade changes and read by the exports, the report and the feedback pages::

    {"version": 1,
     "assignments": {"keyword_spotting": {"title": "...", "due": "2026-10-02T23:59:00+02:00",
                                          "maximum": 30.0}},
     "students": {"alice": {"keyword_spotting": {
         "status": "graded", "raw": 27.0, "maximum": 30.0,
         "late": {"submitted": "...", "due": "...", "hours_late": 5.2, "grace_days_used": 1,
                  "penalty": 3.0, "rule": "10 % of the maximum a day, capped at 50 %",
                  "source": "gradescope metadata"},
         "adjustments": [{"points": 2.0, "reason": "...", "who": "...", "when": "..."}],
         "final": 26.0}}}}

``status`` is ``graded``, ``missing`` or ``ungraded``; ``late`` is null for a hand-in on time;
the written answers' fields: docs/reference/written-questions.md ("In the standings"). A
folder without the file (graded before it existed) reads as every assignment on time with no
adjustments.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kws.grading.records.files import write_whole

STANDINGS_FILE = "standings.json"
VERSION = 1
# The gradebook's columns of each assignment ("speaker_id final", ...), from its standings.
COLUMN_PARTS = ("status", "raw", "late penalty", "adjustments", "final")


class StandingsError(ValueError):
    """``standings.json`` cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class Late:
    """A hand-in after its due date (the due date already moved by an extension)."""

    submitted: str  # ISO 8601 with its offset
    due: str
    hours_late: float
    grace_days_used: int
    penalty: float  # points taken off the raw score
    rule: str  # the course file's rule in one sentence
    source: str  # where the hand-in time came from, e.g. "gradescope metadata"


@dataclass(frozen=True)
class Adjustment:
    """A person's change to one grade: points (negative to take off), why, who, when."""

    points: float
    reason: str
    who: str
    when: str  # ISO 8601


@dataclass(frozen=True)
class Standing:
    """One student in one assignment: the raw score, what changed it, and the final score."""

    status: str
    raw: float
    maximum: float
    final: float
    late: Late | None = None
    adjustments: tuple[Adjustment, ...] = field(default_factory=tuple)
    written: float = 0.0  # the written answers' marks, counted in raw (`kws mark`)
    unmarked: int = 0  # written questions of this notebook with no mark yet (0 in raw)

    @classmethod
    def from_json(cls, entry: dict) -> Standing:
        """A standing from its JSON entry (the module docstring's shape)."""
        late = entry.get("late")
        return cls(
            status=entry["status"],
            raw=float(entry["raw"]),
            maximum=float(entry["maximum"]),
            final=float(entry["final"]),
            late=Late(**late) if late else None,
            adjustments=tuple(Adjustment(**a) for a in entry.get("adjustments", [])),
            written=float(entry.get("written", 0.0)),
            unmarked=int(entry.get("unmarked", 0)),
        )


@dataclass
class Standings:
    """Every student's standing in every assignment, and each assignment's title, due date and
    maximum."""

    assignments: dict[str, dict] = field(default_factory=dict)
    students: dict[str, dict[str, Standing]] = field(default_factory=dict)
    # What the instructor should know about how they were computed (not written to the file),
    # e.g. hand-ins whose time came from file times or from nowhere.
    notes: list[str] = field(default_factory=list)
    marks: str = ""  # the digest of the marks counted (`marks.written.marks_digest`)

    def of(self, student: str, assignment: str) -> Standing | None:
        """`student`'s standing in `assignment`, or None where none was recorded."""
        return self.students.get(student, {}).get(assignment)

    def unmarked(self) -> int:
        """How many written answers of graded hand-ins have no mark yet."""
        entries = [s for by in self.students.values() for s in by.values() if s.status == "graded"]
        return sum(s.unmarked for s in entries)


def read_standings(grades_dir: Path) -> Standings:
    """The standings `kws grade` wrote into `grades_dir`; empty where it wrote none.

    Args:
        grades_dir: the folder of ``gradebook.csv`` (``kws grade --out``).

    Returns:
        The assignments and every student's standing in each.

    Raises:
        StandingsError: the file exists but is not a standings document of this version.
    """
    path = Path(grades_dir) / STANDINGS_FILE
    if not path.is_file():
        return Standings()
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
        if document.get("version") != VERSION:
            raise ValueError(f"version {document.get('version')!r}, expected {VERSION}")
        students = {
            student: {name: Standing.from_json(entry) for name, entry in entries.items()}
            for student, entries in document.get("students", {}).items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StandingsError(
            f"{path} cannot be read ({error}); grade the class again with `kws grade` to write it "
            "anew"
        ) from None
    return Standings(dict(document.get("assignments", {})), students,
                     marks=str(document.get("marks", "")))  # fmt: skip


def _entry(standing: Standing, asks: bool) -> dict:
    """`standing` as its JSON entry; the written part where the notebook asks questions (`asks`),
    0 marks included, else none."""
    entry = asdict(standing)
    if not asks and not standing.written and not standing.unmarked:
        del entry["written"], entry["unmarked"]
    return entry


def write_standings(grades_dir: Path, standings: Standings) -> Path:
    """Write `standings` to ``grades_dir/standings.json`` atomically; return its path."""
    path = Path(grades_dir) / STANDINGS_FILE
    document = {
        "version": VERSION,
        "assignments": standings.assignments,
        "students": {
            student: {
                name: _entry(standing, "written" in standings.assignments.get(name, {}))
                for name, standing in entries.items()
            }
            for student, entries in standings.students.items()
        },
    }
    if standings.marks:
        document["marks"] = standings.marks
    return write_whole(path, json.dumps(document, indent=2) + "\n")
