"""The files ``kws assign`` makes from an assignment's spec and solution notebook
(`planned_files`): what the author does not write by hand.

- ``graded_tests/test_spec.py``: the graded tests the spec declares, in one line
  (`kws.grading.judge.declared.spec_tests`), and ``graded_tests/test_numeric.py`` for its
  ``[numeric]`` checks (`kws.grading.judge.verdicts.numeric_tests`);
- the ``__init__.py`` of the folder and of ``graded_tests/`` (the grader imports the tests
  through them);
- the student notebook, in the course's ``students/`` (`kws.release.notebooks`).

A file the author wrote is never replaced: the graded test modules and ``__init__.py`` files
are written only where they are missing; the student notebook is what the solution notebook
makes, so it is rewritten when that changes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from kws.release.notebooks import student_notebook
from kws.spec import GRADED_TESTS_FOLDER, NumericTest, Spec

SPEC_TESTS = '''"""The graded tests {name}'s spec.toml declares (written by `kws assign`): model loads, its
rules and limits, accuracy by tier. A test of the same name written in another module of this
folder replaces the declared one."""

from kws.author import spec_of, spec_tests

globals().update(spec_tests(spec_of(__file__), __file__))
'''
NUMERIC_TESTS = '''"""The graded tests of {name}'s numeric checks, declared in spec.toml [numeric.<test name>]
(written by `kws assign`)."""

from kws.author import numeric_tests, spec_of

globals().update(numeric_tests(spec_of(__file__), __file__))
'''
FOLDER_INIT = '''"""{title}: one assignment folder (spec.toml, checks.py, graded_tests/)."""
'''
TESTS_INIT = '''"""The graded tests of {name}, run by the grader (`kws grade`, `kws handin`, Gradescope)."""
'''


def planned_files(spec: Spec, solution: Path, students: Path) -> dict[Path, str]:
    """{path: text} of every file ``kws assign`` would write for `spec` (see the module): those
    missing, and the student notebook (into `students`) when it differs from what
    `solution` makes."""
    tests = spec.folder / GRADED_TESTS_FOLDER
    wanted = {
        spec.folder / "__init__.py": FOLDER_INIT.format(title=spec.title),
        tests / "__init__.py": TESTS_INIT.format(name=spec.name),
        tests / "test_spec.py": SPEC_TESTS.format(name=spec.name),
    }
    if any(test.file == NumericTest.file for test in spec.numeric.values()):
        wanted[tests / NumericTest.file] = NUMERIC_TESTS.format(name=spec.name)
    planned = {path: text for path, text in wanted.items() if not path.is_file()}
    student = students / spec.notebook
    text = nbformat.writes(student_notebook(solution, spec))
    if not student.is_file() or student.read_text(encoding="utf-8") != text:
        planned[student] = text
    return planned


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write `files` ({path: text}), folders made as needed; the paths written."""
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
