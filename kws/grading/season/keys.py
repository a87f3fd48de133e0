"""The course file's keys: which exist at each level (where a mistake is, and the valid key a
misspelled one most resembles: `kws.spec.toml`, the kit's one reader of TOML files).

    check_keys(toml)   # CourseError: "course.toml, line 7: [late] 'per_dya' is not a key of
                       #   [late]; did you mean per_day? ..."

`kws.grading.season.course` reads the values; this module only checks the keys.
"""

from __future__ import annotations

from kws.spec.toml import Toml, unknown

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


def check_keys(toml: Toml) -> None:
    """Raise the file's error at the first key of the course file `toml` that is not one of
    the file's keys, or a table given as a value; the message names the file, the line, the
    key, the closest valid key and the fix.

    Args:
        toml: the course file, read (`kws.spec.toml.read_toml`).
    """
    for key, value in toml.table.items():
        if key not in TOP:
            raise toml.fail((key,), unknown(key, TOP, "a key of the course file"))
        if key in TABLES and not isinstance(value, dict):
            raise toml.fail((key,), f"{key} = {value!r}; [{key}] is a table: "
                            f"write it as a line [{key}] with its keys below")  # fmt: skip
        if key not in TABLES and isinstance(value, dict):
            raise toml.fail((key,), f"[{key}] is a table, but {key} is a value "
                            f"(e.g. {key} = ...) written above the first [table]")  # fmt: skip
        valid = TABLES.get(key)
        for inner in value if valid is not None else ():
            if inner not in valid:
                raise toml.fail(
                    (key, inner), f"[{key}] {unknown(inner, valid, f'a key of [{key}]')}"
                )
    for student, granted in toml.table.get("extensions", {}).items():
        if not isinstance(granted, dict):
            raise toml.fail(("extensions", student), f"extensions.{student} = {granted!r}; write "
                            f"the student's table as [extensions.{student}] with a line "
                            "assignment = due date below it")  # fmt: skip
