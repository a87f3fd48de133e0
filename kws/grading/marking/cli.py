"""``kws mark``: the written answers marked by a person, in a page of the browser served from
this machine (`kws.grading.marking.server`).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import getpass
import signal
from pathlib import Path

from kws.verbs import Arg, Verb


def _mark(args: argparse.Namespace) -> int:
    from kws.grading.marking.server import MarkServer
    from kws.grading.marking.session import MarkingSession
    from kws.spec import course

    if args.graders is not None and not args.graders.is_file():  # before the class is read
        raise FileNotFoundError(f"{args.graders}: no such file; give the CSV of who marks what "
                                "(grader, question, students)")  # fmt: skip
    solutions = args.solutions if args.solutions is not None else course().solutions
    session = MarkingSession(
        args.grades, solutions=solutions, submissions=args.submissions, grader=_who(args.grader)
    )
    for note in session.notes:
        print(f"note: {note}")
    if args.graders is not None:
        _graders(session, args.graders)
    try:
        server = MarkServer(session, args.port)
    except OSError as error:  # the port is taken (or one below 1024 without the right)
        session.store.close()
        used = error.errno == errno.EADDRINUSE
        why = "is in use" if used else f"cannot be used ({error.strerror})"
        raise ValueError(
            f"port {args.port} on 127.0.0.1 {why}; pass another --port, or --port 0 for any free "
            "one"
        ) from None
    questions = session.questions()
    left = sum(question["left"] for question in questions)
    blank = sum(question["blank"] for question in questions)
    blanks = f"; {blank} blank ones marked 0, no answer" if blank else ""
    print(
        f"Marking {len(questions)} written question{'s' * (len(questions) != 1)} of "
        f"{len(session.alias)} hand-ins ({left} answers left{blanks}). Open this address in your "
        "browser (it carries this start's token: keep it to yourself):\n\n"
        f"    {server.url}\n\n"
        f"Every mark is saved at once in {args.grades / 'marks'}/. Ctrl-C stops the page.",
        flush=True,
    )
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; every mark is saved", flush=True)
    finally:
        session.store.close()  # a change being written ends first; none starts after
        server.server_close()
    return 0


def _graders(session, path: Path) -> None:
    """Who marks what, from the CSV file `path`, recorded in place of the shares before."""
    from kws.grading.records.marks.graders import shares_from_csv

    keys = [question["key"] for question in session.questions()]
    shares = shares_from_csv(path, keys, sorted(session.alias))
    session.store.set_shares(shares, by=session.grader, source=str(path))
    graders = sorted({share.grader for share in shares})
    print(f"who marks what: {len(shares)} share{'s' * (len(shares) != 1)} from {path} "
          f"({', '.join(graders) or 'none'})")  # fmt: skip


def _import(args: argparse.Namespace) -> int:
    from kws.grading.marking.imports import import_marks
    from kws.grading.marking.session import MarkingSession
    from kws.spec import course

    if not args.file.is_file():  # before the class is read
        raise FileNotFoundError(f"{args.file}: no such file; give the CSV of marks (student, "
                                "question, items, points, comment)")  # fmt: skip
    solutions = args.solutions if args.solutions is not None else course().solutions
    who = _who(args.grader)
    session = MarkingSession(  # the file first: the blanks' 0 waits for `kws mark`
        args.grades, solutions=solutions, submissions=args.submissions, grader=who, blanks=False
    )
    count = import_marks(session, args.file, by=who, replace=args.replace)
    print(f"imported {count} mark{'s' * (count != 1)} from {args.file} into "
          f"{args.grades / 'marks'}/ (by {who}); count them: `kws season {args.grades}`")  # fmt: skip
    return 0


def _who(grader: str | None) -> str:
    if grader:
        return grader
    try:
        return getpass.getuser()
    except Exception:  # no user name known to the system (a bare container)
        return "grader"


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


MARK = Verb(
    "mark",
    "mark the written answers, question by question, in a page of your browser",
    _mark,
    description="Serve a page on 127.0.0.1 to mark the written questions of the solution "
    "notebooks across every hand-in of a graded class: anonymous unless you show the "
    "names, rubric items by click or number key, a comment per answer, the same answers "
    "marked at once, what the grader measured beside each answer, each student's whole "
    "notebook a key away, a comment library per question, each grader's share. Every mark is "
    "saved at "
    "once in GRADES/marks/ (sealed with the grades, its history kept). The address it "
    "prints carries a fresh token; nothing else is answered.",
    arguments=(
        Arg("grades", type=Path, help="the grades folder `kws grade --out` wrote"),
        Arg("--solutions", type=Path,
            help="the solution notebooks that ask the questions (default: the course's "
            "solutions/, KWS_COURSE; the kit's without one)"),
        Arg("--submissions", type=Path,
            help="the hand-ins' folder, when it is no longer where `kws grade` read it"),
        Arg("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)"),
        Arg("--grader",
            help="who marks, as the marks record it (default: your user name; the page can say "
            "another)"),
        Arg("--open", action="store_true", help="open the page in your browser"),
        Arg("--graders", type=Path,
            help="who marks what: a CSV file (grader,question,students), recorded in place of "
            "the shares set before (docs/how-to/mark.md, who marks what)"),
    ),
)  # fmt: skip

IMPORT = Verb(
    "import",
    "record marks typed in a CSV file (student, question, items, points, comment), checked "
    "as the marking page checks them: every row, or none",
    _import,
    arguments=(
        Arg("grades", type=Path, help="the grades folder `kws grade --out` wrote"),
        Arg("file", type=Path,
            help="the CSV file: a header naming student, question and items, points or "
            "comment, then one row a mark"),
        Arg("--replace", action="store_true",
            help="replace marks a person gave already (without it such a row is refused)"),
        Arg("--solutions", type=Path,
            help="the solution notebooks that ask the questions (default: the course's "
            "solutions/)"),
        Arg("--submissions", type=Path,
            help="the hand-ins' folder, when it is no longer where `kws grade` read it"),
        Arg("--grader", help="who marks, as the marks record it (default: your user name)"),
    ),
)  # fmt: skip


def with_import(marks: Verb) -> Verb:
    """`kws marks` (`kws.grading.season.cli.MARKS`, a lower layer's verb) with ``import``,
    which reads the class as `kws mark` does."""
    return dataclasses.replace(
        marks, help=f"{marks.help}, or import them from a CSV file", verbs=(*marks.verbs, IMPORT)
    )
