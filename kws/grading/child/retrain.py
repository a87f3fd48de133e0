"""The re-training child (``python -m kws.grading.child.retrain RESULT_FILE run.json``): run the
whole notebook with its settings from the environment, as its `parameters` cell reads them, then
grade what it wrote as `kws.grading.child.runner` grades a hand-in. It reads only the data its
layout's ``retraining_data`` gives, never the label folders.
"""

import os
import sys
from pathlib import Path

from kws.grading.child import runner
from kws.grading.protocol.child_run import ChildRun
from kws.grading.protocol.handin import find_notebook
from kws.notebooks import execute_notebook


def main(argv: list[str] | None = None) -> None:
    """Run the whole notebook with the settings of ``argv = [RESULT_FILE, RUN_FILE]``, then grade
    what it wrote (`kws.grading.child.runner.main`, with any failure of the notebook run)."""
    token = sys.stdin.readline().strip()  # before any student code can read stdin
    argv = sys.argv[1:] if argv is None else argv
    _, run_file = runner.parse_arguments(argv)
    run = ChildRun.load(run_file)
    if run.retrain is None:
        raise SystemExit(f"{run_file} has no re-training settings (ChildRun.retrain)")
    submission = Path(run.submission)
    os.environ.update(
        KWS_DATA_DIR=run.retrain.data,
        KWS_OUT_DIR=str(submission.resolve() / run.outputs),
        KWS_STEPS=str(run.retrain.steps),
        KWS_DEVICE=str(run.device),  # as named: cpu:0 stays the stand-in for cuda
        KWS_SEED=str(run.retrain.seed),
    )
    errors = {}
    try:
        notebook = find_notebook(submission, run.notebook, list(run.classes.values()))
        execute_notebook(notebook, timeout=run.retrain.cell_timeout)
    except Exception as error:  # a failing cell, a missing notebook: reported, then graded anyway
        errors["retrain"] = _describe(error)
    runner.main(argv, token=token, errors=errors)


def _describe(error: Exception) -> str:
    """The failing cell's error in one line (nbclient puts the traceback in the message)."""
    name = getattr(error, "ename", type(error).__name__)
    value = getattr(error, "evalue", str(error).strip().splitlines()[-1:] or [""])
    value = value if isinstance(value, str) else value[0]
    return f"{name}: {value[:300]}"


if __name__ == "__main__":
    main()
