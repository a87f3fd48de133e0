"""`kws demo` (`kws.cli` lists it under "try the kit") and `kws reference` (under "prepare a
course"):

    kws demo                         synthetic data -> reference notebooks -> grader -> score table
    kws reference [NAME ...] --data DIR [--preset P] [--seeds K ...] [--write-tiers]
                                     a course's solutions run at a budget over seeds, graded,
                                     and its accuracy tiers set from them (`kws.demo.reference`)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.i18n import language_option
from kws.verbs import NAMES, PRESET, SEED, Arg, Verb


def _demo(args: argparse.Namespace) -> int:
    from kws.demo.run import run_demo

    return run_demo(
        out=args.out,
        preset=args.preset,
        seed=args.seed,
        grade=not args.no_grade,
        parallel=not args.one_at_a_time,
        language=args.language,
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


DEMO = Verb(
    "demo",
    "synthetic data -> reference notebooks -> grader -> score table",
    _demo,
    arguments=(
        Arg("--out", type=Path, default=Path("kws-demo"), help="output folder"),
        PRESET,
        SEED,
        Arg("--no-grade", action="store_true", help="skip grading the reference"),
        Arg("--one-at-a-time", action="store_true",
            help="run the notebooks one after the other, their output shown as it comes"),
        Arg("--language", type=language_option,
            help="the score tables' language, as a student of the course reads them (a BCP 47 "
            "tag: zh-TW, pl; default: KWS_LANGUAGE's, else English)"),
    ),
)  # fmt: skip

REFERENCE = Verb(
    "reference",
    "the course's solutions run at a budget over seeds, graded, and tiers set from them",
    _reference,
    description="Run each solution notebook of the course (KWS_COURSE) at its spec's "
    "[budgets.PRESET] once per seed and once at a tenth of it, grade each as a student's "
    "hand-in, and set the accuracy tiers from the seeds as the kit's own are set: the target "
    "tier at most the lowest seed less 0.02 and the mean less 2.33 standard deviations; a "
    "tenth of the budget must miss full marks. --write-tiers writes the tier set into the "
    "spec and grades every run again: the reference must get full marks at every seed.",
    arguments=(
        NAMES,
        Arg("--data", type=Path, required=True,
            help="the data the class is graded on (with the hidden labels)"),
        Arg("--out", type=Path, default=Path("reference"),
            help="the runs' folder (default: reference/)"),
        Arg("--preset", default="tiny", help="the spec's [budgets.PRESET] to run at (default: tiny)"),
        Arg("--seeds", type=int, nargs="+", default=[0, 1, 2],
            help="KWS_SEED of each run (default: 0 1 2)"),
        Arg("--dataset", help="the tier set's name, for data the grader does not recognise"),
        Arg("--write-tiers", action="store_true",
            help="write the tier set into each spec's [tiers], then grade again"),
        Arg("--jobs", type=int, default=2, help="notebooks run side by side (one torch thread each)"),
    ),
)  # fmt: skip
