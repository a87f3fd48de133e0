"""`kws feedback GRADES_DIR --out DIR`: a page per student and notebook, as files to hand back
(`write_feedback`). Each page is ``kws/templates/feedback.html``, needs nothing from the network
(the kit's inline styles, `kws.pages`; the accuracy picture an inline SVG) and prints on paper.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from kws.grading.publish.feedback.pages import (
    Accuracy,
    Feedback,
    class_feedback,
    kept_course,
)
from kws.grading.publish.feedback.rerun import course_notebooks
from kws.grading.publish.report.figures import TIER_COLOURS
from kws.grading.records.files import private_folder, write_whole, write_zip
from kws.grading.records.gradebook import safe_name
from kws.grading.records.grades import read_grades
from kws.grading.records.marks.written import check_marked, written_part
from kws.grading.records.standings import read_standings
from kws.grading.season.compute import with_standings
from kws.grading.season.course import Course
from kws.i18n import gettext as _
from kws.i18n import ngettext, speaking
from kws.pages import Table, bold, italic, lines, pre, render, table
from kws.spec import ASSIGNMENTS, TIER_ORDER


@dataclass
class WrittenFeedback:
    """What `write_feedback` wrote."""

    pages: list[Path]
    zips: list[Path]
    ungraded: list[str]  # students the grader wrote no results for (their page says so)
    by_student: dict[str, list[Path]] = field(default_factory=dict)


def _points(value: float) -> str:
    return f"{value:.4g}"


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '−'}{_points(abs(value))}"


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


@dataclass(frozen=True)
class TierLine:
    """A tier's line in the accuracy picture: where (`x`, its label's `y`), its colour and
    weight (the tier that gives full marks bold), its label."""

    x: float
    y: int
    colour: str
    stroke: float
    weight: str
    label: str


@dataclass(frozen=True)
class AccuracyPicture:
    """What ``feedback.html``'s `accuracy_svg` draws: a scale from `start` to 1, `left` to
    `left + span` pixels, the tiers' lines, and the student's accuracy (a marker at `mark`,
    the bar `filled` wide, its label centred at `said`)."""

    width: int
    left: int
    span: int
    start: str
    tiers: list[TierLine]
    mark: float
    filled: float
    said: float
    accuracy: str
    label: str


def accuracy_picture(item: Accuracy, width: int = 640) -> AccuracyPicture:
    """The geometry, for the template to draw as inline SVG, `width` pixels wide, of the task's
    accuracy (`item`, a marker) on a scale from `_scale_start` to 1 (both ends labelled) with the
    tier lines; the tier that gives full marks drawn bold."""
    left, span, start = 34, width - 68, _scale_start(item)

    def x(value: float) -> float:
        return round(left + span * (min(max(value, start), 1.0) - start) / (1.0 - start), 1)

    tiers = []
    for number, tier in enumerate(TIER_ORDER if item.tiers else ()):
        line, bold = item.tiers[tier], tier == item.target
        tiers.append(TierLine(x(line), 12 + 13 * (number % 2), TIER_COLOURS[tier],  # staggered
                              3 if bold else 1.5, "bold" if bold else "normal",
                              f"{tier} {line:.3g}"))  # fmt: skip
    mark = x(item.accuracy)
    said = min(max(mark, left + 36), left + span - 36)  # the label stays inside the picture
    label = _("accuracy {accuracy} against the tiers").format(accuracy=f"{item.accuracy:.4f}")
    return AccuracyPicture(width, left, span, f"{start:g}", tiers, mark, mark - left, said,
                           f"{item.accuracy:.4f}", label)  # fmt: skip


@dataclass(frozen=True)
class _Task:
    heading: str  # "1: accuracy 0.9100 reaches the gold tier; full marks at ..."
    picture: AccuracyPicture


def _accuracy(items: list[Accuracy]) -> list[_Task]:
    tasks = []
    for item in items:
        if item.tiers and item.target:
            reached = [t for t in TIER_ORDER if item.accuracy >= item.tiers[t]]
            said = (_("reaches the {tier} tier").format(tier=reached[-1]) if reached
                    else _("reaches no tier yet"))  # fmt: skip
            goal = _("; full marks at {tier} ({threshold})").format(
                tier=item.target, threshold=f"{item.tiers[item.target]:.4g}"
            )
        else:
            said, goal = "", _(" (the tiers were not recorded with your result)")
        heading = _("{task}: accuracy {accuracy} {reached}{goal}").format(
            task=item.task, accuracy=f"{item.accuracy:.4f}", reached=said, goal=goal
        )
        tasks.append(_Task(heading, accuracy_picture(item)))
    return tasks


def _standing(page: Feedback) -> Table:
    standing = page.standing
    if standing.written or page.written:
        rows = [[_("Tests"), _points(standing.raw - standing.written)],
                [_("Written answers"), _points(standing.written)],
                [_("Raw score"), _points(standing.raw)]]  # fmt: skip
    else:
        rows = [[_("Tests (raw score)"), _points(standing.raw)]]
    if standing.late is not None:
        late = standing.late
        handed, due = _when(late.submitted, page.zone), _when(late.due, page.zone)
        used = ngettext("{n} grace day used", "{n} grace days used", late.grace_days_used)
        what = _(
            "Late: handed in {handed}, due {due} ({hours} h late; {used}). Rule: {rule}. "
            "Hand-in time from: {source}."
        ).format(handed=handed, due=due, hours=f"{late.hours_late:.1f}",
                 used=used.format(n=late.grace_days_used), rule=late.rule, source=late.source)  # fmt: skip
        rows.append([what, f"−{_points(late.penalty)}"])
    for change in standing.adjustments:
        who = f"{change.who}, {_when(change.when, page.zone)}"
        rows.append([_("Adjustment: {reason} ({who})").format(reason=change.reason, who=who),
                     _signed(change.points)])  # fmt: skip
    rows.append([bold(_("Final score")), bold(_points(standing.final))])
    return table(rows, [_("what"), _("points")], numeric={1})


def _tests(page: Feedback) -> Table:
    rows, statuses = [], []
    for test in page.tests:
        status = "passed" if test.passed else "failed"  # the row's class
        said = _("passed") if test.passed else _("failed")
        rerun = (
            [_("run again: "), italic(test.rerun.section)] if test.rerun and not test.passed else ""
        )
        rows.append([test.name, f"{_points(test.score)} / {_points(test.max_score)}",
                     pre(test.message or said), rerun])  # fmt: skip
        statuses.append(status)
    header = [_("test"), _("points"), _("message"), _("what to re-run")]
    return table(rows, header, numeric={1}, row_classes=statuses)


def _overrides(page: Feedback) -> Table | None:
    """The tests a person gave other points than the grader (`kws override`), or None. A test
    the page does not show is "a test not shown here", its points given only where the page
    gives the total (which counts them)."""
    rows = []
    for test in page.tests:
        if test.override:
            given = test.override
            who = f"{given['who']}, {_when(given['when'], page.zone)}"
            rows.append([test.name, _points(given["original"]), _points(given["points"]),
                         _("{reason} ({who})").format(reason=given["reason"], who=who)])  # fmt: skip
    for given in page.withheld_overrides:  # nothing of the test: its name, message, or points
        who = f"{given['who']}, {_when(given['when'], page.zone)}"  # while the total hides them
        points = [_points(given["original"]), _points(given["points"])]
        rows.append([_("a test not shown here"), *(points if page.total_shown else ["", ""]),
                     _("{reason} ({who})").format(reason=given["reason"], who=who)])  # fmt: skip
    if not rows:
        return None
    header = [_("test"), _("grader's points"), _("points now"), _("why")]
    return table(rows, header, numeric={1, 2})


def _requests(page: Feedback) -> Table | None:
    """The student's regrade requests and their answers (`kws requests`), or None."""
    rows = []
    for thread in page.requests:
        for event in thread.events:
            if event.event == "asked":
                rows.append([thread.question, _("you asked"), event.text, ""])
            else:
                kept = event.points is None
                said = (
                    _("mark kept")
                    if kept
                    else _("now {points}").format(points=_points(event.points))
                )
                rows.append([thread.question, _("answer ({who})").format(who=event.who),
                             event.text, said])  # fmt: skip
        if thread.open:
            rows.append([thread.question, "", italic(_("not answered yet")), ""])
    if not rows:
        return None
    return table(rows, [_("question"), _("who"), _("what was said"), _("points")])


def _written(page: Feedback) -> Table | None:
    if not page.written:
        return None
    rows, classes = [], []
    for line in page.written:
        if not line.marked:
            rows.append(
                [line.title, f"— / {_points(line.maximum)}", italic(_("not marked yet")), ""]
            )
            classes.append("")
            continue
        given = [f"{text} ({_signed(points)})" for text, points in line.items]
        if line.adjust:
            given.append(_("beyond the rubric ({points})").format(points=_signed(line.adjust)))
        rows.append([line.title, f"{_points(line.points)} / {_points(line.maximum)}",
                     lines(given) if given else italic(_("no rubric item")),
                     pre(line.comment) if line.comment else ""])  # fmt: skip
        classes.append("passed" if line.points >= line.maximum - 1e-9 else "failed")
    header = [_("question"), _("points"), _("rubric items given"), _("comment")]
    return table(rows, header, numeric={1}, row_classes=classes)


def _card(page: Feedback) -> tuple[str, str]:
    """The card at the top: the score in large, what it is below."""
    standing = page.standing
    final = f"{_points(standing.final)} / {_points(standing.maximum)}"
    if page.problem and standing.status == "missing":
        return final, _("not handed in")
    if page.problem:
        return _("not graded"), _("see below")
    return (final, _("final score")) if page.total_shown else ("—", _("shown after the due date"))


def page_language(assignment: str, course: Course | None) -> str | None:
    """The language of a page on `assignment`: its spec's ``language``, else the course file's
    (`course`), else None (the active one: ``KWS_LANGUAGE`` or English)."""
    spec = ASSIGNMENTS.get(assignment)
    return (spec.language if spec else None) or (course.language if course else None)


def feedback_page(page: Feedback, language: str | None = None) -> str:
    """The whole HTML document (``feedback.html``) of one student's feedback `page` on one
    assignment, in `language` (a BCP 47 tag; None: the active one, `kws.i18n`)."""
    with speaking(language):
        return _feedback_page(page)


def _ask(page: Feedback) -> dict | None:
    """Where and until when the student asks about a mark (the course file's ``regrade_how``
    and ``[requests]``), or None where the course says neither."""
    if not (page.ask_by or page.ask_how):
        return None
    how = page.ask_how
    link = how if re.fullmatch(r"https?://\S+", how) else None
    return {"by": _when(page.ask_by, page.zone) if page.ask_by else "", "how": how, "link": link}


def _feedback_page(page: Feedback) -> str:
    changes = page.standing.late is not None or bool(page.standing.adjustments)
    graded = not page.problem
    return render(
        "feedback.html",
        title=_("{title}: feedback for {student}").format(
            title=_(page.title), student=page.student
        ),
        heading=_(page.title),  # the spec's title, looked up in the catalog as a sentence is
        student=page.student,
        due=_when(page.due, page.zone) if page.due else "",
        extended=page.extended,
        card=_card(page),
        problem=_(page.problem) if page.problem else None,
        score=_standing(page) if (page.total_shown if graded else changes) else None,
        accuracy=_accuracy(page.accuracy) if graded else [],
        written=_written(page) if graded else None,
        tests=_tests(page) if graded else None,
        overrides=_overrides(page) if graded else None,
        requests=_requests(page) if graded else None,
        ask=_ask(page) if graded else None,
        withheld=page.withheld,
        total_shown=page.total_shown,
        reruns=page.reruns if graded else [],
    )


def _zip_pages(paths: list[Path], archive: Path) -> Path:
    """The pages `paths` (one student's folder) zipped into `archive` under that folder's name;
    nothing else in the folder (a page an earlier run wrote) goes in."""
    entries = [(path, f"{path.parent.name}/{path.name}") for path in paths]
    return write_zip(private_folder(archive.parent) / archive.name, entries)


def write_feedback(
    grades_dir: Path,
    out: Path,
    *,
    notebooks: Path | None = None,
    now: datetime | None = None,
) -> WrittenFeedback:
    """Write every student's pages under `out` (``out/<student>/<assignment>.html``) and a zip
    of each student's folder (``out/zips/<student>.zip``), from the folder `kws grade --out`
    wrote, `grades_dir`; `notebooks`: the released notebooks, whose self-check cells the pages
    point to (default: the course's, `course_notebooks`); `now`: the time Gradescope's
    visibility rules are judged at (default: now). Returns the pages and zips written, and the
    students without results."""
    grades = with_standings(read_grades(Path(grades_dir)))
    standings = read_standings(grades.folder)
    check_marked(grades.folder, grades.standings, "zero")  # not marks the totals did not count
    course = kept_course(grades.folder)  # each student's due date, the course's time zone
    feedback = class_feedback(grades, standings, notebooks=notebooks or course_notebooks(), now=now,
                              course=course, written=written_part(grades.folder))  # fmt: skip
    written, by_student = [], {}
    private_folder(out)  # the class's pages: the instructor's alone, whatever the umask
    for page in feedback:
        folder = private_folder(Path(out) / safe_name(page.student))  # and `out`, if made
        language = page_language(page.assignment, course)
        page_file = folder / f"{safe_name(page.assignment)}.html"
        path = write_whole(page_file, feedback_page(page, language))
        written.append(path)
        by_student.setdefault(page.student, []).append(path)
    zips = [
        _zip_pages(paths, Path(out) / "zips" / f"{paths[0].parent.name}.zip")
        for paths in by_student.values()
    ]
    ungraded = [s.name for s in grades.students if s.ungraded is not None]
    return WrittenFeedback(written, zips, ungraded, by_student)
