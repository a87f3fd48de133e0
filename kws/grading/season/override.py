"""The verb `kws override`: a person's points for one autograded test of one student, recorded
in ``overrides.csv`` (`kws.grading.records.overrides`) and counted in the grades at once.

    kws override grades alice "ks task" 8 --reason "the test timed out on a loaded machine"
    kws override grades alice "ks task" --withdraw --reason "the regrade passes it"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.grading.season.cli import grades_folder_faults, points_given, print_season
from kws.verbs import GRADES, WAIT, Arg, Verb


def _override(args: argparse.Namespace) -> int:
    from kws.grading.records.grades import read_grades, test_assignment
    from kws.grading.records.overrides import (
        OVERRIDES_FILE,
        new_override,
        read_overrides,
        standing_overrides,
    )
    from kws.grading.season.apply import apply_season

    if (args.points is None) == (not args.withdraw):
        raise ValueError("give the test's new POINTS, or --withdraw to count the grader's again "
                         "(not both)")  # fmt: skip
    points = points_given(args.points) if args.points is not None else None
    student = _student(read_grades(args.grades), args.student, args.grades)
    tests = {t["name"]: t for t in student.tests}
    if args.test not in tests:
        raise ValueError(f"{args.student}'s results have no test {args.test!r}; their tests: "
                         f"{', '.join(repr(t) for t in tests)} (the gradebook's column "
                         "names)")  # fmt: skip
    standing = standing_overrides(read_overrides(args.grades)).get((args.student, args.test))
    if args.withdraw and standing is None:
        raise ValueError(f"{args.student}'s test {args.test!r} has no override to withdraw "
                         f"(see {Path(args.grades) / OVERRIDES_FILE})")  # fmt: skip
    override = new_override(args.student, tests[args.test], points, args.reason, args.who)
    same = standing is not None and (standing.points, standing.reason, standing.original) == (
        override.points, override.reason, override.original)  # fmt: skip
    if same:  # the command run again: one override, recorded once
        print(f"{args.student} {args.test!r}: {override.points:g} ({override.reason}) was "
              f"recorded already, by {standing.who} at {standing.when}; nothing changed")  # fmt: skip
        return 0
    standings = apply_season(args.grades, override=override, command="kws override",
                             wait=args.wait)  # fmt: skip
    name = test_assignment(tests[args.test])
    now = f"{override.points:g}" if override.points is not None else f"{override.original:g} again"
    said = f"{args.student} {args.test!r}: graded {override.original:g}, counts {now} of " \
           f"{float(tests[args.test]['max_score']):g}"  # fmt: skip
    entry = standings.of(args.student, name) if name else None
    if entry is not None:
        said += f"; {name} raw {entry.raw:g}, final {entry.final:g} of {entry.maximum:g}"
    print(f"{said} (recorded in {Path(args.grades) / OVERRIDES_FILE})")
    if tests[args.test].get("visibility", "visible") != "visible":
        print(f"{args.test!r} is not shown to students: their feedback page lists the override "
              "as 'a test not shown here' with your reason, so let the reason give nothing of "
              "the test away")  # fmt: skip
    print_season(args.grades, standings)
    return 0


def _student(grades, name: str, folder: Path):
    """The graded student `name` of `grades`; ValueError naming the students, or why this one
    has no tests to override."""
    from kws.spec.toml import closest

    found = {s.name: s for s in grades.students}
    if name not in found:
        guess = closest(name, sorted(found))
        hint = f"did you mean {guess!r}? " if guess else ""
        raise ValueError(f"{name!r} is not in {folder}'s gradebook; {hint}its students: "
                         f"{', '.join(sorted(found))}")  # fmt: skip
    if found[name].ungraded:
        raise ValueError(f"{name} has no graded tests to override ({found[name].ungraded}); "
                         f"grade the hand-in again, or change the grade with `kws adjust`")  # fmt: skip
    return found[name]


OVERRIDE = Verb(
    "override",
    "a person's points for one autograded test of one student",
    _override,
    faults=grades_folder_faults("grades"),
    arguments=(
        GRADES,
        Arg("student", help="the student's name in the gradebook"),
        Arg("test", help="the test, as the gradebook's column names it (quote it: \"ks task\")"),
        Arg("points", nargs="?",
            help="the points the test counts, from 0 to its maximum (e.g. 8 or 7.5)"),
        Arg("--withdraw", action="store_true",
            help="count the grader's points again (the override stays in the file's history)"),
        Arg("--reason", required=True, help="why, in a sentence the student reads"),
        Arg("--who", help="who decided (default: your login name)"),
        WAIT,
    ),
)  # fmt: skip
