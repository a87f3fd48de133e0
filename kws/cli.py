"""The `kws` command: one entry point for the kit's jobs.

    kws demo                         synthetic data -> reference notebooks -> grader -> score table
    kws tables                       parameter tables of the course architectures
    kws train RECIPE --data DIR      train a reference recipe (or a model preset) on a data folder
    kws synth speech-commands ROOT   offline synthetic datasets in the real layouts
    kws release OUT                  the student bundle: notebooks, set-up README, the kit, a zip
    kws release solutions/ assignments/
    kws grade SUBMISSIONS --data DIR --jobs N --out DIR [--assignment NAME] [--tiers FILE]
        [--shard I/N] [--roster FILE]
        [--course FILE] [--times FILE] [--student NAME]
    kws merge GRADES_DIR             one gradebook from the shards `kws grade --shard` wrote
    kws season GRADES_DIR [--course FILE]   deadlines, late penalties, adjustments applied again
    kws adjust GRADES_DIR STUDENT ASSIGNMENT POINTS --reason TEXT   a person's change to a grade
    kws export canvas|moodle GRADES_DIR [--roster FILE] --out FILE    the CSV the LMS imports
    kws gradescope --data DIR --out autograder.zip [--assignment NAME] [--tiers FILE] [--cpu 0.5]
    kws private DIR --secret FILE    a private test set: the public one's secret variant
    kws report GRADES_DIR [--submissions DIR]   the class's HTML report and similarity flags

Each subcommand imports what it needs when it runs, so `kws --help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _tables(args: argparse.Namespace) -> int:
    from kws.models import print_course_tables

    print_course_tables(depth=args.depth)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from kws.demo import run_demo

    return run_demo(
        out=args.out,
        preset=args.preset,
        seed=args.seed,
        grade=not args.no_grade,
        parallel=not args.one_at_a_time,
    )


def _train(args: argparse.Namespace) -> int:
    from kws.recipes import resolve_recipe  # no torch: bad input is refused before torch loads

    try:
        recipe = resolve_recipe(
            args.recipe,
            full=args.full,
            settings=args.set,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            eval_every=args.eval_every,
        )
        data = _data_root(args.data, recipe.task)
        if args.test_set is not None and not args.test_set.is_dir():
            raise FileNotFoundError(
                f"--test-set {args.test_set}: no such folder; pass a 12-class test-set folder "
                f"(_silence_/, _unknown_/, yes/, no/, ... with .wav clips)"
            )
        if args.test_set is not None and recipe.task != "kws":
            raise ValueError("--test-set is a 12-class keyword-spotting folder; speaker ID tests "
                             "on the data folder's test set")  # fmt: skip
        print(f"training {recipe.name} ({recipe.model}): {recipe.steps} steps x "
              f"{recipe.batch_size}, lr {recipe.lr:g}, into {args.out / recipe.name}")  # fmt: skip
        from kws.experiments import format_per_class, run_recipe

        results = run_recipe(
            recipe, data, args.out, device=args.device, seed=args.seed,
            test_set=args.test_set, resume=args.resume,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as err:
        print(f"kws train: error: {err}", file=sys.stderr)
        return 2
    print(format_per_class(results))
    print(f"files in {results['out_dir']}")
    return 0


def _data_root(data: Path, task: str) -> Path:
    """The parent folder run_recipe expects, from it or from the dataset folder itself."""
    folder = "speech_commands_v0.02" if task == "kws" else "speaker_features"
    if (data / folder).is_dir():
        return data
    if data.name == folder and data.is_dir():
        return data.parent
    raise FileNotFoundError(
        f"--data {data}: no {folder}/ in it; pass the folder that holds {folder}/ (make one "
        f"offline with: kws synth {'speech-commands' if task == 'kws' else 'speaker-features'} "
        f"{data})"
    )


def _synth(args: argparse.Namespace) -> int:
    from kws.data import synthetic

    make = {
        "speech-commands": synthetic.make_speech_commands,
        "speaker-features": synthetic.make_speaker_features,
    }[args.dataset]
    folder = make(args.root, preset=args.preset, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {folder}")
    return 0


def _release(args: argparse.Namespace) -> int:
    from kws.notebooks import check_released, release_folder

    if len(args.paths) == 1:
        return _bundle(args)
    if len(args.paths) != 2:
        print("kws release: give OUT (the student bundle) or SOLUTIONS ASSIGNMENTS (the student "
              "notebooks)", file=sys.stderr)  # fmt: skip
        return 2
    bundle_only = [
        f"--{o.replace('_', '-')}" for o in ("solutions", "kit_url", "force") if getattr(args, o)
    ]
    if bundle_only:
        print(f"kws release: {', '.join(bundle_only)} is for the bundle (kws release OUT), not for "
              "SOLUTIONS ASSIGNMENTS", file=sys.stderr)  # fmt: skip
        return 2
    args.solutions, args.assignments = args.paths
    if args.check:
        stale = check_released(args.solutions, args.assignments)
        for path in stale:
            print(f"out of date: {path}  (run: kws release {args.solutions} {args.assignments})")
        return 1 if stale else 0
    for path in release_folder(args.solutions, args.assignments):
        print(f"wrote {path}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    from kws.notebooks import NotebookError
    from kws.release import BundleError, build_bundle

    if args.check:
        print("kws release: --check compares SOLUTIONS with ASSIGNMENTS; give both folders",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        written = build_bundle(
            args.paths[0], solutions=args.solutions, kit_url=args.kit_url, force=args.force
        )
    except (BundleError, NotebookError) as error:
        print(f"kws release: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"hand out {written[-1]} (or the folder {args.paths[0]}): never solutions/ or grader/")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from kws.grading.classrun.batch import grade_batch, handin_folders
    from kws.grading.classrun.regrade import regrade_student
    from kws.grading.classrun.shards import Shard
    from kws.grading.records.roster import match_roster, read_roster

    try:
        shard = Shard.parse(args.shard) if args.shard is not None else None
        if args.roster_key and not args.roster:
            raise ValueError("--roster-key names a column of the --roster FILE; pass both")
        roster = read_roster(args.roster, key=args.roster_key) if args.roster else None
        if roster is not None:  # before grading: a typo in a folder name shows at once
            names = [p.name for p in handin_folders(args.submissions)]
            print("\n".join(match_roster(roster, names).report()), flush=True)
        selection = {"assignment": args.assignment, "dataset": args.dataset, "tiers": args.tiers}
        season = {"course": args.course, "times": args.times}
        if args.student is not None:
            if shard is not None or roster is not None:
                raise ValueError("--student regrades one hand-in; leave out --shard and --roster")
            gradebook = regrade_student(args.submissions, args.student, args.data, args.out,
                                        timeout=args.timeout, **selection, **season)  # fmt: skip
        else:
            gradebook = grade_batch(args.submissions, args.data, args.out, jobs=args.jobs,
                                    timeout=args.timeout, shard=shard, roster=roster,
                                    **selection, **season)  # fmt: skip
    except (FileNotFoundError, ValueError) as error:  # the instructor's setting: say the fix
        print(f"kws grade: {error}", file=sys.stderr)
        return 2
    print(f"gradebook: {gradebook}")
    if args.student is not None:
        print(f"{args.student} regraded; the earlier result is kept in {args.out}/history/")
    if shard is None:  # what the course file and adjustments did (applied again: idempotent)
        from kws.cli_season import print_season
        from kws.grading.season.apply import apply_season

        print_season(args.out, apply_season(args.out))
    if shard is not None:
        print(f"shard {shard} graded; once all {shard.count} have finished: kws merge {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from kws.grading.classrun.shards import merge_shards

    try:
        gradebook = merge_shards(args.grades)
    except (FileNotFoundError, ValueError) as error:
        print(f"kws merge: {error}", file=sys.stderr)
        return 2
    print(f"gradebook: {gradebook} (then: kws report {args.grades})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from kws.grading.publish.exports import export_grades

    out = args.out or Path(f"{args.lms}-grades.csv")
    try:
        written = export_grades(
            args.lms,
            args.grades,
            out,
            roster=args.roster,
            key=args.roster_key,
            assignment=args.assignment,
            column=args.column,
            missing=args.missing,
            scale_to=args.scale_to,
            id_column=args.id_column,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"kws export: {error}", file=sys.stderr)
        return 2
    print("\n".join(written.match.report()))
    missing = written.missing
    print(f"wrote {written.path}: {written.rows} students, column {written.column!r} out of "
          f"{written.points:g} points ({missing} missing, "
          f"{'0 points' if args.missing == 'zero' else 'no grade'})")  # fmt: skip
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from kws.grading.publish.gradescope.autograder import make_autograder, plan, settings_advice

    try:
        path = make_autograder(
            args.out,
            args.data,
            assignment=args.assignment,
            dataset=args.dataset,
            tiers=args.tiers,
            cpu=args.cpu,
            course=args.course,
        )
    except (FileNotFoundError, ValueError) as error:  # SettingsError: no zip within the limits
        print(f"kws gradescope: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it as the assignment's autograder on Gradescope")
    print(settings_advice(plan(args.data, args.assignment, args.cpu)))
    if args.course is not None:
        from kws.cli_season import course_rules

        print(course_rules(args.course))
    return 0


def _private(args: argparse.Namespace) -> int:
    from kws.data.private_variant import make_private_test

    existed = args.secret.exists()
    try:
        folder, clips = make_private_test(args.data, args.secret, args.test_folder, args.noise)
    except (FileNotFoundError, ValueError) as error:
        print(f"kws private: {error}", file=sys.stderr)
        return 2
    if not existed:
        print(
            f"wrote a new course secret to {args.secret}: keep it outside the course repository "
            "and the student bundle; the same secret writes the same private test set again"
        )
    print(f"wrote {clips} clips to {folder}: the grader scores them (and not the public clips)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from kws.grading.publish.report.page import write_report

    thresholds = {"threshold": args.threshold, "reference_threshold": args.reference_threshold}
    try:
        written = write_report(
            args.grades,
            submissions=args.submissions,
            out=args.out,
            **{name: value for name, value in thresholds.items() if value is not None},
            solutions=args.solutions,
            skeletons=args.skeletons,
            jobs=args.jobs,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"kws report: {error}", file=sys.stderr)
        return 2
    pairs = [m for m in written.matches if m.second != "reference solution"]
    print(f"report: {written.page} (figures: {', '.join(p.name for p in written.pictures)})")
    print(f"similarity: {len(pairs)} pair(s) of hand-ins and "
          f"{len(written.matches) - len(pairs)} match(es) with the reference solution flagged")  # fmt: skip
    if written.gradebook is not None:
        print(f"gradebook: {written.gradebook} (similar_to column)")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from kws.grading.publish.feedback.html import write_feedback
    from kws.grading.publish.feedback.moodle import moodle_zips
    from kws.grading.records.roster import RosterError, read_roster
    from kws.grading.records.standings import StandingsError

    try:
        worksheet = read_roster(args.moodle, args.roster_key) if args.moodle else None
        written = write_feedback(args.grades, args.out, notebooks=args.notebooks)
        moodle = moodle_zips(written.by_student, worksheet, args.out) if worksheet else None
    except (FileNotFoundError, StandingsError, RosterError) as error:
        print(f"kws feedback: {error}", file=sys.stderr)
        return 2
    print(f"feedback: {len(written.pages)} page(s) in {args.out}/<student>/, "
          f"{len(written.zips)} zip(s) in {args.out / 'zips'}/ (one per student)")  # fmt: skip
    if written.ungraded:
        print(f"not graded (their page says so; see `kws report` for why): "
              f"{', '.join(written.ungraded)}")  # fmt: skip
    if moodle is not None:
        zips, absent = moodle
        print(f"Moodle: {', '.join(str(z) for z in zips) or 'no zip'} (Upload multiple "
              "feedback files in a zip)")  # fmt: skip
        if absent:
            print(f"not in the worksheet, so not in the Moodle zip: {', '.join(absent)}")
    return 0


def _add_selection(command: argparse.ArgumentParser) -> None:
    """--assignment, --tiers and --dataset, shared by `kws grade` and `kws gradescope`."""
    from kws.spec import ASSIGNMENTS  # the specs only: tomllib, no torch

    command.add_argument(
        "--assignment",
        choices=sorted(ASSIGNMENTS),
        help="grade only this notebook (default: each notebook a submission holds)",
    )
    command.add_argument(
        "--tiers",
        type=Path,
        help="JSON accuracy tiers {simple, medium, strong, boss}, for data the kit does not know",
    )
    command.add_argument(
        "--dataset",
        help="an entry of [tiers] in kws/assignments/<name>/spec.toml to take the tiers from",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kws", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    tables = commands.add_parser("tables", help="parameter tables of the course architectures")
    tables.add_argument("--depth", type=int, default=2, help="module depth shown in the tables")
    tables.set_defaults(run=_tables)

    train = commands.add_parser(
        "train", help="train a reference recipe or a model preset on a data folder"
    )
    train.add_argument("recipe", help="a kws.recipes name (kws_transformer, ...) or a model preset")
    train.add_argument("--data", type=Path, required=True,
                       help="folder holding speech_commands_v0.02/ (or speaker_features/)")  # fmt: skip
    train.add_argument("--test-set", type=Path,
                       help="a 12-class test-set folder (default: the dataset's sibling)")  # fmt: skip
    train.add_argument("--out", type=Path, default=Path("runs"), help="runs folder")
    train.add_argument("--full", action="store_true", help="FULL (GPU) recipes, not SMALL")
    train.add_argument("--steps", type=int, help="optimizer steps (warm-up scales along)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--eval-every", type=int, help="steps between validations")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="a model setting, e.g. --set d_model=128 (repeatable)")  # fmt: skip
    train.add_argument("--resume", action="store_true", help="continue from OUT/RECIPE/last.pt")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)

    synth = commands.add_parser("synth", help="write an offline synthetic dataset")
    synth.add_argument("dataset", choices=["speech-commands", "speaker-features"])
    synth.add_argument("root", type=Path, help="parent folder of the dataset")
    synth.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    synth.set_defaults(run=_synth)

    release = commands.add_parser(
        "release",
        help="the student bundle (release OUT), or student notebooks (release SOLUTIONS ASSIGNMENTS)",
    )
    release.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="OUT: a new folder for the student bundle (notebooks, set-up README, the kit, a zip); "
        "or SOLUTIONS ASSIGNMENTS: write the student notebooks of SOLUTIONS into ASSIGNMENTS",
    )
    release.add_argument("--check", action="store_true", help="only report stale notebooks")
    release.add_argument(
        "--force", action="store_true", help="write the bundle into a non-empty OUT"
    )
    release.add_argument("--solutions", type=Path,
                         help="bundle: the solution notebooks (default: the kit's solutions/)")  # fmt: skip
    release.add_argument("--kit-url",
                         help="bundle: where the notebooks install the kit from (default: the "
                         "archive in the bundle, next to them)")  # fmt: skip
    release.set_defaults(run=_release)

    grade = commands.add_parser("grade", help="grade a folder of submissions into a gradebook")
    grade.add_argument("submissions", type=Path, help="one sub-folder per student")
    grade.add_argument("--data", type=Path, required=True, help="hidden grading data folder")
    grade.add_argument("--out", type=Path, default=Path("grades"), help="gradebook folder")
    grade.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    grade.add_argument(
        "--timeout", type=float, default=3600.0, help="wall seconds for one submission"
    )
    grade.add_argument(
        "--shard",
        metavar="I/N",
        help="grade only shard I of N (0 <= I < N; a block of the hand-ins sorted by name) into "
        "OUT/shards/, then `kws merge OUT`; e.g. in a Slurm array: grade_array.sbatch",
    )
    grade.add_argument("--roster", type=Path,
                       help="class list CSV: check every hand-in folder has a student, and keep "
                       "it for `kws export`")  # fmt: skip
    grade.add_argument("--roster-key", metavar="COLUMN",
                       help="the roster column of hand-in folder names (default: folder)")  # fmt: skip
    grade.add_argument("--course", type=Path,
                       help="course file (TOML): due dates, late rule, grace days, extensions; "
                       "kept beside the gradebook")  # fmt: skip
    grade.add_argument("--times", type=Path,
                       help="hand-in times: a CSV (student, assignment, submitted) or Moodle's "
                       "grading worksheet; default: Gradescope's submission_metadata.json, else "
                       "file times")  # fmt: skip
    grade.add_argument("--student", metavar="NAME",
                       help="regrade this hand-in folder only, into the existing gradebook "
                       "(its earlier result kept under OUT/history/)")  # fmt: skip
    _add_selection(grade)
    grade.set_defaults(run=_grade)

    merge = commands.add_parser(
        "merge", help="merge the shards `kws grade --shard I/N` wrote into one gradebook"
    )
    merge.add_argument("grades", type=Path, help="the --out folder the shards graded into")
    merge.set_defaults(run=_merge)

    export = commands.add_parser("export", help="the gradebook as the CSV Canvas or Moodle imports")
    export.add_argument("lms", choices=["canvas", "moodle"])
    export.add_argument("grades", type=Path, help="the folder `kws grade --out` wrote")
    export.add_argument("--out", type=Path, help="the CSV to write (default: LMS-grades.csv)")
    export.add_argument("--roster", type=Path,
                        help="class list CSV (default: the one `kws grade --roster` kept)")  # fmt: skip
    export.add_argument("--roster-key", metavar="COLUMN",
                        help="the roster column of hand-in folder names (default: folder)")  # fmt: skip
    export.add_argument("--assignment", help="export this notebook's points (default: the total)")
    export.add_argument("--column", metavar="TITLE",
                        help="the grade column's title: the LMS assignment or grade item, e.g. "
                        "'Lab 4 (123456)' for Canvas's assignment 123456")  # fmt: skip
    export.add_argument("--missing", choices=["zero", "blank"], default="zero",
                        help="students with no hand-in: 0 points (default), or no grade")  # fmt: skip
    export.add_argument("--scale-to", type=float, metavar="POINTS",
                        help="rescale the scores to this many points (the LMS assignment's)")  # fmt: skip
    export.add_argument("--id-column", metavar="COLUMN",
                        help="moodle: the roster column Moodle matches students by (default: "
                        "Email address, ID number or Username)")  # fmt: skip
    export.set_defaults(run=_export)

    gradescope = commands.add_parser("gradescope", help="build the Gradescope autograder zip")
    gradescope.add_argument("--data", type=Path, required=True, help="hidden grading data")
    gradescope.add_argument("--out", type=Path, default=Path("autograder.zip"))
    gradescope.add_argument("--course", type=Path,
                            help="course file: its [gradescope] attempts_per_day and late rule "
                            "apply to every submission")  # fmt: skip
    gradescope.add_argument(
        "--cpu",
        type=float,
        default=0.5,
        choices=[0.5, 1.0, 2.0, 4.0],
        help="the container's CPUs on Gradescope (default 0.5, its default)",
    )
    _add_selection(gradescope)
    gradescope.set_defaults(run=_gradescope)

    private = commands.add_parser(
        "private", help="write the secret variant of a public test set, graded in its place"
    )
    private.add_argument("data", type=Path, help="the grader's --data folder")
    private.add_argument("--secret", type=Path, required=True,
                         help="the course secret's file (written when it does not exist)")  # fmt: skip
    private.add_argument("--test-folder", default="speech_commands_test_set_v0.02",
                         help="the public test set under DATA (default: %(default)s)")  # fmt: skip
    private.add_argument("--noise", type=Path,
                         help="noise recordings (default: the dataset's _background_noise_)")  # fmt: skip
    private.set_defaults(run=_private)

    report = commands.add_parser(
        "report", help="the class report (HTML) and similarity flags of a graded folder"
    )
    report.add_argument("grades", type=Path, help="the folder `kws grade --out` wrote")
    report.add_argument("--submissions", type=Path,
                        help="the hand-ins folder (default: the one `kws grade` recorded)")  # fmt: skip
    report.add_argument("--out", type=Path, help="the page (default: GRADES/report.html)")
    report.add_argument("--threshold", type=float,
                        help="score from which a pair of hand-ins is listed (0..1, default 0.7)")  # fmt: skip
    report.add_argument("--reference-threshold", type=float,
                        help="score from which a match with the reference solution is listed "
                        "(0..1, default 0.75)")  # fmt: skip
    report.add_argument("--solutions", type=Path,
                        help="reference notebooks to flag copies of (default: the kit's solutions/)")  # fmt: skip
    report.add_argument("--skeletons", type=Path,
                        help="released student notebooks (default: the kit's assignments/)")  # fmt: skip
    report.add_argument("--jobs", type=int, default=2, help="processes for the fingerprints")
    report.set_defaults(run=_report)

    feedback = commands.add_parser(
        "feedback", help="a feedback page per student and notebook (HTML), and a zip per student"
    )
    feedback.add_argument("grades", type=Path, help="the folder `kws grade --out` wrote")
    feedback.add_argument("--out", type=Path, default=Path("feedback"),
                          help="where to write the pages and zips (default: feedback/)")  # fmt: skip
    feedback.add_argument("--notebooks", type=Path,
                          help="the released notebooks, for the self-check cells to re-run "
                          "(default: the kit's assignments/)")  # fmt: skip
    feedback.add_argument("--moodle", type=Path, metavar="WORKSHEET",
                          help="Moodle's grading worksheet (CSV): also write a zip per notebook "
                          "for its 'Upload multiple feedback files in a zip'")  # fmt: skip
    feedback.add_argument("--roster-key", default=None, metavar="COLUMN",
                          help="the worksheet column holding hand-in folder names "
                          "(default: folder)")  # fmt: skip
    feedback.set_defaults(run=_feedback)

    from kws.cli_season import add_season_commands

    add_season_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
