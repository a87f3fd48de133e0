"""`kws release`, added by `kws.cli` to its "prepare a course" group:

    kws release OUT [--data DATA]          the student bundle (`kws.release.bundle`), and which
                                           data students get
    kws release SOLUTIONS ASSIGNMENTS      the student notebooks (`kws.notebooks`) [--check]

The handler imports what it needs when it runs, so `kws --help` loads none of it. A mistake in
what the user gave is raised (`FileNotFoundError`, `ValueError`); `kws.cli.main` prints it as
`kws VERB: message` and exits with 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _release(args: argparse.Namespace) -> int:
    from kws.notebooks import check_released, release_folder

    if len(args.paths) == 1:
        return _bundle(args)
    if len(args.paths) != 2:
        raise ValueError("give OUT (the student bundle) or SOLUTIONS ASSIGNMENTS (the student "
                         "notebooks)")  # fmt: skip
    bundle_only = [
        f"--{o.replace('_', '-')}"
        for o in ("solutions", "kit_url", "force", "data")
        if getattr(args, o)
    ]
    if bundle_only:
        raise ValueError(f"{', '.join(bundle_only)} is for the bundle (kws release OUT), not for "
                         "SOLUTIONS ASSIGNMENTS")  # fmt: skip
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
    from kws.release.bundle import build_bundle

    if args.check:
        raise ValueError("--check compares SOLUTIONS with ASSIGNMENTS; give both folders")
    from kws.grading.testsets.public_only import handout

    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data}: no such folder (the grader's --data)")
    written = build_bundle(
        args.paths[0], solutions=args.solutions, kit_url=args.kit_url, force=args.force
    )
    for path in written:
        print(f"wrote {path}")
    print(f"hand out {written[-1]} (or the folder {args.paths[0]}): never solutions/ or grader/")
    print("\n".join(handout(args.data)))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws release` to `commands`, the `kws` parser's subparsers."""
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
    release.add_argument("--data", type=Path,
                         help="bundle: the grader's data folder, to say which of its folders "
                         "students get and which stay with the grader")  # fmt: skip
    release.add_argument("--kit-url",
                         help="bundle: where the notebooks install the kit from (default: the "
                         "archive in the bundle, next to them)")  # fmt: skip
    release.set_defaults(run=_release)
