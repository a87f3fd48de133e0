"""`kws demo`, added by `kws.cli` to its "try the kit" group:

    kws demo                         synthetic data -> reference notebooks -> grader -> score table

The handler imports `kws.demo.run` when it runs, so `kws --help` loads no torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from kws.demo.run import run_demo

    return run_demo(
        out=args.out,
        preset=args.preset,
        seed=args.seed,
        grade=not args.no_grade,
        parallel=not args.one_at_a_time,
    )


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws demo` to `commands`, the `kws` parser's subparsers."""
    demo = commands.add_parser(
        "demo", help="synthetic data -> reference notebooks -> grader -> score table"
    )
    demo.add_argument("--out", type=Path, default=Path("kws-demo"), help="output folder")
    demo.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-grade", action="store_true", help="skip grading the reference")
    demo.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="run the notebooks one after the other, their output shown as it comes",
    )
    demo.set_defaults(run=_demo)
