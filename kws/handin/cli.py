"""The `kws` verb for students, added by `kws.cli` to its "hand in" group:

    kws handin NOTEBOOK_OR_FOLDER [--data DIR] [--out handin.zip]

checks the hand-in the way the grader reads it and writes the zip to upload
(`kws.handin.check.check_handin`). Its handler imports what it needs when it runs, so
`kws --help` loads none of it. A mistake in what the user gave is raised (`FileNotFoundError`,
`ValueError`); `kws.cli.main` prints it as `kws handin: message` and exits with 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _handin(args: argparse.Namespace) -> int:
    from kws.handin.check import check_handin

    report = check_handin(args.path, data=args.data, zip_path=args.out)
    print(report.text())
    return 0 if report.passed else 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws handin` to `commands`, the `kws` parser's subparsers."""
    handin = commands.add_parser(
        "handin",
        help="check a hand-in the way the grader reads it, and write the zip to upload",
        description="Check a notebook and its outputs/ the way the grader reads them (the "
        "grader's own tests, on a few test inputs of your data folder; accuracy is graded after "
        "you hand in), print one line per check, and write the zip holding exactly what "
        "grading uses. Exit code 1 when a check fails.",
    )
    handin.add_argument(
        "path", type=Path, help="your notebook (e.g. 02_speaker_id.ipynb), or its folder"
    )
    handin.add_argument(
        "--data",
        type=Path,
        help="the notebook's data folder (its DATA_DIR; default: what its parameters cell sets)",
    )
    handin.add_argument(
        "--out", type=Path, help="the zip to write (default: handin.zip beside the notebook)"
    )
    handin.set_defaults(run=_handin)
