"""The kit's one reader of TOML files people write (an assignment's ``spec.toml``, a course
file): the values, and where a mistake is in the file. TOML readers give values, not lines, so
the line of a key is found in the text; a misspelled name is answered with the valid one it most
resembles::

    toml = read_toml(path, text, SpecError)        # SpecError: "spec.toml, line 3: not valid
                                                   #   TOML (...)"
    toml.table["tasks"]                            # the values, as tomllib reads them
    toml.fail(("late", "per_dya"), "[late] " + unknown("per_dya", ("per_day", "cap"), "a key"))
    # -> error("course.toml, line 7: [late] 'per_dya' is not a key; did you mean per_day? ...")

Import nothing of the kit here: the specs' registry (`kws.spec`) and the course file
(`kws.grading.season.course`) both read through it.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (Ubuntu 22.04, Gradescope's default image): the same parser, from PyPI
    import tomli as tomllib

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?)\s*=""")
_WORD_QUOTES = "\u201c\u201d\u2018\u2019\u201e"  # “ ” ‘ ’ „


def _parts(dotted: str) -> tuple[str, ...]:
    """``a."b.c".d`` as ("a", "b.c", "d")."""
    found = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.]+)', dotted)
    return tuple((quoted or single or bare).strip() for quoted, single, bare in found)


def _shared(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many leading names `a` and `b` share."""
    count = 0
    for x, y in zip(a, b, strict=False):  # a path and a shorter line's names
        if x != y:
            break
        count += 1
    return count


def line_of(text: str, *path: str) -> int | None:
    """The line (from 1) of the TOML `text` where the key or table `path` is given.

    Args:
        text: the file's text.
        *path: the key's names from the top, e.g. ``("late", "cap")`` for ``cap`` under
            ``[late]``, or ``("tasks", "task1", "rules", "layer_class")``.

    Returns:
        the line of ``[table]`` or ``key =`` (a dotted key too); else of the key's last name
        set (``name =``, inside an inline table too) after the nearest line that gives a part
        of `path`; None when it is not in the file.
    """
    lines = text.splitlines()
    table: tuple[str, ...] = ()
    nearest, start = 0, 0  # the most names of `path` a line gave, and that line (from 0)
    for number, line in enumerate(lines, start=1):
        if header := _HEADER.match(line):
            given = table = _parts(header[1])
            if table == path:
                return number
        elif key := _KEY.match(line):
            given = table + _parts(key[1])
            if given[: len(path)] == path:
                return number
        else:
            continue
        if len(given) <= len(path) and _shared(given, path) == len(given) > nearest:
            nearest, start = len(given), number - 1
    word = re.compile(rf"""(^|[\s{{,."'])({re.escape(path[-1])})["']?\s*=""")
    found = (n for n in range(start, len(lines)) if word.search(lines[n].split("#", 1)[0]))
    return next((n + 1 for n in found), None)


def where(path: Path, text: str, *key: str) -> str:
    """``path, line N`` of the key `key` in the TOML `text` of the file `path` (``path`` alone
    where it is not in the file)."""
    line = line_of(text, *key) if key else None
    return f"{path}, line {line}" if line else str(path)


def closest(name: str, valid: Sequence[str]) -> str | None:
    """The valid name `name` most likely meant (the same letters in another case, or close),
    or None."""
    same = [v for v in valid if v.casefold() == name.casefold()]
    return (same or difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6) or [None])[0]


def unknown(name: str, valid: Sequence[str], what: str) -> str:
    """The end of a message for a name not in `valid`: the closest one and the valid ones, e.g.
    ``'per_dya' is not a key of [late]; did you mean per_day? (valid: per_day, cap, count)``."""
    guess = closest(name, valid)
    hint = f"did you mean {guess}? " if guess else ""
    return f"{name!r} is not {what}; {hint}(valid: {', '.join(valid)})"


@dataclass(frozen=True)
class Toml:
    """A TOML file read: where it is, its text, its values, and the error its mistakes raise.

    Attributes:
        path: the file as the user gave it (every message names it).
        text: its text.
        table: its values, as tomllib reads them.
        error: the exception a mistake in it raises (`SpecError`, `CourseError`).
    """

    path: Path
    text: str
    table: dict
    error: type[Exception]

    def where(self, *key: str) -> str:
        """``path, line N`` of the key `key` (``path`` alone where it is not in the file)."""
        return where(self.path, self.text, *key)

    def fail(self, key: Sequence[str], message: str) -> Exception:
        """The error saying `message` at the key `key`: ``path, line N: message``."""
        return self.error(f"{self.where(*key)}: {message}")


def read_toml(path: Path, text: str, error: type[Exception]) -> Toml:
    """The TOML `text` of the file `path`, read; `error` at its first syntax mistake.

    Args:
        path: the file, as the user gave it.
        text: its text (read by the caller, which knows the encodings its users save in).
        error: what a mistake raises.

    Returns:
        the file read.

    Raises:
        error: not valid TOML: the message gives the file, the line, what the reader said and,
            for a word processor's quotes (“...”), which TOML does not read as quotes, the fix.
    """
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as mistake:
        at = re.search(r"\(at line (\d+), column \d+\)", str(mistake))
        lines = text.splitlines()
        line = int(at[1]) if at else None
        place = f"{path}, line {line}" if line else str(path)
        fix = ""
        if line and line <= len(lines) and any(q in lines[line - 1] for q in _WORD_QUOTES):
            fix = '; “ ” and ‘ ’ are a word processor\'s quotes: write straight ones, "..."'
        raise error(f"{place}: not valid TOML ({mistake}){fix}") from None
    return Toml(Path(path), text, table, error)
