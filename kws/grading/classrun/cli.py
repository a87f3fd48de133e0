"""The `kws` verbs that grade a class, `kws grade` and `kws merge` (`kws.cli` lists them under
"grade"). A run that stops early exits with 130 (Ctrl-C), 143 (SIGTERM) or 1 (a fault of the
grading machine), as docs/how-to/grade-class.md says.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from kws.grading.command import add_selection_options
from kws.grading.season.cli import grades_folder_faults
from kws.verbs import FILE_TIMES, FUTURE_TIMES, ROSTER_KEY, STRICT, WAIT, Arg, Verb


def _stops() -> tuple[type[BaseException], ...]:
    """How a `kws grade` run stops early, saying what it graded and kept: Ctrl-C (exit code 130)
    or SIGTERM (143), a fault of the grading machine under a grader (1)."""
    from kws.grading.classrun.graders import GraderFault, RunStopped

    return RunStopped, GraderFault


def _grade(args: argparse.Namespace) -> int:
    from kws.grading.classrun.batch import grade_class
    from kws.grading.classrun.plan import plan_run
    from kws.grading.classrun.regrade import regrade
    from kws.grading.classrun.shards import Shard
    from kws.grading.records.gradebook import safe_name
    from kws.grading.records.roster import read_roster
    from kws.grading.season.cli import print_season

    if args.roster_key and not args.roster:
        raise ValueError("--roster-key names a column of the --roster FILE; pass both")
    if args.student is not None and (args.shard is not None or args.roster is not None):
        raise ValueError("--student regrades one hand-in; leave out --shard and --roster")
    shard = Shard.parse(args.shard) if args.shard is not None else None
    roster = read_roster(args.roster, key=args.roster_key) if args.roster else None
    plan = plan_run(args.submissions, args.data, args.out, assignment=args.assignment,
                    dataset=args.dataset, tiers=args.tiers, student=args.student, shard=shard,
                    roster=roster, course=args.course, times=args.times,
                    file_times=args.file_times, strict=args.strict,
                    accept_future_times=args.accept_future_times,
                    say=functools.partial(print, flush=True))  # fmt: skip
    if args.student is not None:
        earlier = (plan.out / "results" / f"{safe_name(args.student)}.json").is_file()
        gradebook, standings = regrade(plan, timeout=args.timeout, wait=args.wait)
    else:
        gradebook, standings = grade_class(plan, jobs=args.jobs, timeout=args.timeout,
                                           wait=args.wait)  # fmt: skip
    print(f"gradebook: {gradebook}")
    if args.student is not None and earlier:
        print(f"{args.student} regraded; the earlier result is kept in {args.out}/history/")
    elif args.student is not None:
        print(f"{args.student} graded for the first time: their row is added to the gradebook")
    if standings is not None:  # what the course file and adjustments did
        print_season(args.out, standings)
    if shard is not None:
        print(f"shard {shard} graded; once all {shard.count} have finished: kws merge {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from kws.grading.classrun.merge import merge_shards

    gradebook = merge_shards(args.grades, wait=args.wait)
    print(f"gradebook: {gradebook} (then: kws report {args.grades})")
    return 0


GRADE = Verb(
    "grade",
    "grade a folder of submissions into a gradebook",
    _grade,
    faults=grades_folder_faults("out"),
    stops=_stops,
    arguments=(
        Arg("submissions", type=Path, help="one sub-folder per student"),
        Arg("--data", type=Path,
            help="hidden grading data folder (not needed when every assignment the hand-ins "
            "hold is written-only)"),
        Arg("--out", type=Path, default=Path("grades"), help="gradebook folder"),
        Arg("--jobs", type=int, default=2, help="submissions graded at once"),
        Arg("--timeout", type=float, default=3600.0, help="wall seconds for one submission"),
        Arg("--shard", metavar="I/N",
            help="grade only shard I of N (0 <= I < N; a block of the hand-ins sorted by name) "
            "into OUT/shards/, then `kws merge OUT`; e.g. in a Slurm array: grade_array.sbatch"),
        Arg("--roster", type=Path,
            help="class list CSV: check every hand-in folder has a student, and keep it for "
            "`kws export`"),
        ROSTER_KEY,
        Arg("--course", type=Path,
            help="course file (TOML): due dates, late rule, grace days, extensions; kept beside "
            "the gradebook"),
        Arg("--times", type=Path,
            help="hand-in times: a CSV (student, assignment, submitted) or Moodle's grading "
            "worksheet; default: Gradescope's submission_metadata.json (else --file-times)"),
        FILE_TIMES,
        FUTURE_TIMES,
        STRICT,
        Arg("--student", metavar="NAME",
            help="regrade this hand-in folder only, into the existing gradebook (its earlier "
            "result kept under OUT/history/)"),
        add_selection_options,
        WAIT,
    ),
)  # fmt: skip

MERGE = Verb(
    "merge",
    "merge the shards `kws grade --shard I/N` wrote into one gradebook",
    _merge,
    faults=grades_folder_faults("grades"),
    arguments=(Arg("grades", type=Path, help="the --out folder the shards graded into"), WAIT),
)  # fmt: skip
