"""`kws rehearse`, added by `kws.cli` to its "prepare a course" group:

    kws rehearse COURSE_FILE [--out rehearsal] [--jobs 2] [--roster FILE] [--strict]

plays the course's whole season on a synthetic class with the real commands, into a folder of its
own (`kws.rehearsal.season`), and writes and prints the page to read first (`kws.rehearsal.page`).
A mistake in what the instructor gave is raised (`FileNotFoundError`, `ValueError`);
`kws.cli.main` prints it as `kws rehearse: message` and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kws.grading.season.cli import add_strict_option


def _rehearse(args: argparse.Namespace) -> int:
    from kws.rehearsal.page import page_text, write_page
    from kws.rehearsal.season import MARKER, rehearse

    start = time.monotonic()
    season = rehearse(args.course, args.out, jobs=args.jobs, roster=args.roster,
                    roster_key=args.roster_key, strict=args.strict, kws=args.kws)  # fmt: skip
    page = write_page(season)
    seconds = round(time.monotonic() - start, 1)
    summary = {"course": str(args.course), "seconds": seconds, "phases": season.phases,
               "reused_grading": season.reused, "warnings": [w.kind for w in season.warnings],
               "commands": [step.line for step in season.steps],
               "gradescope_now": season.gradescope_now, "marked": season.marked,
               "marked_after": season.marked_after}  # fmt: skip
    (season.out / MARKER).write_text(json.dumps(summary, indent=1) + "\n")
    print("\n" + page_text(season))
    print(f"rehearsal: {page} ({seconds:.0f} s); everything in {season.out}/ may be thrown away")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws rehearse` to `commands`, the `kws` parser's subparsers."""
    rehearse = commands.add_parser(
        "rehearse",
        help="play a course file's whole season on a synthetic class before it starts",
        description="Grade a synthetic class (the kit's reference solutions, handed in on time, "
        "late, with an extension, with common mistakes) with the course file as it is, then "
        "run the season, a regrade, an adjustment, the report, the feedback pages, the LMS "
        "exports and the Gradescope zip's late rule, as the real commands do, into a folder of "
        "its own; print and write (OUT/rehearsal.html) each student's dates, lateness, penalty "
        "and final score, and every warning about the course file. A second run reuses the "
        "class and its grading.",
    )
    rehearse.add_argument("course", type=Path, help="the course file (TOML)")
    rehearse.add_argument("--out", type=Path, default=Path("rehearsal"),
                          help="the rehearsal's own folder (default: rehearsal/ here); never a "
                          "grades folder")  # fmt: skip
    rehearse.add_argument("--jobs", type=int, default=2, help="hand-ins graded at once")
    rehearse.add_argument("--roster", type=Path,
                          help="the class roster (CSV): warn of an extension for a folder it "
                          "lacks (nothing else of it is used)")  # fmt: skip
    rehearse.add_argument("--roster-key", metavar="COLUMN",
                          help="the roster column of hand-in folder names (default: folder)")  # fmt: skip
    add_strict_option(rehearse)
    rehearse.set_defaults(run=_rehearse)
