"""`Id,Category` CSV files however they were saved: the hidden test labels an instructor keeps and
the predictions a student hands in (Excel, pandas, a text editor on Windows)."""

import csv
from pathlib import Path


def read_labels_rows(path: Path) -> list[tuple[int, str, str]]:
    """(line number, Id, Category) of every row of an `Id,Category` CSV, however it was saved.

    Spreadsheets and pandas add things a clean file lacks; all are accepted: a UTF-8 byte-order
    mark (Excel), CRLF line ends, quoted fields, spaces around fields, blank lines, an empty
    trailing column (``a,b,``) and the unnamed index column of ``DataFrame.to_csv()``. Rows may
    come in any order. ValueError names the file, the line and the fix for anything else.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            rows = [(reader.line_num, [c.strip() for c in row]) for row in reader]
    except UnicodeDecodeError:
        raise ValueError(
            f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8' (or write it with pandas)"
        ) from None
    except csv.Error as error:
        raise ValueError(f"{path.name} is not a readable CSV file ({error})") from None
    rows = [(number, row) for number, row in rows if any(row)]  # blank lines
    if not rows or [c.lower() for c in rows[0][1] if c] != ["id", "category"]:
        raise ValueError(f"{path.name}: the first line must be the header Id,Category")
    skip = 1 if rows[0][1][0] == "" else 0  # pandas' unnamed index column
    table = []
    for number, row in rows[1:]:
        cells = row[skip:]
        while len(cells) > 2 and cells[-1] == "":
            cells = cells[:-1]
        if len(cells) != 2:
            raise ValueError(
                f"{path.name}, line {number}: expected 2 columns (Id,Category), got {len(cells)}"
            )
        table.append((number, cells[0], cells[1]))
    return table


def read_labels_csv(path: Path) -> dict[str, str]:
    """Read an ``Id,Category`` CSV: hidden labels, or a student's predictions.

    Args:
        path: the CSV file.

    Returns:
        {Id: Category}.

    Raises:
        ValueError: the file is not such a CSV, or an Id is given twice (naming both lines).

    Example:
        ```python
        predicted = read_labels_csv(csv)  # {"uttr-0.pt": "id10001", ...}
        ```
    """
    table, lines = {}, {}
    for number, key, category in read_labels_rows(path):
        if key in table:
            raise ValueError(
                f"{path.name}, line {number}: Id {key!r} appears twice (also line {lines[key]})"
            )
        table[key], lines[key] = category, number
    return table
