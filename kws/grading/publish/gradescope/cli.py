"""`kws gradescope`. A `SettingsError` (no zip within Gradescope's limits) is a `ValueError`:
said as a mistake in what the instructor gave (`kws.verbs.say`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.grading.command import add_selection_options, selection_of
from kws.grading.season.cli import warn_or_refuse
from kws.verbs import STRICT, Arg, Verb


def _gradescope(args: argparse.Namespace) -> int:
    from kws.grading.judge.loading import check_graded_tests
    from kws.grading.publish.gradescope.autograder import make_autograder, plan, settings_advice
    from kws.grading.testsets.public_only import command_warning

    check_graded_tests()  # a zip that would grade every submission 0 of 0 is never built
    said = command_warning(args.data, args.assignment)
    if said:  # first: every student's results will say it too
        print(said, flush=True)
    if args.course is not None:  # its warnings before the zip is written (--strict: refused)
        from kws.grading.season.course import read_course
        from kws.spec import ASSIGNMENTS

        warn_or_refuse(read_course(args.course, sorted(ASSIGNMENTS)).warnings, args.strict)
    path = make_autograder(
        args.out, args.data, cpu=args.cpu, course=args.course, **selection_of(args)
    )
    print(f"wrote {path}: upload it as the assignment's autograder on Gradescope")
    print(settings_advice(plan(args.data, args.assignment, args.cpu)))
    if args.course is not None:
        from kws.grading.season.cli import course_rules

        print(course_rules(args.course))
    return 0


GRADESCOPE = Verb(
    "gradescope",
    "build the Gradescope autograder zip",
    _gradescope,
    arguments=(
        Arg("--data", type=Path, required=True, help="hidden grading data"),
        Arg("--out", type=Path, default=Path("autograder.zip")),
        Arg("--course", type=Path,
            help="course file: its [gradescope] attempts_per_day and late rule apply to every "
            "submission"),
        STRICT,
        Arg("--cpu", type=float, default=0.5, choices=[0.5, 1.0, 2.0, 4.0],
            help="the container's CPUs on Gradescope (default 0.5, its default)"),
        add_selection_options,
    ),
)  # fmt: skip
