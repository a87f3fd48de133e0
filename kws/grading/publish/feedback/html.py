"""`kws feedback GRADES_DIR --out DIR`: a page per student and notebook, as files to hand back.

    written = write_feedback(Path("grades"), Path("feedback"))
    written.pages      # feedback/<student>/<assignment>.html, one self-contained page each
    written.zips       # feedback/zips/<student>.zip: the student's folder, to attach in an LMS

Each page needs nothing from the network (the kit's inline styles, `kws.pages`; the accuracy
picture an inline SVG) and prints on paper (no background, no breaks inside a test's row).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from kws import pages
from kws.grading.publish.feedback.pages import (
    Accuracy,
    Feedback,
    class_feedback,
    kept_course,
)
from kws.grading.publish.feedback.rerun import course_notebooks
from kws.grading.publish.report.figures import TIER_COLOURS
from kws.grading.records.gradebook import safe_name
from kws.grading.records.grades import read_grades
from kws.grading.records.marks import check_marked, written_part
from kws.grading.records.standings import read_standings
from kws.grading.season.compute import with_standings
from kws.pages import escape, table
from kws.spec import TIER_ORDER


@dataclass
class WrittenFeedback:
    """What `write_feedback` wrote."""

    pages: list[Path]
    zips: list[Path]
    ungraded: list[str]  # students the grader wrote no results for (their page says so)
    by_student: dict[str, list[Path]] = field(default_factory=dict)


def _points(value: float) -> str:
    return f"{value:.4g}"


def _when(moment: str, zone: tzinfo | None = None) -> str:
    """An ISO 8601 time as people read it: in the course's time zone `zone` when there is one
    (``2026-10-02 22:59 EDT``), else with its own offset (``2026-10-03 04:59+02:00``); as given
    if it is none."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return moment
    if zone is None or parsed.tzinfo is None:
        return parsed.isoformat(sep=" ", timespec="minutes")
    local = parsed.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _scale_start(item: Accuracy) -> float:
    """Where the picture's scale starts: 0.1 below the lowest tier or the accuracy, rounded
    down to a tenth (close tiers such as 0.95 and 0.97 stay apart), never below 0."""
    lowest = min([item.accuracy, *(item.tiers or {}).values()])
    return max(0.0, math.floor((lowest - 0.1) * 10) / 10)


def accuracy_svg(item: Accuracy, width: int = 640) -> str:
    """The student's accuracy (a marker) on a scale from `_scale_start` to 1 (both ends
    labelled) with the tier lines; the tier that gives full marks drawn bold."""
    left, span, start = 34, width - 68, _scale_start(item)

    def x(value: float) -> float:
        return round(left + span * (min(max(value, start), 1.0) - start) / (1.0 - start), 1)

    parts = [
        f'<rect x="{left}" y="44" width="{span}" height="8" fill="#e1e5ea"/>',
        f'<text x="{left - 5}" y="52" font-size="11" text-anchor="end" fill="#52606d">'
        f"{start:g}</text>",
        f'<text x="{left + span + 5}" y="52" font-size="11" fill="#52606d">1</text>',
    ]
    for number, tier in enumerate(TIER_ORDER if item.tiers else ()):
        line, bold = item.tiers[tier], tier == item.target
        colour, stroke = TIER_COLOURS[tier], 3 if bold else 1.5
        weight, y = ("bold" if bold else "normal"), 12 + 13 * (number % 2)  # staggered labels
        parts.append(
            f'<line x1="{x(line)}" y1="{y + 4}" x2="{x(line)}" y2="62" stroke="{colour}" '
            f'stroke-width="{stroke}"/><text x="{x(line)}" y="{y}" font-size="11" '
            f'text-anchor="middle" fill="{colour}" font-weight="{weight}">'
            f"{tier} {line:.3g}</text>"
        )
    mark = x(item.accuracy)
    said = min(max(mark, left + 36), left + span - 36)  # the label stays inside the picture
    parts.append(
        f'<rect x="{left}" y="44" width="{mark - left}" height="8" fill="#3b6ea8"/>'
        f'<path d="M{mark} 56 l-7 12 h14 z" fill="#1f2933"/>'
        f'<text x="{said}" y="84" font-size="12" text-anchor="middle" font-weight="bold">'
        f"you: {item.accuracy:.4f}</text>"
    )
    label = f"accuracy {item.accuracy:.4f} against the tiers"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="96" role="img" '
        f'aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


def _accuracy_section(items: list[Accuracy]) -> str:
    if not items:
        return ""
    blocks = []
    for item in items:
        if item.tiers and item.target:
            reached = [t for t in TIER_ORDER if item.accuracy >= item.tiers[t]]
            said = f"reaches the {reached[-1]} tier" if reached else "reaches no tier yet"
            goal = f"; full marks at {item.target} ({item.tiers[item.target]:.4g})"
        else:
            said, goal = "", " (the tiers were not recorded with your result)"
        blocks.append(
            f"<h3>Task {escape(item.task)}: accuracy {item.accuracy:.4f} {said}{goal}</h3>"
            + accuracy_svg(item)
        )
    return "<h2>Accuracy on the hidden test set</h2>" + "".join(blocks)


def _standing_section(page: Feedback) -> str:
    standing = page.standing
    if standing.written or page.written:
        rows = [["Tests", _points(standing.raw - standing.written)],
                ["Written answers", _points(standing.written)],
                ["Raw score", _points(standing.raw)]]  # fmt: skip
    else:
        rows = [["Tests (raw score)", _points(standing.raw)]]
    if standing.late is not None:
        late = standing.late
        handed, due = _when(late.submitted, page.zone), _when(late.due, page.zone)
        what = (
            f"Late: handed in {escape(handed)}, due {escape(due)} "
            f"({late.hours_late:.1f} h late; {late.grace_days_used} grace day(s) used). "
            f"Rule: {escape(late.rule)}. Hand-in time from: {escape(late.source)}."
        )
        rows.append([what, f"−{_points(late.penalty)}"])
    for change in standing.adjustments:
        sign = "+" if change.points >= 0 else "−"
        who = f"{escape(change.who)}, {escape(_when(change.when, page.zone))}"
        what = f"Adjustment: {escape(change.reason)} ({who})"
        rows.append([what, f"{sign}{_points(abs(change.points))}"])
    rows.append(["<b>Final score</b>", f"<b>{_points(standing.final)}</b>"])
    return f"<h2>Your score</h2>{table(rows, ['what', 'points'], numeric={1})}"


def _tests_section(page: Feedback) -> str:
    rows, statuses = [], []
    for test in page.tests:
        status = "passed" if test.passed else "failed"
        rerun = (
            f"run again: <i>{escape(test.rerun.section)}</i>"
            if test.rerun and not test.passed
            else ""
        )
        rows.append([escape(test.name), f"{_points(test.score)} / {_points(test.max_score)}",
                     f"<pre>{escape(test.message or status)}</pre>", rerun])  # fmt: skip
        statuses.append(status)
    header = ["test", "points", "message", "what to re-run"]
    tests = table(rows, header, numeric={1}, row_classes=statuses)
    note = ""
    if page.withheld:
        after = "" if page.total_shown else " The total is shown once the due date has passed."
        note = (
            f'<p class="note">{page.withheld} test(s) are not shown here, as on Gradescope '
            f"(hidden tests, or tests shown after the due date).{after}</p>"
        )
    return f"<h2>Tests</h2>{tests}{note}"


def _written_section(page: Feedback) -> str:
    if not page.written:
        return ""
    rows, classes = [], []
    for line in page.written:
        if not line.marked:
            rows.append([escape(line.title), f"— / {_points(line.maximum)}",
                         "<i>not marked yet</i>", ""])  # fmt: skip
            classes.append("")
            continue
        given = [f"{escape(text)} ({'+' if points >= 0 else '−'}{_points(abs(points))})"
                 for text, points in line.items]  # fmt: skip
        if line.adjust:
            sign = "+" if line.adjust >= 0 else "−"
            given.append(f"beyond the rubric ({sign}{_points(abs(line.adjust))})")
        rows.append([escape(line.title), f"{_points(line.points)} / {_points(line.maximum)}",
                     "<br>".join(given) or "<i>no rubric item</i>",
                     f"<pre>{escape(line.comment)}</pre>" if line.comment else ""])  # fmt: skip
        classes.append("passed" if line.points >= line.maximum - 1e-9 else "failed")
    header = ["question", "points", "rubric items given", "comment"]
    return f"<h2>Written answers</h2>{table(rows, header, numeric={1}, row_classes=classes)}"


def _rerun_section(page: Feedback) -> str:
    if not page.reruns:
        return ""
    cells = "".join(
        f"<h3>In “{escape(cell.section)}”</h3><pre class='cell'>{escape(cell.code)}</pre>"
        for cell in page.reruns
    )
    return (
        "<h2>What to run again in your notebook</h2><p>Fix the code the failed tests name, then "
        "run these self-check cells: they run the same checks as the grader, on your objects, "
        "and say what to fix.</p>" + cells
    )


def _problem_section(page: Feedback) -> str:
    changes = page.standing.late is not None or page.standing.adjustments
    return f'<p class="problem">{escape(page.problem)}</p>' + (
        _standing_section(page) if changes else ""
    )


def _graded_sections(page: Feedback) -> str:
    return "".join(
        (
            _standing_section(page) if page.total_shown else "",
            _accuracy_section(page.accuracy),
            _written_section(page),
            _tests_section(page),
            _rerun_section(page),
        )
    )


def feedback_page(page: Feedback) -> str:
    """The whole HTML document of one student's feedback on one assignment."""
    standing = page.standing
    if page.problem and standing.status == "missing":
        final = _points(standing.final)
        cards = f"<b>{final} / {_points(standing.maximum)}</b><span>not handed in</span>"
    elif page.problem:
        cards = "<b>not graded</b><span>see below</span>"
    elif page.total_shown:
        final = _points(standing.final)
        cards = f"<b>{final} / {_points(standing.maximum)}</b><span>final score</span>"
    else:
        cards = "<b>—</b><span>shown after the due date</span>"
    due = f" · due {escape(_when(page.due, page.zone))}" if page.due else ""
    due += " (your extension)" if page.due and page.extended else ""
    body = f"""
<h1>{escape(page.title)}</h1>
<div class="meta">Feedback for <b>{escape(page.student)}</b>{due}</div>
<div class="cards"><div class="card" id="final">{cards}</div></div>
{_problem_section(page) if page.problem else _graded_sections(page)}
"""
    return pages.page(f"{page.title}: feedback for {page.student}", body)


def _zip_pages(paths: list[Path], archive: Path) -> Path:
    """The pages `paths` (one student's folder) zipped into `archive` under that folder's name;
    nothing else in the folder (a page an earlier run wrote) goes in."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in paths:
            bundle.write(path, f"{path.parent.name}/{path.name}")
    return archive


def write_feedback(
    grades_dir: Path,
    out: Path,
    *,
    notebooks: Path | None = None,
    now: datetime | None = None,
) -> WrittenFeedback:
    """Write every student's pages under `out` and a zip of each student's folder.

    Args:
        grades_dir: the folder `kws grade --out` wrote (gradebook.csv, results/, standings.json).
        out: where to write: ``out/<student>/<assignment>.html`` and ``out/zips/<student>.zip``.
        notebooks: the released notebooks, whose self-check cells the pages point to
            (default: the course's, `course_notebooks`).
        now: the time Gradescope's visibility rules are judged at (default: now).

    Returns:
        The pages and zips written, and the students without results.
    """
    grades = with_standings(read_grades(Path(grades_dir)))
    standings = read_standings(grades.folder)
    check_marked(grades.folder, grades.standings, "zero")  # not marks the totals did not count
    course = kept_course(grades.folder)  # each student's due date, the course's time zone
    feedback = class_feedback(grades, standings, notebooks=notebooks or course_notebooks(), now=now,
                              course=course, written=written_part(grades.folder))  # fmt: skip
    written, by_student = [], {}
    for page in feedback:
        folder = Path(out) / safe_name(page.student)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{safe_name(page.assignment)}.html"
        path.write_text(feedback_page(page), encoding="utf-8")
        written.append(path)
        by_student.setdefault(page.student, []).append(path)
    zips = [
        _zip_pages(paths, Path(out) / "zips" / f"{paths[0].parent.name}.zip")
        for paths in by_student.values()
    ]
    ungraded = [s.name for s in grades.students if s.ungraded is not None]
    return WrittenFeedback(written, zips, ungraded, by_student)
