"""`kws handin`, the verb for students (`kws.cli` lists it under "hand in"):

    kws handin NOTEBOOK_OR_FOLDER [--data DIR] [--out handin.zip]

checks the hand-in the way the grader reads it and writes the zip to upload
(`kws.handin.check.check_handin`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.verbs import Arg, Verb


def _handin(args: argparse.Namespace) -> int:
    from kws.handin.check import check_handin

    report = check_handin(args.path, data=args.data, zip_path=args.out)
    print(report.text())
    return 0 if report.passed else 1


HANDIN = Verb(
    "handin",
    "check a hand-in the way the grader reads it, and write the zip to upload",
    _handin,
    description="Check a notebook and its outputs/ the way the grader reads them (the "
    "grader's own tests, on a few test inputs of your data folder; accuracy is graded after "
    "you hand in), print one line per check, and write the zip holding exactly what "
    "grading uses. Exit code 1 when a check fails.",
    arguments=(
        Arg("path", type=Path, help="your notebook (e.g. 02_speaker_id.ipynb), or its folder"),
        Arg("--data", type=Path,
            help="the notebook's data folder (its DATA_DIR; default: what its parameters cell "
            "sets)"),
        Arg("--out", type=Path, help="the zip to write (default: handin.zip beside the notebook)"),
    ),
)  # fmt: skip
