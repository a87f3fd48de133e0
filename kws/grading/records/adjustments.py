"""A person's changes to grades: ``OUT/adjustments.csv``, beside the gradebook.

    kws adjust grades/ alice speaker_id +2 --reason "test 3 failed on a grader bug" --who "TA Kim"

One line an adjustment: ``student, assignment, points, reason, who, when``. `kws grade` never
writes this file, so an adjustment survives every regrade of the class or of one student; each
is applied on top of the raw score and the late penalty (`kws.grading.season.compute`), and shown in
the gradebook, the report, the exports and the student's page. Take one back by recording the
opposite points with the reason, so the record of who did what stays whole.
"""

from __future__ import annotations

import csv
import getpass
from datetime import datetime, timezone
from pathlib import Path

from kws.grading.records.standings import Adjustment

ADJUSTMENTS_FILE = "adjustments.csv"
COLUMNS = ("student", "assignment", "points", "reason", "who", "when")


def read_adjustments(grades_dir: Path) -> dict[tuple[str, str], list[Adjustment]]:
    """{(student, assignment): its adjustments, oldest first} from ``adjustments.csv``."""
    path = Path(grades_dir) / ADJUSTMENTS_FILE
    found: dict[tuple[str, str], list[Adjustment]] = {}
    if not path.is_file():
        return found
    with open(path, newline="", encoding="utf-8") as file:
        for line, row in enumerate(csv.DictReader(file), start=2):
            try:
                adjustment = Adjustment(
                    float(row["points"]), row["reason"], row["who"], row["when"]
                )
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"{path}, line {line}: expected the columns {', '.join(COLUMNS)} with a "
                    "number of points; fix the line by hand or remove it"
                ) from None
            found.setdefault((row["student"], row["assignment"]), []).append(adjustment)
    return found


def add_adjustment(
    grades_dir: Path,
    student: str,
    assignment: str,
    points: float,
    reason: str,
    who: str | None = None,
) -> Adjustment:
    """Append one adjustment to ``adjustments.csv`` (created with its header if new).

    Args:
        grades_dir: the folder of ``gradebook.csv``.
        student: the student's name in the gradebook (the hand-in folder's name).
        assignment: the assignment's name, e.g. ``speaker_id``.
        points: points to add (negative to take off).
        reason: why, in a sentence the student may read.
        who: who decided (default: the login name running the command).

    Returns:
        The adjustment written, stamped with the current time (UTC).

    Raises:
        ValueError: no reason given.
    """
    if not reason.strip():
        raise ValueError('an adjustment needs a reason (--reason "..."): the student reads it')
    when = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    adjustment = Adjustment(float(points), reason.strip(), who or getpass.getuser(), when)
    path = Path(grades_dir) / ADJUSTMENTS_FILE
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow([student, assignment, adjustment.points, adjustment.reason,
                         adjustment.who, adjustment.when])  # fmt: skip
    return adjustment
