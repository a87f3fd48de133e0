"""The grading child of nbgrader's autograded test cells (``python -m kws.grading.child.autograded
RESULT_FILE autograded.json``): every code cell runs top to bottom in one fresh ``__main__``, as
nbgrader's autograde does, each graded test cell replaced by the instructor's source (what a
student edited in it counts for nothing). A test cell passes when it raises nothing; one the
notebook no longer holds fails.
"""

import contextlib
import os
import sys
import traceback
from pathlib import Path

from kws.grading.child import kernel
from kws.grading.child.channel import ResultChannel
from kws.grading.protocol.autograded import AutogradedRun
from kws.grading.protocol.handin import find_notebook, relative

MISSING = "the notebook no longer holds this test cell (its nbgrader grade_id); hand in the " \
    "notebook you were given, its test cells kept"  # fmt: skip


def run_test_cells(notebook: Path, tests: dict[str, str]) -> dict[str, str | None]:
    """Run `notebook`'s code cells in order in a fresh module ``__main__`` (a kernel's names and
    input history, IPython lines made calls that do nothing), the cell of each ``grade_id`` of
    `tests` replaced by its source there. Returns {grade_id: None, or the error in one line}."""
    from kws.notebooks import python_source, read_notebook

    nb = read_notebook(notebook)
    namespace, shell = kernel.main_namespace()
    verdicts: dict[str, str | None] = dict.fromkeys(tests, MISSING)
    seen = set()  # a second cell of one grade_id (a copy) runs as written
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        grade_id = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        graded = grade_id in tests and grade_id not in seen
        seen |= {grade_id} if graded else set()
        raw = tests[grade_id] if graded else cell.source
        source = python_source(raw)
        kernel.record_input(namespace, raw, source)
        shell.filename = f"<cell {number}>"
        try:
            exec(compile(source, shell.filename, "exec"), namespace)
            error = None
        except (Exception, SystemExit) as raised:  # student code: anything can come out
            error = _error(raised, shell.filename)
        if graded:
            verdicts[grade_id] = error
    return verdicts


def _error(error: BaseException, filename: str) -> str:
    """One line: the exception, its message and the line of the cell that raised it (never
    the line's text: a hidden test stays hidden)."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    text = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__
    return f"{message} (line {line} of the test cell)" if line else message


def main(argv: list[str] | None = None) -> None:
    """Grade the test cells ``argv = [RESULT_FILE, RUN_FILE]`` asks for (`AutogradedRun`).

    Never returns: the result is written and the process ends (`ResultChannel.send`).
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(f"usage: python -m {__name__} RESULT RUN")
    channel = ResultChannel.open(Path(argv[0]))  # before any student code can read stdin
    run = AutogradedRun.load(Path(argv[1]))
    with contextlib.suppress(OSError):  # the hidden tests, off the disk before student code runs
        Path(argv[1]).unlink()  # (they stay in memory)
    submission = Path(run.submission).resolve()
    kernel.look_like_a_kernel()
    payload = {"notebook": None, "errors": {}, "cells": {}}
    try:
        notebook = find_notebook(submission, run.notebook, [])
        payload["notebook"] = relative(notebook, submission)
    except (Exception, SystemExit) as error:
        payload["errors"]["notebook"] = f"{type(error).__name__}: {error}"
    else:
        os.chdir(notebook.parent)  # where the notebook's relative paths point, as in Jupyter
        with kernel.hidden_modules("kws.grading"):
            payload["cells"] = run_test_cells(notebook, run.tests)
    channel.send(payload)


if __name__ == "__main__":
    main()
