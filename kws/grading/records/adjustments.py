"""A person's changes to grades: ``OUT/adjustments.csv``, beside the gradebook.

    kws adjust grades/ alice speaker_id +2 --reason "test 3 failed on a grader bug" --who "TA Kim"

One line an adjustment: ``student, assignment, points, reason, who, when``; how they apply is on
docs/how-to/adjustments.md. The same points for the same reason, recorded again (a command
retried), are one adjustment: `recorded_as`.
"""

from __future__ import annotations

import csv
import getpass
import io
from pathlib import Path

from kws.grading.records.files import record_time, write_whole
from kws.grading.records.standings import Adjustment
from kws.grading.records.tables import csv_rows

ADJUSTMENTS_FILE = "adjustments.csv"
COLUMNS = ("student", "assignment", "points", "reason", "who", "when")
# What an adjustments file saved by a spreadsheet in another encoding is told (`csv_rows`).
SAVE_AS = "save it as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"


def read_adjustments(grades_dir: Path) -> dict[tuple[str, str], list[Adjustment]]:
    """{(student, assignment): its adjustments, oldest first} from ``adjustments.csv``."""
    path = Path(grades_dir) / ADJUSTMENTS_FILE
    found: dict[tuple[str, str], list[Adjustment]] = {}
    if not path.is_file():
        return found
    _, rows = csv_rows(path, ValueError, SAVE_AS)
    header = rows[0][1] if rows else []
    for line, cells in rows[1:]:
        row = dict(zip(header, cells, strict=False))
        try:
            adjustment = Adjustment(float(row["points"]), row["reason"], row["who"], row["when"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{path}, line {line}: expected the columns {', '.join(COLUMNS)} with a "
                "number of points; fix the line by hand or remove it"
            ) from None
        found.setdefault((row["student"], row["assignment"]), []).append(adjustment)
    return found


def new_adjustment(points: float, reason: str, who: str | None = None) -> Adjustment:
    """An adjustment of `points` for `reason` by `who` (default: the login name running the
    command), stamped with the current time (UTC); ValueError without a reason."""
    if not reason.strip():
        raise ValueError('an adjustment needs a reason (--reason "..."): the student reads it')
    when = record_time()
    return Adjustment(float(points), reason.strip(), who or getpass.getuser(), when)


def recorded_as(
    adjusted: dict[tuple[str, str], list[Adjustment]],
    student: str,
    assignment: str,
    adjustment: Adjustment,
) -> Adjustment | None:
    """The adjustment already recorded for `student` and `assignment` with the same points and
    reason as `adjustment` (the same command run again), or None."""
    for earlier in adjusted.get((student, assignment), []):
        if earlier.points == adjustment.points and earlier.reason == adjustment.reason:
            return earlier
    return None


def write_adjustment(
    grades_dir: Path, student: str, assignment: str, adjustment: Adjustment
) -> Path:
    """``adjustments.csv`` with one more line (created with its header if new), written whole:
    a command stopped half-way leaves the file as it was.

    Args:
        grades_dir: the folder of ``gradebook.csv``.
        student: the student's name in the gradebook (the hand-in folder's name).
        assignment: the assignment's name, e.g. ``speaker_id``.
        adjustment: what `new_adjustment` made.

    Returns:
        The file's path.
    """
    path = Path(grades_dir) / ADJUSTMENTS_FILE
    earlier = path.read_text(encoding="utf-8") if path.is_file() else ""
    if earlier and not earlier.endswith("\n"):
        earlier += "\r\n"  # a line typed by hand without its end
    line = io.StringIO(newline="")
    writer = csv.writer(line)
    if not earlier:
        writer.writerow(COLUMNS)
    writer.writerow([student, assignment, adjustment.points, adjustment.reason, adjustment.who,
                     adjustment.when])  # fmt: skip
    return write_whole(path, earlier + line.getvalue())
