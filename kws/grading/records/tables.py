"""The CSV files an instructor gives the kit (a roster, a times file, ``adjustments.csv`` edited
by hand), read as Excel, an LMS or a text editor saves them, and the CSV files the kit writes
for a spreadsheet or an LMS to read.

    delimiter, rows = csv_rows(Path("roster.csv"), RosterError, "save it as CSV UTF-8 ...")
    for line, cells in rows: ...          # the header first; blank rows left out
    open(out, "w", newline="", encoding=SPREADSHEET_ENCODING)   # a CSV Excel reads right

Text: UTF-8 with or without Excel's byte-order mark ("CSV UTF-8"), or UTF-16 with one
("Unicode text"), through `decode_text`. A file in a Windows code page (Excel's plain "CSV
(Comma delimited)": Big5/cp950 where Windows is set to Traditional Chinese, cp1250 where it is
Polish) is refused naming the file, the line and how to save it as CSV UTF-8, never guessed: the
same bytes are often valid in both (a Polish "Łu" in cp1250 is one Chinese character in cp950),
so a guess would turn names into other names without a word.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kws.grading.records.files import decode_text

# The encoding of what the kit writes for spreadsheets and LMSs: UTF-8 with a byte-order mark,
# which Excel needs to read it as UTF-8 (without one it takes the Windows code page, and
# Chinese or Polish names come out as mojibake); Canvas and Moodle import it (docs/how-to/lms.md).
SPREADSHEET_ENCODING = "utf-8-sig"


def delimiter_of(text: str) -> tuple[str, str, int]:
    """(delimiter, text without Excel's ``sep=X`` line, lines left out before it): the one that
    line names, else the separator most used in the first line outside quotes, among comma,
    semicolon and tab."""
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        return first.strip()[4], rest, 1
    outside = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
    counts = {d: outside.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return (best if counts[best] else ","), text, 0


def csv_rows(
    path: Path, error: type[ValueError], advice: str
) -> tuple[str, list[tuple[int, list[str]]]]:
    """The rows of the CSV at `path` as it was saved (the module docstring; commas, semicolons
    or tabs, Excel's ``sep=`` line, quoted fields with line breaks).

    Args:
        path: the file, named in messages as given.
        error: the exception to raise for a file that is not text the kit reads.
        advice: what that message tells the instructor to do (how to save it as CSV UTF-8).

    Returns:
        (its delimiter, [(the file's line the row ends on, its cells with the spaces around
        them removed)]), the header first, rows of empty cells left out."""
    delimiter, text, skipped = delimiter_of(decode_text(path, error, advice))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    for cells in reader:
        cells = [c.strip() for c in cells]
        if any(cells):  # not a blank line, nor a row of empty cells a spreadsheet kept
            rows.append((reader.line_num + skipped, cells))
    return delimiter, rows
