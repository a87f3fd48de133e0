"""A person's points for one autograded test of one student: ``OUT/overrides.csv``, beside the
gradebook, sealed with it (`kws.grading.records.seal`).

    kws override grades/ alice "ks task" 8 --reason "the test timed out on a loaded machine"

One line a decision, oldest first: ``student, test, points, original, reason, who, when``;
``original`` is the test's points as graded when the override was made, and a line with no
points withdraws the override (``kws override ... --withdraw``). The file is its own history:
nothing in it is rewritten, and the last line of a test is what counts.

`apply_overrides` puts them in place where a graded folder is read
(`kws.grading.records.grades`), so the season, the gradebook, the exports and the feedback pages
all count the same points. A test a regrade no longer has, or whose graded points changed since
the override was made, is said in the notes every command that writes the grades prints: never
dropped or kept without a word.
"""

from __future__ import annotations

import copy
import csv
import getpass
import io
import math
from dataclasses import dataclass
from pathlib import Path

from kws.grading.records.files import record_time, write_whole
from kws.grading.records.tables import csv_rows

OVERRIDES_FILE = "overrides.csv"
COLUMNS = ("student", "test", "points", "original", "reason", "who", "when")
SAVE_AS = "save it as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"


@dataclass(frozen=True)
class Override:
    """One line of ``overrides.csv``.

    Attributes:
        student: the gradebook's name of the student (the hand-in folder's name).
        test: the test's name, as results.json and the gradebook's column name it.
        points: the points the test counts from now on; None: the override is withdrawn.
        original: the test's points as graded when the override was made.
        reason: why, in a sentence the student reads.
        who: who decided; when: ISO 8601, UTC.
    """

    student: str
    test: str
    points: float | None
    original: float
    reason: str
    who: str
    when: str


def read_overrides(grades_dir: Path) -> list[Override]:
    """Every line of ``overrides.csv`` in `grades_dir`, oldest first ([] without the file).
    ValueError naming the file, the line and the fix for a line that is not an override."""
    path = Path(grades_dir) / OVERRIDES_FILE
    if not path.is_file():
        return []
    _, rows = csv_rows(path, ValueError, SAVE_AS)
    header = rows[0][1] if rows else []
    found = []
    for line, cells in rows[1:]:
        row = dict(zip(header, cells, strict=False))
        try:
            points = None if row["points"] == "" else _finite(row["points"])
            found.append(Override(row["student"], row["test"], points,
                                  _finite(row["original"]), row["reason"], row["who"],
                                  row["when"]))  # fmt: skip
        except (KeyError, ValueError):
            raise ValueError(
                f"{path}, line {line}: expected the columns {', '.join(COLUMNS)} with numbers "
                "of points (points empty: withdrawn); fix the line by hand, then run "
                f"`kws season {grades_dir}`"
            ) from None
    return found


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def standing_overrides(overrides: list[Override]) -> dict[tuple[str, str], Override]:
    """{(student, test): the override that counts}: the last line of each test, unless it
    withdrew it."""
    last = {(o.student, o.test): o for o in overrides}
    return {key: o for key, o in last.items() if o.points is not None}


def new_override(
    student: str,
    test: dict,
    points: float | None,
    reason: str,
    who: str | None = None,
) -> Override:
    """An override of results.json's `test` of `student` to `points` (None: withdrawn) for
    `reason` by `who` (default: the login name), stamped now (UTC). ValueError, with the fix,
    without a reason or for points outside 0 to the test's maximum."""
    if not reason.strip():
        raise ValueError('an override needs a reason (--reason "..."): the student reads it')
    maximum = float(test["max_score"])
    if points is not None and not 0 <= points <= maximum:
        raise ValueError(f"{points:g} points is outside 0 to {maximum:g}, the points of "
                         f"{test['name']!r}; give a number in that range (a change beyond a "
                         "test's points is an adjustment: `kws adjust`)")  # fmt: skip
    original = graded_points(test)
    return Override(student, test["name"], points, original, reason.strip(),
                    who or getpass.getuser(), record_time())  # fmt: skip


def graded_points(test: dict) -> float:
    """The points the grader gave `test` (a results.json test), whether overridden or not."""
    facts = test.get("extra_data") or {}
    given = facts.get("override") if isinstance(facts, dict) else None
    return float(given["original"]) if given else float(test["score"])


def write_override(grades_dir: Path, override: Override) -> Path:
    """``overrides.csv`` with one more line (created with its header if new), written whole:
    a command stopped half-way leaves the file as it was. Returns the file's path."""
    path = Path(grades_dir) / OVERRIDES_FILE
    earlier = path.read_text(encoding="utf-8") if path.is_file() else ""
    if earlier and not earlier.endswith("\n"):
        earlier += "\r\n"
    line = io.StringIO(newline="")
    writer = csv.writer(line)
    if not earlier:
        writer.writerow(COLUMNS)
    points = "" if override.points is None else f"{override.points:g}"
    writer.writerow([override.student, override.test, points, f"{override.original:g}",
                     override.reason, override.who, override.when])  # fmt: skip
    return write_whole(path, earlier + line.getvalue())


def apply_overrides(
    name: str, document: dict | None, overrides: dict[tuple[str, str], Override]
) -> tuple[dict | None, list[str]]:
    """`document` (student `name`'s results) with the tests `overrides` change given their
    points, and notes for the instructor.

    Each test overridden gets ``extra_data["override"]`` (original, points, reason, who, when)
    and its score; the document's ``score`` changes by as much. `document` itself is left as it
    is (a copy is returned where anything changed).

    Returns:
        (the document, [a note per override that does not count, or whose test's graded
        points changed since it was made]).
    """
    mine = {test: o for (student, test), o in overrides.items() if student == name}
    if not mine or document is None:
        return document, []
    document = copy.deepcopy(document)
    notes, found = [], set()
    for test in document.get("tests", []):
        override = mine.get(test["name"])
        if override is None:
            continue
        found.add(test["name"])
        graded, maximum = float(test["score"]), float(test["max_score"])
        if override.points > maximum:
            notes.append(f"{name}'s test {test['name']!r} is worth {maximum:g} points now, less "
                         f"than the {override.points:g} it was overridden to: the override "
                         f"counts nothing; {_again(name, test['name'])}")  # fmt: skip
            continue
        if abs(graded - override.original) > 1e-9:
            notes.append(f"{name}'s test {test['name']!r} was graded {override.original:g} when "
                         f"it was overridden to {override.points:g}, and is graded {graded:g} "
                         f"now: the override still counts; {_again(name, test['name'])}")  # fmt: skip
        facts = test.setdefault("extra_data", {})
        facts["override"] = {"original": graded, "points": override.points,
                             "reason": override.reason, "who": override.who,
                             "when": override.when}  # fmt: skip
        test["score"] = override.points
        document["score"] = round(float(document.get("score", 0.0)) + override.points - graded, 4)
    for test in sorted(set(mine) - found):
        notes.append(f"{name}'s results have no test {test!r} (graded again without it): its "
                     f"override in {OVERRIDES_FILE} counts nothing; withdraw it with `kws "
                     f"override GRADES {name} {test!r} --withdraw --reason ...`")  # fmt: skip
    return document, notes


def _again(student: str, test: str) -> str:
    """What the instructor runs to settle an override a regrade questions."""
    return (
        f"confirm it with `kws override GRADES {student} {test!r} POINTS --reason ...` "
        f"or withdraw it with `kws override GRADES {student} {test!r} --withdraw --reason "
        "...`"
    )
