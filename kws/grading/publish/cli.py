"""The `kws` verbs that publish a graded class: `kws report`, `kws feedback` and `kws export`
(`kws.cli` lists them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.grading.season.cli import grades_folder_faults
from kws.verbs import GRADES, ROSTER_KEY, Arg, Verb


def _skeletons(solutions: Path, folder: Path) -> Path:
    """The student versions of the solution notebooks in `solutions`, written into `folder`:
    what every hand-in starts from, for a course that keeps no folder of them."""
    import nbformat

    from kws.notebooks import read_notebook, student_version

    for path in sorted(solutions.glob("*.ipynb")) if solutions.is_dir() else ():
        student = student_version(read_notebook(path), name=str(path))
        (folder / path.name).write_text(nbformat.writes(student), encoding="utf-8")
    return folder


def _report(args: argparse.Namespace) -> int:
    import tempfile

    from kws.grading.publish.report.page import write_report
    from kws.grading.publish.similarity.matches import flagged_summary
    from kws.spec import course

    thresholds = {"threshold": args.threshold, "reference_threshold": args.reference_threshold}
    taught = course()  # its solutions and student notebooks, unless named
    solutions = args.solutions or taught.solutions
    with tempfile.TemporaryDirectory(prefix="kws-skeletons-") as folder:
        skeletons = args.skeletons or (
            taught.students if taught.students.is_dir() else _skeletons(solutions, Path(folder))
        )
        written = write_report(
            args.grades,
            submissions=args.submissions,
            out=args.out,
            **{name: value for name, value in thresholds.items() if value is not None},
            solutions=solutions,
            skeletons=skeletons,
            jobs=args.jobs,
        )
    print(f"report: {written.page} (figures: {', '.join(p.name for p in written.pictures)})")
    print(f"similarity flagged: {flagged_summary(written.matches)}")
    if written.gradebook is not None:
        print(f"gradebook: {written.gradebook} (similar_to column)")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from kws.grading.publish.feedback.html import write_feedback
    from kws.grading.publish.feedback.moodle import check_worksheet, moodle_zips
    from kws.grading.records.roster import read_roster

    worksheet = read_roster(args.moodle, args.roster_key) if args.moodle else None
    if worksheet is not None:  # before any page is written
        check_worksheet(worksheet)
    written = write_feedback(args.grades, args.out, notebooks=args.notebooks)
    moodle = moodle_zips(written.by_student, worksheet, args.out) if worksheet else None
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


def _export(args: argparse.Namespace) -> int:
    from kws.grading.publish.exports import export_grades

    out = args.out or Path(f"{args.lms}-grades.csv")
    options = ("roster", "assignment", "column", "missing", "scale_to", "id_column", "unmarked",
               "open_requests")  # fmt: skip
    chosen = {name: getattr(args, name) for name in options}  # as export_grades names them
    written = export_grades(args.lms, args.grades, out, key=args.roster_key, **chosen)
    print("\n".join(written.match.report()))
    missing, given = written.missing, "0 points" if args.missing == "zero" else "no grade"
    print(f"wrote {written.path}: {written.rows} students, column {written.column!r} out of "
          f"{written.points:g} points ({len(missing)} missing, {given})")  # fmt: skip
    if missing:
        print(f"  missing ({given}): {', '.join(missing)}")
    if written.open:
        print(f"exported with {len(written.open)} regrade request(s) open, at their marks as "
              f"they are now; answer them with `kws requests answer {args.grades} ...`, then "
              "export again:")  # fmt: skip
        for thread in written.open:
            print(f"  {thread.student} {thread.question}: {thread.events[-1].text}")
    return 0


REPORT = Verb(
    "report",
    "the class report (HTML) and similarity flags of a graded folder",
    _report,
    faults=grades_folder_faults("grades"),
    arguments=(
        GRADES,
        Arg("--submissions", type=Path,
            help="the hand-ins folder (default: the one `kws grade` recorded)"),
        Arg("--out", type=Path, help="the page (default: GRADES/report.html)"),
        Arg("--threshold", type=float,
            help="score from which a pair of hand-ins is listed (0..1, default 0.7)"),
        Arg("--reference-threshold", type=float,
            help="score from which a match with the reference solution is listed (0..1, "
            "default 0.75)"),
        Arg("--solutions", type=Path,
            help="reference notebooks to flag copies of (default: the course's solutions/, "
            "KWS_COURSE; the kit's without)"),
        Arg("--skeletons", type=Path,
            help="released student notebooks (default: the course's student notebooks, or "
            "those its solutions make)"),
        Arg("--jobs", type=int, default=2, help="processes for the fingerprints"),
    ),
)  # fmt: skip

FEEDBACK = Verb(
    "feedback",
    "a feedback page per student and notebook (HTML), and a zip per student",
    _feedback,
    arguments=(
        GRADES,
        Arg("--out", type=Path, default=Path("feedback"),
            help="where to write the pages and zips (default: feedback/)"),
        Arg("--notebooks", type=Path,
            help="the released notebooks, for the self-check cells to re-run (default: the "
            "course's students/, KWS_COURSE; the kit's assignments/ without one)"),
        Arg("--moodle", type=Path, metavar="WORKSHEET",
            help="Moodle's grading worksheet (CSV): also write a zip per notebook for its "
            "'Upload multiple feedback files in a zip'"),
        Arg("--roster-key", default=None, metavar="COLUMN",
            help="the worksheet column holding hand-in folder names (default: folder)"),
    ),
)  # fmt: skip

EXPORT = Verb(
    "export",
    "the gradebook as the CSV Canvas or Moodle imports",
    _export,
    arguments=(
        Arg("lms", choices=["canvas", "moodle"]),
        GRADES,
        Arg("--out", type=Path, help="the CSV to write (default: LMS-grades.csv)"),
        Arg("--roster", type=Path,
            help="class list CSV (default: the one `kws grade --roster` kept)"),
        ROSTER_KEY,
        Arg("--assignment", help="export this notebook's points (default: the total)"),
        Arg("--column", metavar="TITLE",
            help="the grade column's title: the LMS assignment or grade item, e.g. 'Lab 4 "
            "(123456)' for Canvas's assignment 123456"),
        Arg("--missing", choices=["zero", "blank"], default="zero",
            help="students with no hand-in: 0 points (default), or no grade"),
        Arg("--scale-to", type=float, metavar="POINTS",
            help="rescale the scores to this many points (the LMS assignment's)"),
        Arg("--id-column", metavar="COLUMN",
            help="moodle: the roster column Moodle matches students by (default: Email "
            "address, ID number or Username)"),
        Arg("--unmarked", choices=["refuse", "zero"], default="refuse",
            help="written answers no one marked yet (kws mark): refuse to export (default), or "
            "count them as 0 points"),
        Arg("--open-requests", choices=["refuse", "keep"], default="refuse",
            help="regrade requests not answered yet (kws requests): refuse to export "
            "(default), or export the marks as they are now and list the open requests"),
    ),
)  # fmt: skip
