"""`kws demo`, added by `kws.cli` to its "try the kit" group, and `kws reference`, to its
"prepare a course" group:

    kws demo                         synthetic data -> reference notebooks -> grader -> score table
    kws reference [NAME ...] --data DIR [--preset P] [--seeds K ...] [--write-tiers]
                                     a course's solutions run at a budget over seeds, graded,
                                     and its accuracy tiers set from them (`kws.demo.reference`)

The handlers import `kws.demo.run` and `kws.demo.reference` when they run, so `kws --help` loads
no torch.
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


def _reference(args: argparse.Namespace) -> int:
    from kws.demo.reference import reference

    return reference(
        args.names,
        data=args.data,
        out=args.out,
        preset=args.preset,
        seeds=args.seeds,
        dataset=args.dataset,
        write=args.write_tiers,
        jobs=args.jobs,
    )


def add_reference_command(commands: argparse._SubParsersAction) -> None:
    """Add `kws reference` to `commands`, the `kws` parser's subparsers."""
    reference = commands.add_parser(
        "reference",
        help="the course's solutions run at a budget over seeds, graded, and tiers set from them",
        description="Run each solution notebook of the course (KWS_COURSE) at its spec's "
        "[budgets.PRESET] once per seed and once at a tenth of it, grade each as a student's "
        "hand-in, and set the accuracy tiers from the seeds as the kit's own are set: the target "
        "tier at most the lowest seed less 0.02 and the mean less 2.33 standard deviations; a "
        "tenth of the budget must miss full marks. --write-tiers writes the tier set into the "
        "spec and grades every run again: the reference must get full marks at every seed.",
    )
    reference.add_argument("names", nargs="*", metavar="NAME",
                           help="assignments of the course (default: every one)")  # fmt: skip
    reference.add_argument("--data", type=Path, required=True,
                           help="the data the class is graded on (with the hidden labels)")  # fmt: skip
    reference.add_argument("--out", type=Path, default=Path("reference"),
                           help="the runs' folder (default: reference/)")  # fmt: skip
    reference.add_argument("--preset", default="tiny",
                           help="the spec's [budgets.PRESET] to run at (default: tiny)")  # fmt: skip
    reference.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                           help="KWS_SEED of each run (default: 0 1 2)")  # fmt: skip
    reference.add_argument("--dataset",
                           help="the tier set's name, for data the grader does not recognise")  # fmt: skip
    reference.add_argument("--write-tiers", action="store_true",
                           help="write the tier set into each spec's [tiers], then grade again")  # fmt: skip
    reference.add_argument("--jobs", type=int, default=2,
                           help="notebooks run side by side (one torch thread each)")  # fmt: skip
    reference.set_defaults(run=_reference)


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
