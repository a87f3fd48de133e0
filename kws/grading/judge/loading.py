"""A graded test file that cannot be loaded is the course's fault, never a grade: its points
would silently vanish, so the grader writes no results.json and exits with `BROKEN_TESTS_EXIT`
(sysexits' ``EX_CONFIG``), naming the file, its line and the fix; `kws grade` then stops the class.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

BROKEN_TESTS_EXIT = 78
CONFTEST_EXIT = 4  # pytest's usage error: what a conftest.py that cannot be loaded ends with
# How the grader says which file, on a line of its own in its output (the log `kws grade` keeps).
BROKEN_LINE = "kws grader: a graded test file cannot be loaded (the course's, not the hand-in's): "
TEST_FILES = ("test_*.py", "*_test.py", "conftest.py")  # what pytest collects of a folder


def where_broken(error: BaseException, path: Path | None) -> str:
    """``"FILE line N: Kind: message"`` for the `error` that kept the test module `path` from
    loading (pytest's CollectError is read through to the error it was raised from); the line
    is the error's own for a SyntaxError, else the last line of `path` the traceback ran."""
    if type(error).__name__ == "CollectError":
        error = error.__cause__ or error
    if isinstance(error, SyntaxError):
        where = Path(error.filename) if error.filename else path
        line = error.lineno
        said = f"{type(error).__name__}: {error.msg}"
    else:
        where, line = path, None
        for frame in traceback.extract_tb(error.__traceback__):
            if path is not None and Path(frame.filename).resolve() == Path(path).resolve():
                line = frame.lineno
        said = traceback.format_exception_only(type(error), error)[-1].strip()
    at = f" line {line}" if line else ""
    return f"{where or 'a graded test file'}{at}: {said}"


def compile_errors(folders: list[Path]) -> list[str]:
    """`where_broken` of every graded test file under `folders` (folders or files) that does not
    compile, in order; [] when all do. Compiling runs nothing: an import that fails is found
    only by the grader (`BROKEN_TESTS_EXIT`)."""
    files: list[Path] = []
    for folder in map(Path, folders):
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files += sorted({f for pattern in TEST_FILES for f in folder.rglob(pattern)})
    broken = []
    for path in files:
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:  # ValueError: a null byte
            broken.append(where_broken(error, path))
    return broken


def check_graded_tests(folders: list[Path] | None = None) -> None:
    """Refuse a run (or an autograder) whose graded test files do not all compile, before any
    hand-in is graded: the grader collects every assignment's (`folders`, default
    `kws.spec.graded_test_folders`), and a file that does not load is the course's fault,
    never a student's 0.

    Raises:
        ValueError: naming each file, its line and the error, with the fix.
    """
    from kws.spec import graded_test_folders

    broken = compile_errors(graded_test_folders() if folders is None else folders)
    if broken:
        raise ValueError(
            f"a graded test file cannot be loaded, so no hand-in can be graded: {fix_of(broken)}"
        )


def said_broken(output: str) -> list[str]:
    """What a grader that exited with `BROKEN_TESTS_EXIT` said of each file it could not load
    (the text after each `BROKEN_LINE` of its `output`), in order."""
    return [
        line.partition(BROKEN_LINE)[2].strip()
        for line in output.splitlines()
        if BROKEN_LINE in line
    ]


def conftest_broken(code: int, output: str) -> list[str]:
    """`where_broken`'s sentence for a graded tests' conftest.py that pytest could not load: it
    stops before any session starts, with exit code 4 (a usage error) and its own sentence, so
    the grader cannot say it on a `BROKEN_LINE`; [] for any other ending."""
    found = re.search(r"ImportError while loading conftest '([^']+)'", output)
    if code != CONFTEST_EXIT or found is None:
        return []
    after = output[found.end() :]
    lines = re.findall(r":(\d+): in <module>", after)
    errors = [line[1:].strip() for line in after.splitlines() if line.startswith("E ")]
    at = f" line {lines[-1]}" if lines else ""
    return [f"{found[1]}{at}: {errors[-1] if errors else 'its import failed'}"]


def fix_of(broken: list[str]) -> str:
    """The instructor's fix for the graded test files `broken` (`where_broken`'s sentences)."""
    return f"correct {'; and '.join(broken)}, then run the same command"
