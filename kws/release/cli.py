"""`kws release` (`kws.cli` lists it under "prepare a course"); two jobs, two forms:

    kws release bundle OUT [--data DATA]   the student bundle (`kws.release.bundle`): the
                                           course's student notebooks, a README, the kit
    kws release notebooks [OUT] [--check]  the course's student notebooks
                                           (`kws.release.notebooks`), default into its
                                           student notebooks' folder (the kit's: assignments/)

Both read the course's solution notebooks (``--solutions`` for others). The earlier spellings
still work, with a note: ``kws release OUT`` (the bundle) and ``kws release SOLUTIONS
ASSIGNMENTS`` (the notebooks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kws.verbs import Arg, Verb

FORMS = ("bundle", "notebooks")
USAGE = """kws release bundle OUT [--solutions DIR] [--data DATA] [--kit-url URL] [--force]
       kws release notebooks [OUT] [--solutions DIR] [--check]"""


def _note(old: str, new: str) -> None:
    print(f"note: `kws release {old}` is now `kws release {new}`; the old form will go",
          file=sys.stderr)  # fmt: skip


def _release(args: argparse.Namespace) -> int:
    paths = [str(p) for p in args.paths]
    form, rest = (paths[0], paths[1:]) if paths[0] in FORMS else (None, paths)
    if form is None and len(rest) == 1:  # the earlier `kws release OUT`
        _note(rest[0], f"bundle {rest[0]}")
        form = "bundle"
    elif form is None and len(rest) == 2:  # the earlier `kws release SOLUTIONS ASSIGNMENTS`
        _note(" ".join(rest), f"notebooks {rest[1]} --solutions {rest[0]}")
        form, rest, args.solutions = "notebooks", rest[1:], Path(rest[0])
    elif form == "bundle" and not rest:  # `kws release bundle` once meant OUT=bundle
        _note("bundle", "bundle bundle")
        rest = ["bundle"]
    if form is None or len(rest) > 1:
        raise ValueError(f"give one of the two forms:\n{USAGE}")
    from kws.grading.season.course import course_language
    from kws.i18n import speaking

    with speaking(course_language(args.course)):  # where a spec names no language
        if form == "bundle":
            return _bundle(args, Path(rest[0]))
        return _notebooks(args, Path(rest[0]) if rest else None)


def _notebooks(args: argparse.Namespace, out: Path | None) -> int:
    from kws.release.notebooks import release_notebooks, stale_notebooks
    from kws.spec import course

    bundle_only = [
        f"--{o.replace('_', '-')}" for o in ("kit_url", "force", "data") if getattr(args, o)
    ]
    if bundle_only:
        raise ValueError(f"{', '.join(bundle_only)} is for the bundle (kws release bundle OUT), "
                         "not for the student notebooks")  # fmt: skip
    solutions = args.solutions or course().solutions
    out = out or course().students
    if args.check:
        stale = stale_notebooks(solutions, out)
        for path in stale:
            print(
                f"out of date: {path}  (run: kws release notebooks {out} --solutions {solutions})"
            )
        return 1 if stale else 0
    for path in release_notebooks(solutions, out):
        print(f"wrote {path}")
    return 0


def _bundle(args: argparse.Namespace, out: Path) -> int:
    from kws.release.bundle import build_bundle, bundled

    if args.check:
        raise ValueError("--check compares the student notebooks: kws release notebooks --check")
    from kws.grading.testsets.public_only import handout

    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data}: no such folder (the grader's --data)")
    written = build_bundle(out, solutions=args.solutions, kit_url=args.kit_url, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"hand out {written[-1]} (or the folder {out}): never solutions/ or grader/")
    print("\n".join(handout(args.data, bundled(args.solutions))))
    return 0


RELEASE = Verb(
    "release",
    "the student bundle (release bundle OUT), or the student notebooks (release notebooks)",
    _release,
    usage=USAGE,
    description="Two jobs: `kws release bundle OUT` writes the student bundle (the course's "
    "student notebooks, a set-up README, the kit with the course's assignments, a zip) into "
    "the new folder OUT; `kws release notebooks [OUT]` writes the course's student notebooks "
    "(default: into its student notebooks' folder, the kit's assignments/). Both read the "
    "course's solution notebooks (KWS_COURSE; default the kit's).",
    arguments=(
        Arg("paths", nargs="+", type=Path, metavar="FORM",
            help="bundle OUT, or notebooks [OUT] (the earlier OUT and SOLUTIONS ASSIGNMENTS "
            "still work)"),
        Arg("--check", action="store_true",
            help="notebooks: only list the student notebooks out of date"),
        Arg("--force", action="store_true", help="bundle: write into a non-empty OUT"),
        Arg("--solutions", type=Path,
            help="the solution notebooks (default: the course's solutions/)"),
        Arg("--course", type=Path,
            help="course file (TOML): its `language` for the notebooks and the README where an "
            "assignment's spec names none (default: KWS_LANGUAGE's, else English)"),
        Arg("--data", type=Path,
            help="bundle: the grader's data folder, to say which of its folders students get "
            "and which stay with the grader"),
        Arg("--kit-url",
            help="bundle: where the notebooks install the kit from (default: the archive in "
            "the bundle, next to them)"),
    ),
)  # fmt: skip
