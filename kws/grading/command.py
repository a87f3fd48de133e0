"""The one place the grader's command line is built (`grader_command`): `kws grade`, `kws demo`
and the Gradescope autograder all run the hidden grader as

    python -m pytest -p kws.grading.plugin TESTS... -q -p no:cacheprovider -p no:unraisableexception
        --submission DIR --data DIR --results FILE [--hide PATH ...] [--child-threads N] [--plan FILE]

with every path made absolute, so the command means the same from any working directory. The
Gradescope autograder's script runs it through this module's command line (`main`), which plans
the one hand-in first, as `kws grade` plans a class.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from kws.i18n import language_option

PLUGIN = "kws.grading.plugin"
# No caches written into the kit, and none of the instructor's own pytest plugins: random order,
# benchmarks or hypothesis could change how the grader runs, and loading them costs every
# student's grading a second or two.
GRADER_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
USAGE_ERROR = 4  # pytest's, for a run that cannot be planned
CHECKOUT_GRADER = Path(__file__).resolve().parents[2] / "grader"  # `pytest grader/`'s folder


def add_selection_options(command: argparse.ArgumentParser) -> None:
    """Add --assignment, --tiers and --dataset to `command` (`kws grade`, `kws gradescope`,
    ``python -m kws.grading.command``): the selection the run's plan is made from
    (`kws.grading.judge.planned.decide_handins`)."""
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


def selection_of(args: argparse.Namespace) -> dict:
    """The selection a command's `add_selection_options` read (`args`, its parsed command line),
    as the keyword arguments the grading functions take: {"assignment", "dataset", "tiers"},
    each None when not given."""
    return {"assignment": args.assignment, "dataset": args.dataset, "tiers": args.tiers}


def grader_paths(grader: Path | list[Path] | None = None) -> list[Path]:
    """`grader` (default: `graded_test_folders()`: folders or graded test files), resolved;
    FileNotFoundError naming the path when one is missing."""
    from kws.spec import graded_test_folders

    paths = graded_test_folders() if grader is None else grader
    paths = [paths] if isinstance(paths, str | Path) else paths
    resolved = [Path(p).resolve() for p in paths]
    for path in resolved:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: the graded tests are an assignment folder's graded_tests/ "
                "(kws/assignments/<name>/graded_tests/test_*.py)"
            )
    return resolved


def grader_command(
    submission: Path,
    data: Path,
    results: Path,
    *,
    grader: Path | list[Path] | None = None,
    hide: list[Path] = (),
    options: list[str] = (),
    threads: int | None = None,
    plan: Path | None = None,
) -> list[str]:
    """The argument list that grades `submission` against `data` into `results`, with this
    Python.

    Args:
        grader: graded test folders or files (default: every assignment's, `kws.spec.graded_test_folders()`);
            a folder holding a conftest.py of its own is run without `PLUGIN` (it loads it, or
            is another grader).
        hide: more paths the grading child must not read (``--hide``).
        options: more grader options, e.g. ``["--retrain-device", "cpu"]``, passed as given.
        threads: torch threads of each grading child (``--child-threads``, before `options`);
            not passed to a grader folder with a conftest.py of its own (it may not know it).
        plan: the run's plan file (``--plan``, `kws.grading.judge.planned.GraderPlan`): every
            decision of the run, made once; not passed to such a folder either (the checkout's
            ``grader/`` is the kit's grader: it is given both).
    """
    paths = grader_paths(grader)
    # A grader folder with a conftest.py of its own brings its plugin: another grader, unless it
    # is the checkout's grader/, which loads the kit's.
    own = len(paths) == 1 and (paths[0] / "conftest.py").is_file()
    kits = own and paths[0] == CHECKOUT_GRADER
    command = [sys.executable, "-m", "pytest", *([] if own else ["-p", PLUGIN]), *map(str, paths)]
    # No cache written; and no hunt for exceptions raised in __del__ at the end, which runs the
    # garbage collector five times over torch's objects: half a CPU-second of every grading
    # (the grader's own process: 2.46 -> 1.97 CPU-s), and no verdict comes from those warnings.
    command += ["-q", "-p", "no:cacheprovider", "-p", "no:unraisableexception"]
    given = [("--submission", submission), ("--data", data), ("--results", results)]
    given += [("--hide", path) for path in hide]
    command += [part for option, path in given for part in (option, str(Path(path).resolve()))]
    if threads is not None and (kits or not own):
        command += ["--child-threads", str(threads)]
    if plan is not None and (kits or not own):
        command += ["--plan", str(Path(plan).resolve())]
    return command + list(options)


def grader_environment() -> dict[str, str]:
    """This process's environment with `GRADER_ENV` for the grader's pytest process, and the
    course (``KWS_COURSE``) and the instructor's assignment folders (``KWS_ASSIGNMENTS``) as
    absolute paths: the grader may run in another working directory."""
    from kws.spec import absolute_environment

    return absolute_environment(os.environ | GRADER_ENV)


def main(argv: list[str] | None = None) -> int:
    """Grade one submission with the grader's command; the grader's exit code. Its plan goes to
    the grader as ``--plan``, in place of its inputs: with ``--plan FILE`` (the Gradescope zip's,
    which `kws gradescope` wrote: `kws.grading.judge.planned.checked_plan_file` checks it), that
    plan's decisions and the notebooks the submission holds (`handin_plan`); without, the plan
    `kws.grading.judge.planned.plan_handins` makes from the selection and the Kaggle split of
    ``--public-share`` and ``--split-seed``. A missing submission or data folder is left to the
    grader, whose results say why for every test; a plan that cannot be read or made is refused
    (`USAGE_ERROR`, no results)."""
    import tempfile

    from kws.grading.judge.planned import PLAN_FILE

    parser = argparse.ArgumentParser(
        prog="python -m kws.grading.command",
        description="Run the hidden grader on one submission (other options go to the grader).",
    )
    for name in ("--submission", "--data", "--results"):
        parser.add_argument(name, type=Path, required=True)
    add_selection_options(parser)
    parser.add_argument("--public-share", type=float,
                        help="the Kaggle rule: this share of the graded items (the private test "
                        "set's, when there is one) is the public part, shown during the homework; "
                        "the grade uses the rest, the held-out part")  # fmt: skip
    parser.add_argument("--split-seed", default="",
                        help="the course's secret seed of the split into a public and a held-out "
                        "part")  # fmt: skip
    parser.add_argument("--plan", type=Path,
                        help="the plan every submission is graded under (the Gradescope zip's "
                        "plan.json, written by `kws gradescope`), in place of the options above")  # fmt: skip
    parser.add_argument("--plan-sha256",
                        help="the sha256 --plan was written with (`kws gradescope` bakes it in)")  # fmt: skip
    parser.add_argument("--language", type=language_option,
                        help="the course's language (a BCP 47 tag: zh-TW, pl; default English): "
                        "what the grader writes for students speaks it")  # fmt: skip
    args, options = parser.parse_known_args(argv)
    try:
        part = _planned(args)
    except (FileNotFoundError, ValueError) as error:  # as the grader refuses it
        print(f"ERROR: {error}", file=sys.stderr)
        return USAGE_ERROR
    with tempfile.TemporaryDirectory(prefix="kws-plan-") as folder:
        plan = None
        if part is not None:
            plan = Path(folder, PLAN_FILE)
            plan.write_text(part.text(), encoding="utf-8")
        command = grader_command(args.submission, args.data, args.results, options=options,
                                 plan=plan)  # fmt: skip
        return subprocess.run(command, env=grader_environment()).returncode


def _planned(args: argparse.Namespace):
    """The graders' plan of `main`'s one submission (`args`: its command line), a
    `kws.grading.judge.planned.GraderPlan`; None when the submission or the data is no folder
    (the grader says so in every test). ValueError naming the file or the option that cannot
    be planned with."""
    from kws.grading.judge.planned import handin_plan, plan_handins
    from kws.grading.testsets.split import Split

    ready = args.submission.is_dir() and args.data.is_dir()
    if args.plan is None:
        if not ready:
            return None
        split = None if args.public_share is None else Split(args.public_share, args.split_seed)
        return plan_handins(args.data, [args.submission], args.assignment,
                            dataset=args.dataset, tiers=args.tiers, split=split,
                            language=args.language)  # fmt: skip
    given = [option for option, value in (("--assignment", args.assignment),
             ("--dataset", args.dataset), ("--tiers", args.tiers),
             ("--public-share", args.public_share), ("--language", args.language))
             if value is not None]  # fmt: skip
    if given:  # one channel: the plan decided them
        raise ValueError(f"{given[0]} with --plan {args.plan}: the plan decided the selection, "
                         f"the tier sets, the split and the language; leave {given[0]} out")  # fmt: skip
    decisions = shipped_plan(args.plan, args.data, args.plan_sha256)
    return handin_plan(decisions, args.data, args.submission) if ready else None


def shipped_plan(path: Path, data: Path, sha256: str | None = None) -> dict:
    """The decisions of the plan at `path` that `kws gradescope` wrote into its zip, checked as
    a grades folder's plan is (`kws.grading.judge.planned.checked_plan_file`, with `sha256`:
    the digest it was written with), its data folder (written relative to the plan's folder)
    the one given, `data`. ValueError naming `path` and saying to build the zip again."""
    from kws.grading.judge.planned import checked_plan_file, grader_plan_of

    fix = "build the autograder zip again with `kws gradescope` and upload it"
    part = checked_plan_file(path, fix, sha256)
    decisions = {key: value for key, value in part.items() if key != "notebooks"}
    planned = (Path(path).parent / decisions["data"]).resolve()
    if planned != Path(data).resolve():
        raise ValueError(f"{path} was made for the data folder {planned}, not {data}; {fix}")
    try:  # its tier sets and split as the kit writes them, before the grader starts
        grader_plan_of(decisions)
    except ValueError as error:
        raise ValueError(f"{path}: {error}; {fix}") from None
    return decisions


if __name__ == "__main__":
    sys.exit(main())
