"""The course file's keys: which exist at each level, the valid key a misspelled one most
resembles, and the line of the file a key is on (TOML readers give values, not lines).

    check_keys(path, text, table)   # CourseError: "course.toml, line 7: [late] per_dya is not
                                    #   a key of [late]; did you mean per_day? ..."

`kws.grading.season.course` reads the values; this module only says where a mistake is.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

# Each table of the course file and its keys; None: the keys are assignment names (checked by
# `kws.grading.season.course`) or, for [extensions], hand-in folder names.
TOP = ("timezone", "grace_minutes", "grace_days", "late", "due", "release", "extensions",
       "gradescope")  # fmt: skip
TABLES = {
    "late": ("per_day", "cap", "count"),
    "gradescope": ("attempts_per_day", "public_share", "split_seed"),
    "due": None,
    "release": None,
    "extensions": None,
}
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?)\s*=""")


def _parts(dotted: str) -> tuple[str, ...]:
    """``a."b.c".d`` as ("a", "b.c", "d")."""
    found = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.]+)', dotted)
    return tuple((quoted or single or bare).strip() for quoted, single, bare in found)


def line_of(text: str, *path: str) -> int | None:
    """The line (from 1) of `text` where the key or table `path` is given, or None."""
    lines = text.splitlines()
    table: tuple[str, ...] = ()
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            table = _parts(header[1])
            if table == path:
                return number
            continue
        key = _KEY.match(line)
        if key and (table + _parts(key[1]))[: len(path)] == path:
            return number
    word = re.compile(rf"""(^|[\s{{,."'])({re.escape(path[-1])})["']?\s*=""")
    return next((n for n, line in enumerate(lines, start=1) if word.search(line)), None)


def where(path: Path, text: str, *key: str) -> str:
    """``path, line N`` for the key `key` of the course file (``path`` alone if not found)."""
    line = line_of(text, *key)
    return f"{path}, line {line}" if line else str(path)


def closest(name: str, valid: list[str] | tuple[str, ...]) -> str | None:
    """The valid name `name` most likely meant (same letters in another case, or close)."""
    same = [v for v in valid if v.casefold() == name.casefold()]
    return (same or difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6) or [None])[0]


def unknown(name: str, valid: list[str] | tuple[str, ...], what: str) -> str:
    """The end of a message for a name not in `valid`: the closest one and the valid ones."""
    guess = closest(name, valid)
    hint = f"did you mean {guess}? " if guess else ""
    return f"{name!r} is not {what}; {hint}(valid: {', '.join(valid)})"


def check_keys(path: Path, text: str, table: dict, error: type[ValueError]) -> None:
    """Raise `error` at the first key of the course file `table` (read from `text`) that is
    not one of the file's keys, or a table given as a value; the message names the file, the
    line, the key, the closest valid key and the fix."""
    for key, value in table.items():
        if key not in TOP:
            raise error(
                f"{where(path, text, key)}: {unknown(key, TOP, 'a key of the course file')}"
            )
        if key in TABLES and not isinstance(value, dict):
            raise error(f"{where(path, text, key)}: {key} = {value!r}; [{key}] is a table: "
                        f"write it as a line [{key}] with its keys below")  # fmt: skip
        if key not in TABLES and isinstance(value, dict):
            raise error(f"{where(path, text, key)}: [{key}] is a table, but {key} is a value "
                        f"(e.g. {key} = ...) written above the first [table]")  # fmt: skip
        valid = TABLES.get(key)
        for inner in value if valid is not None else ():
            if inner not in valid:
                place = where(path, text, key, inner)
                raise error(f"{place}: [{key}] {unknown(inner, valid, f'a key of [{key}]')}")
    for student, granted in table.get("extensions", {}).items():
        if not isinstance(granted, dict):
            raise error(f"{where(path, text, 'extensions', student)}: extensions.{student} = "
                        f"{granted!r}; write the student's table as [extensions.{student}] "
                        "with a line assignment = due date below it")  # fmt: skip
