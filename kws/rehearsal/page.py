"""The page an instructor reads first after a rehearsal: ``OUT/rehearsal.html``, and the same
tables as text in the terminal (``OUT/rehearsal.txt``).

In order: that the class and its scores are synthetic; every warning about the course file
(file, line, fix), with, for a time zone that is an abbreviation, each deadline on the file's
clock and on the one meant and what that changes for a hand-in; what lateness costs under the
late rule (a minute past the grace period, an hour, a day, two, a week: the cap); each
synthetic student's dates, lateness, grace days, penalty and final score per notebook, beside
the penalty the Gradescope zip's own rule gives the same hand-in; the files written; and the
commands run, which the instructor can type again. Every number is read from what the real
commands wrote (``standings.json``, the zip's ``results.json``) or computed by the kit's late
rule (`kws.grading.season.course.late_of`); nothing here grades.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from kws.grading.records.files import write_whole
from kws.grading.records.standings import read_standings
from kws.grading.season.course import late_of
from kws.pages import render, table
from kws.rehearsal.season import Season
from kws.rehearsal.stories import by_due_date

SYNTHETIC = (
    "The class is synthetic: the kit's reference solutions, trained for a few steps on the tiny "
    "synthetic data, handed in as each story says. Its scores are synthetic too: this rehearses "
    "the course file's arithmetic and the files the commands write, not accuracy."
)
TWO_CHANNELS = (
    "As standings.json holds them after every command; the last column is the penalty the "
    "Gradescope zip's own rule gives the same hand-in. It is the same rule on other points: "
    "the zip takes its share of the points it grades, the notebook's tests, since a person "
    "marks the written answers outside its score; kws season takes it of the notebook's whole "
    "maximum, written questions included, so a late notebook that asks written questions loses "
    "their share more here (a day late at 10 % a day: 10 % of the tests' points there, of the "
    "tests' and the questions' here). The exported grades (kws export, the feedback pages, "
    "the report) are kws season's. The zip spends no grace days either: kws season settles "
    "those."
)
DELAYS = [("an hour", timedelta(hours=1)), ("a day", timedelta(days=1)),
          ("a day and a minute", timedelta(days=1, minutes=1)), ("two days", timedelta(days=2)),
          ("a week", timedelta(days=7))]  # fmt: skip


def _when(moment: datetime | None, zone) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M %Z") if moment else "—"


def _points(value: float) -> str:
    return f"{value:g}"


def cost_rows(season: Season, maxima: dict[str, float]) -> list[list[str]]:
    """What a hand-in this late loses in each notebook with a due date (no grace day left)."""
    course, rows = season.course, []
    grace = timedelta(minutes=course.grace_minutes)
    delays = [("just past the grace period", grace + timedelta(seconds=1)), *DELAYS]
    for name in by_due_date(course):
        due, maximum = course.due.get(name), maxima.get(name)
        if due is None or maximum is None:
            continue
        row = [f"{name} (of {maximum:g})"]
        for _, delay in delays:
            late = late_of(course, due, due + delay, maximum, 0, "rehearsal")
            penalty = late.penalty if late else 0.0
            row.append(f"-{penalty:g} ({penalty / maximum:.0%})" if penalty else "0")
        rows.append(row)
    return [["late by", *(label for label, _ in delays)], *rows]


def student_rows(season: Season) -> list[list[str]]:
    """One row per student and notebook: the story, dates, lateness, points, and Gradescope's."""
    standings, zone = read_standings(season.out / "grades"), season.course.timezone
    header = ["student", "notebook", "due", "handed in", "late", "grace days", "penalty",
              "raw", "adjusted", "final", "on Gradescope"]  # fmt: skip
    rows = [header]
    for story in season.stories:
        if story.student not in standings.students:
            rows.append([story.student, "every notebook", "", "", "", "", "", "", "",
                         "missing", ""])  # fmt: skip
            continue
        for name in by_due_date(season.course):
            s = standings.students[story.student].get(name)
            if s is None:
                continue
            due = season.course.due_for(story.student, name)
            late, gradescope = s.late, season.gradescope.get((story.student, name))
            zip_said = "—" if due is None or s.status != "graded" else (
                f"-{gradescope['penalty']:g} of {gradescope['of']:g}" if gradescope
                else "on time")  # fmt: skip
            adjusted = sum(a.points for a in s.adjustments)
            rows.append([
                story.student, name, _when(due, zone),
                _when(season.times.get((story.student, name)), zone),
                f"{late.hours_late:g} h" if late else ("on time" if due else "no due date"),
                str(late.grace_days_used) if late else "",
                (f"-{late.penalty:g} of {s.maximum:g}" if late.penalty else "0") if late else "",
                _points(s.raw) if s.status == "graded" else s.status,
                f"{adjusted:+g}" if adjusted else "", f"{_points(s.final)} / {s.maximum:g}",
                zip_said,
            ])  # fmt: skip
    return rows


def story_lines(season: Season) -> str:
    """What each synthetic student does, and the mistake made in their hand-in."""
    lines = []
    for story in season.stories:
        made = season.mistakes.get(story.student)
        lines.append(f"- {story.student}: {story.says}" + (f" ({made})" if made else ""))
    return "\n".join(lines)


def zone_rows(season: Season) -> list[list[str]]:
    """Each date the course file's zone moves, on its clock and on the clock meant."""
    rows = []
    for warning in season.warnings:
        for shift in warning.shifts:
            rows.append([shift.label, f"{shift.written:%Y-%m-%d %H:%M}",
                         _when(shift.here, shift.here.tzinfo), _when(shift.meant, shift.meant.tzinfo),
                         f"{shift.hours:+g} h" if shift.hours else "no change"])  # fmt: skip
    return [["date", "as written", "on the file's clock", "on the clock meant", "moves"], *rows]


def zone_example(season: Season, maxima: dict[str, float]) -> str:
    """What a moved deadline changes: a hand-in 31 minutes after it on the clock meant."""
    for warning in season.warnings:
        for shift in warning.shifts:
            name = shift.key[-1]
            if shift.key[0] != "due" or shift.hours <= 0 or name not in maxima:
                continue
            handed = shift.meant + timedelta(minutes=31)
            here = late_of(season.course, shift.here, handed, maxima[name], 0, "rehearsal")
            there = late_of(season.course, shift.meant, handed, maxima[name], 0, "rehearsal")
            read = "on time" if here is None else f"{here.hours_late:g} h late, -{here.penalty:g}"
            meant = "on time" if there is None else (f"{there.hours_late:g} h late, "
                                                     f"-{there.penalty:g} points")  # fmt: skip
            return (f"A hand-in of {name} at {_when(handed, shift.meant.tzinfo)}, 31 minutes "
                    f"after its deadline on {warning.meant}'s clock, is {read} under the course "
                    f"file as written; on {warning.meant}'s clock it is {meant} (no grace day "
                    "left).")  # fmt: skip
    return ""


def _table_text(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]  # fmt: skip
    return "\n".join(line.rstrip() for line in lines)


def files_written(season: Season) -> list[tuple[str, Path]]:
    """(what, where) of each file the commands wrote, where the instructor opens them."""
    out = season.out
    return [("the gradebook", out / "grades" / "gradebook.csv"),
            ("the standings", out / "grades" / "standings.json"),
            ("the class report", out / "grades" / "report.html"),
            ("the students' feedback pages and zips", out / "feedback"),
            ("Canvas's import", out / "canvas-grades.csv"),
            ("Moodle's import", out / "moodle-grades.csv"),
            ("the Gradescope autograder", out / "autograder.zip"),
            ("the zip's late rule on each hand-in", out / "gradescope")]  # fmt: skip


def _sections(season: Season) -> list[tuple[str, str, list[list[str]] | None]]:
    """(heading, text, table) of the page, in order; what both renderings show."""
    maxima = {n: a["maximum"] for n, a in read_standings(season.out / "grades").assignments.items()}
    course, sections = season.course, []
    rule = (f"{course.rule.sentence()}; a grace period of {course.grace_minutes:g} min; "
            f"{course.grace_days} grace day(s) a student, spent on the first late hand-ins; "
            f"times in {course.timezone.key}")  # fmt: skip
    sections.append(("What this is", f"{SYNTHETIC}\nThe course file {course.path}: {rule}.",
                     None))  # fmt: skip
    if season.warnings:
        said = "\n".join(f"- {w.where}: {w.said}.\n  Fix: {w.fix}" for w in season.warnings)
        sections.append((f"Warnings ({len(season.warnings)}): read these first", said + "\nA "
                         "warning changes no grade; --strict refuses the file instead.", None))  # fmt: skip
    else:
        sections.append(("Warnings", "None: the course file reads as a careful colleague "
                         "would write it.", None))  # fmt: skip
    if any(w.shifts for w in season.warnings):
        sections.append(("The deadlines the time zone moves", zone_example(season, maxima),
                         zone_rows(season)))  # fmt: skip
    if len(cost := cost_rows(season, maxima)) > 1:
        sections.append(("What lateness costs", "Points taken off a hand-in this late (with no "
                         "grace day left: a student's grace days are spent first).", cost))  # fmt: skip
    sections.append(("The synthetic class", story_lines(season), None))
    sections.append(("Their dates and points", TWO_CHANNELS, student_rows(season)))
    written = "\n".join(f"- {what}: {path}" for what, path in files_written(season))
    sections.append(("The files, as the commands wrote them", written, None))
    reused = ("\nThe grading was reused from the previous rehearsal (the same kit and class); "
              "the course file was applied with kws season.") if season.reused else ""  # fmt: skip
    ran = [f"$ {step.line}   # {step.seconds:.0f} s" for step in season.steps]
    if season.marked_after is not None:
        answers = sum(season.marked.values())
        ran.insert(season.marked_after, f"(the {answers} written answers of {len(season.marked)} "
                   "question(s) marked by a stand-in person through kws mark's page)")  # fmt: skip
    ran = "\n".join(ran)
    sections.append(("The commands it ran (type them again to see for yourself)",
                     ran + reused, None))  # fmt: skip
    return sections


def page_text(season: Season) -> str:
    """The page as text, for the terminal."""
    parts = [f"Rehearsal of {season.course.path}"]
    for heading, text, rows in _sections(season):
        parts.append(f"\n== {heading} ==")
        parts += [text] if text else []
        parts += [_table_text(rows)] if rows else []
    return "\n".join(parts) + "\n"


Segment = tuple[str, str, str]  # (text, a path shown as a link or "", the link's target)


def _segment(line: str, links: dict[str, str]) -> Segment:
    """`line`, its end a link where it ends with ": " and a path of `links`."""
    for shown, href in links.items():
        if line.endswith(f": {shown}"):
            return line[: len(line) - len(shown)], shown, href
    return line, "", ""


def text_blocks(text: str, links: dict[str, str]) -> list[tuple[str, object]]:
    """`text` as the page's blocks: its ``- `` items (with their indented lines) a list
    (``("ul", [[segment, ...], ...])``), the other lines paragraphs (``("p", segment)``).

    Args:
        text: a section's text, as the terminal shows it.
        links: {path as the text says it: the link's target, relative to the page}.

    Returns:
        the blocks, in order.
    """
    blocks, items = [], []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append([_segment(line[2:], links)])
        elif line.startswith("  ") and items:
            items[-1].append(_segment(line.strip(), links))
        else:
            if items:
                blocks.append(("ul", items))
                items = []
            blocks.append(("p", _segment(line, links)))
    if items:
        blocks.append(("ul", items))
    return blocks


def page_html(season: Season) -> str:
    """The page as one self-contained HTML file (``kws/templates/rehearsal.html``), beside the
    files it links to."""
    links = {
        str(path): path.relative_to(season.out).as_posix() for _, path in files_written(season)
    }
    sections = [
        (
            heading,
            text_blocks(text, links) if text else [],
            table(rows[1:], rows[0]) if rows else None,
        )
        for heading, text, rows in _sections(season)
    ]
    return render("rehearsal.html", title="Rehearsal", course=str(season.course.path),
                  sections=sections)  # fmt: skip


def write_page(season: Season) -> Path:
    """Write ``OUT/rehearsal.html`` and ``OUT/rehearsal.txt``; the HTML page's path."""
    write_whole(season.out / "rehearsal.txt", page_text(season))  # mode 0600, as a class's
    return write_whole(season.out / "rehearsal.html", page_html(season))
