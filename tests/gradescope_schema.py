"""Gradescope's results.json specification, as a checker: `problems(document)` lists every way a
document departs from what Gradescope's autograder reads (an empty list: it conforms).

Top level: ``score`` (number; required unless every test has one), ``execution_time`` (number),
``output`` (string), ``output_format`` / ``test_output_format`` (text, html, simple_format, md,
ansi), ``test_name_format`` (text, html, md), ``visibility`` and ``stdout_visibility`` (visible,
hidden, after_due_date, after_published), ``extra_data`` (object), ``tests`` (list of objects) and
``leaderboard`` (list of ``{name: string, value: number or string, order?: "asc" | "desc"}``).
A test: ``max_score`` and ``score`` (numbers), ``status`` (passed, failed), ``name`` /
``number`` / ``output`` (strings), ``tags`` (list of strings), ``visibility``, ``extra_data``.
No other keys are read; an unknown one is reported, as is a boolean where a number belongs.
"""

from __future__ import annotations

import math

VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}
OUTPUT_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
NAME_FORMATS = {"text", "html", "md"}
TOP = {
    "score": "number",
    "execution_time": "number",
    "output": "string",
    "output_format": OUTPUT_FORMATS,
    "test_output_format": OUTPUT_FORMATS,
    "test_name_format": NAME_FORMATS,
    "visibility": VISIBILITY,
    "stdout_visibility": VISIBILITY,
    "extra_data": "object",
    "tests": "list",
    "leaderboard": "list",
}
TEST = {
    "score": "number",
    "max_score": "number",
    "status": {"passed", "failed"},
    "name": "string",
    "name_format": NAME_FORMATS,
    "number": "string",
    "output": "string",
    "output_format": OUTPUT_FORMATS,
    "tags": "list",
    "visibility": VISIBILITY,
    "extra_data": "object",
}
LEADERBOARD = {"name": "string", "value": "number or string", "order": {"asc", "desc"}}


def _is(value, kind) -> bool:
    if isinstance(kind, set):
        return value in kind
    number = isinstance(value, int | float) and not isinstance(value, bool)
    number = number and math.isfinite(value)
    return {
        "number": number,
        "string": isinstance(value, str),
        "number or string": number or isinstance(value, str),
        "object": isinstance(value, dict),
        "list": isinstance(value, list),
    }[kind]


def _check(entry, schema: dict, where: str) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where} is a {type(entry).__name__}, not an object"]
    found = []
    for key, value in entry.items():
        if key not in schema:
            found.append(f"{where}: unknown key {key!r}")
        elif not _is(value, schema[key]):
            kind = schema[key] if isinstance(schema[key], str) else sorted(schema[key])
            found.append(f"{where}.{key} = {value!r} is not {kind}")
    return found


def problems(document) -> list[str]:
    """Every departure of `document` (parsed results.json) from Gradescope's specification."""
    found = _check(document, TOP, "results")
    if found and not isinstance(document, dict):
        return found
    tests = document.get("tests", [])
    if "score" not in document and not all(isinstance(t, dict) and "score" in t for t in tests):
        found.append("results: no total score, and not every test has a score")
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        found += _check(test, TEST, f"tests[{i}]")
        if isinstance(test, dict) and "score" in test and "max_score" not in test:
            found.append(f"tests[{i}]: a score without max_score")
        tags = test.get("tags", []) if isinstance(test, dict) else []
        if isinstance(tags, list) and not all(isinstance(tag, str) for tag in tags):
            found.append(f"tests[{i}].tags: not all strings")
    for i, entry in enumerate(document.get("leaderboard", []) or []):
        found += _check(entry, LEADERBOARD, f"leaderboard[{i}]")
        if isinstance(entry, dict) and not {"name", "value"} <= set(entry):
            found.append(f"leaderboard[{i}]: needs both name and value")
    return found
