"""Who handed in what: a class roster (CSV) that maps hand-in folders to the students' identities.

    roster = read_roster(Path("roster.csv"))              # or key="SIS Login ID"
    matched = match_roster(roster, ["alice", "bob"])      # hand-ins <-> roster rows, both ways
    print("\\n".join(matched.report()))

One column, the *key* (``folder``, or ``--roster-key COLUMN``), holds each student's hand-in
folder name; every other column is kept for the LMS export (`kws.grading.publish.exports`).
The files it reads as exported, and what it refuses, are on docs/how-to/lms.md ("The roster").
Headers are matched without regard to case or surrounding spaces; cell values are taken with
surrounding spaces removed.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from kws.grading.records.tables import csv_rows

DEFAULT_KEY = "folder"
# Columns that name a student in the exports instructors have (Canvas, Moodle, spreadsheets): a
# row with none of them filled in is no student (Canvas's posting-policy row, a spreadsheet's
# notes). Matched without regard to case.
IDENTITY = (
    "Student", "ID", "SIS User ID", "SIS Login ID", "First name", "Last name", "ID number",
    "Email address", "Username", "Name", "Email",
)  # fmt: skip
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_POINTS_POSSIBLE = "points possible"  # Canvas's second row: the assignments' maximum points


class RosterError(ValueError):
    """A roster that cannot be read as one; the message names the file, the line and the fix."""


@dataclass
class Roster:
    """The students of a class: `rows` (header -> value) in the file's order, `lines` the line
    of the file each row ends on, and `key` the header whose value is a hand-in folder's name."""

    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int]
    key: str

    def column(self, name: str) -> str | None:
        """The header called `name` (any case, spaces around ignored), or None."""
        wanted = name.strip().casefold()
        return next((h for h in self.header if h.casefold() == wanted), None)

    def value(self, row: dict[str, str], name: str) -> str:
        """`row`'s value in the column called `name` ("" when the roster has no such column)."""
        column = self.column(name)
        return row.get(column, "") if column else ""

    def label(self, row: dict[str, str]) -> str:
        """How to name a row's student in a message: name, login or e-mail, and the file's line."""
        first_last = " ".join(
            v for v in (self.value(row, "First name"), self.value(row, "Last name")) if v
        )
        name = self.value(row, "Student") or self.value(row, "Name") or first_last
        ident = next(
            (self.value(row, c) for c in ("SIS Login ID", "Email address", "Email", "Username",
                                          "ID number", "SIS User ID", "ID") if self.value(row, c)),
            "",
        )  # fmt: skip
        line = self.lines[self.rows.index(row)]
        text = " ".join(part for part in (name, f"({ident})" if ident else "") if part)
        return f"{text or row[self.key] or 'a student'} [line {line}]"


# What an unreadable roster's error says to do (`csv_rows`).
SAVE_AS = ("save the roster as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)'; "
           "LibreOffice: character set 'Unicode (UTF-8)') and pass it again")  # fmt: skip


def read_roster(path: Path, key: str | None = None) -> Roster:
    """The roster in the CSV at `path` (relative to the working directory); `key`: the column
    that names each student's hand-in folder (default ``folder``). FileNotFoundError or
    RosterError naming the file, the line and the fix: no such file, not UTF-8, no key column,
    two columns of one name, a row with more fields than the header, a folder named twice
    (in any case)."""
    path = Path(path)  # relative to the working directory, and named as typed
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such roster file; pass the class list as CSV (an LMS gradebook or "
            "participants export, or a spreadsheet saved as CSV) with a column of hand-in folders"
        )
    delimiter, found = csv_rows(path, RosterError, SAVE_AS)
    header: list[str] = []
    rows, lines = [], []
    for line, cells in found:
        if not header:
            header = _check_header(path, cells)
            continue
        if len(cells) > len(header) and any(cells[len(header) :]):
            raise RosterError(
                f"{path}, line {line}: {len(cells)} fields under {len(header)} columns; a "
                f'value with a {_NAMES[delimiter]} in it must be in double quotes ("Doe, Jane")'
            )
        rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False)))
        lines.append(line)
    if not header:
        raise RosterError(f"{path} is empty; export the class list from your LMS as CSV")
    roster = Roster(path, header, [], [], key="")
    roster.key = _key_column(roster, key)
    kept = [(row, line) for row, line in zip(rows, lines, strict=True) if _is_student(roster, row)]
    roster.rows, roster.lines = [r for r, _ in kept], [line for _, line in kept]
    _check_keys(roster)
    return roster


def _check_header(path: Path, cells: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for number, name in enumerate(cells, start=1):
        if name and name.casefold() in seen:
            raise RosterError(
                f"{path}: columns {seen[name.casefold()]} and {number} are both called "
                f"{name!r}; rename one so every column has its own name"
            )
        seen[name.casefold()] = number
    return [name or f"column {number}" for number, name in enumerate(cells, start=1)]


def _key_column(roster: Roster, key: str | None) -> str:
    column = roster.column(key or DEFAULT_KEY)
    if column is not None:
        return column
    columns = ", ".join(repr(h) for h in roster.header)
    if key:
        raise RosterError(
            f"{roster.path}: no column {key!r} (--roster-key) among {columns}; name the column "
            "that holds each student's hand-in folder name"
        )
    raise RosterError(
        f"{roster.path}: no {DEFAULT_KEY!r} column (its columns: {columns}). Add a column "
        f"{DEFAULT_KEY!r} with each student's hand-in folder name, or pass --roster-key COLUMN "
        "naming the column the folders are already named by (e.g. --roster-key 'SIS Login ID')"
    )


def _is_student(roster: Roster, row: dict[str, str]) -> bool:
    first = row[roster.header[0]]
    if first.casefold() == _POINTS_POSSIBLE and not row[roster.key]:
        return False  # Canvas's "    Points Possible" row
    named = [c for c in (roster.column(c) for c in IDENTITY) if c]
    # No column the kit knows names a student (a spreadsheet's own headings): any value does.
    return any(row[c] for c in [*named, roster.key]) if named else any(row.values())


def _check_keys(roster: Roster) -> None:
    """A hand-in folder named twice, even in two cases ('ann', 'Ann': one folder once the
    hand-ins pass through macOS, Windows or a zip unpacked there), is a RosterError."""
    where: dict[str, tuple[str, int]] = {}
    for row, line in zip(roster.rows, roster.lines, strict=True):
        folder = row[roster.key]
        if not folder:
            continue
        if folder.casefold() in where:
            first, earlier = where[folder.casefold()]
            if first == folder:
                raise RosterError(
                    f"{roster.path}: lines {earlier} and {line} both give the hand-in folder "
                    f"{folder!r} (column {roster.key!r}); each folder belongs to one student"
                )
            raise RosterError(
                f"{roster.path}: lines {earlier} and {line} give the hand-in folders {first!r} "
                f"and {folder!r} (column {roster.key!r}), which differ only in case: on macOS "
                "and Windows they are one folder; correct the one that is a typo"
            )
        where[folder.casefold()] = (folder, line)


@dataclass
class RosterMatch:
    """Hand-ins and roster rows paired by folder name: `matched` (folder -> row), `unknown`
    hand-in folders no row names, `absent` rows whose student handed in nothing, and for an
    unknown folder the roster folder it most resembles (`suggestions`, a likely typo)."""

    roster: Roster
    matched: dict[str, dict[str, str]]
    unknown: list[str]
    absent: list[dict[str, str]]
    suggestions: dict[str, str] = field(default_factory=dict)

    def report(self) -> list[str]:
        """Lines for the instructor: how many matched, then each kind of mismatch, named."""
        path, key = self.roster.path, self.roster.key
        lines = [f"roster {path.name} (hand-in column {key!r}): {len(self.matched)} of "
                 f"{len(self.matched) + len(self.unknown)} hand-ins matched to a student"]  # fmt: skip
        if self.unknown:
            named = [
                f"{name} (roster has {self.suggestions[name]!r})" if name in self.suggestions
                else name
                for name in self.unknown
            ]  # fmt: skip
            lines.append(f"  {len(self.unknown)} hand-in folder(s) with no roster row, left out "
                         f"of LMS exports: {', '.join(named)}")  # fmt: skip
        if self.absent:
            labels = ", ".join(self.roster.label(row) for row in self.absent)
            lines.append(f"  {len(self.absent)} student(s) on the roster with no hand-in, "
                         f"exported as missing: {labels}")  # fmt: skip
        return lines


def match_roster(roster: Roster, handins: list[str]) -> RosterMatch:
    """Pair the hand-in folder names `handins` with the roster's rows (exact names)."""
    by_folder = {row[roster.key]: row for row in roster.rows if row[roster.key]}
    matched = {name: by_folder[name] for name in handins if name in by_folder}
    unknown = [name for name in handins if name not in by_folder]
    absent = [row for row in roster.rows if row[roster.key] not in matched]
    free = [row[roster.key] for row in absent if row[roster.key]]
    suggestions = {}
    for name in unknown:
        same_case = [f for f in free if f.casefold() == name.casefold()]
        close = same_case or difflib.get_close_matches(name, free, n=1, cutoff=0.8)
        if close:
            suggestions[name] = close[0]
    return RosterMatch(roster, matched, unknown, absent, suggestions)


def kept_roster_names(grades_dir: Path) -> set[str]:
    """The hand-in folder names of the roster `kws grade --roster` kept in `grades_dir`."""
    from kws.grading.records.gradebook import ROSTER_FILE, RUN_FILE

    run_file = Path(grades_dir) / RUN_FILE
    run = json.loads(run_file.read_text()) if run_file.is_file() else {}
    if not run.get("roster") or not (Path(grades_dir) / ROSTER_FILE).is_file():
        return set()
    roster = read_roster(Path(grades_dir) / ROSTER_FILE, key=run.get("roster_key"))
    return {row[roster.key] for row in roster.rows if row[roster.key]}
