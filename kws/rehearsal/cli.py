"""`kws rehearse` (`kws.cli` lists it under "prepare a course"):

    kws rehearse COURSE_FILE [--out rehearsal] [--jobs 2] [--roster FILE] [--strict]

plays the course's whole season on a synthetic class with the real commands, into a folder of its
own (`kws.rehearsal.season`), and writes and prints the page to read first (`kws.rehearsal.page`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kws.verbs import ROSTER_KEY, STRICT, Arg, Verb


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


REHEARSE = Verb(
    "rehearse",
    "play a course file's whole season on a synthetic class before it starts",
    _rehearse,
    description="Grade a synthetic class (the kit's reference solutions, handed in on time, "
    "late, with an extension, with common mistakes) with the course file as it is, then "
    "run the season, a regrade, an adjustment, the report, the feedback pages, the LMS "
    "exports and the Gradescope zip's late rule, as the real commands do, into a folder of "
    "its own; print and write (OUT/rehearsal.html) each student's dates, lateness, penalty "
    "and final score, and every warning about the course file. A second run reuses the "
    "class and its grading.",
    arguments=(
        Arg("course", type=Path, help="the course file (TOML)"),
        Arg("--out", type=Path, default=Path("rehearsal"),
            help="the rehearsal's own folder (default: rehearsal/ here); never a grades folder"),
        Arg("--jobs", type=int, default=2, help="hand-ins graded at once"),
        Arg("--roster", type=Path,
            help="the class roster (CSV): warn of an extension for a folder it lacks (nothing "
            "else of it is used)"),
        ROSTER_KEY,
        STRICT,
    ),
)  # fmt: skip
