"""`kws report GRADES_DIR`: one self-contained HTML page about a graded class
(``kws/templates/report.html``, its figures embedded), the figures as PNG files beside it, and a
``similar_to`` column in the gradebook.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from kws.fonts import readable
from kws.grading.publish.report import analysis as data
from kws.grading.publish.report import figures
from kws.grading.publish.report.season import handed_in, season_table
from kws.grading.publish.report.written import written_table
from kws.grading.publish.similarity.groups import COMMON_MIN
from kws.grading.publish.similarity.matches import (
    REFERENCE,
    REFERENCE_THRESHOLD,
    THRESHOLD,
    Group,
    Match,
    class_matches,
    flagged_summary,
    match_groups,
    similar_to,
)
from kws.grading.records.files import private_folder, write_whole
from kws.grading.records.gradebook import write_similar_to
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings
from kws.pages import Table, code, flag, lines, pre, render, table


@dataclass
class Written:
    """What `write_report` wrote and found."""

    page: Path
    pictures: list[Path]
    gradebook: Path | None
    matches: list[Match]


@dataclass(frozen=True)
class _Picture:
    png: str  # base64
    alt: str


def _picture(figure: Figure | None, path: Path, alt: str) -> tuple[_Picture | None, Path | None]:
    """`figure` as base64 PNG for the page, and the PNG written to `path`; nothing for None."""
    if figure is None:
        return None, None
    buffer = io.BytesIO()
    readable(figure).savefig(buffer, format="png", dpi=110)  # test names in Chinese too
    write_whole(path, buffer.getvalue())  # the class's scores: the instructor's alone
    return _Picture(base64.b64encode(buffer.getvalue()).decode(), alt), path


@dataclass(frozen=True)
class _Card:
    name: str
    big: str  # the final median, of the maximum
    final: str
    raw: str
    count: str  # handed in and missing; "" for the total


def _cards(final: dict, raw: dict, grades: data.Grades) -> list[_Card]:
    """A card per notebook and one of the total: the final scores (after late penalties and
    adjustments) in large, the raw scores (the tests' points) below, each saying which it is."""
    cards = []
    for name, (scores, maximum) in final.items():
        after, before = data.summary(scores, maximum), data.summary(raw[name][0], maximum)
        count = ""
        if name != data.TOTAL:
            present, missing = handed_in(grades, name)
            count = f"{present} handed in · {missing} missing"
        cards.append(_Card(
            name, f"{after['median']:.3g} / {maximum:g}",
            f"final median · mean {after['mean']:.1f} · {after['full_share']:.0%} full marks",
            f"raw median {before['median']:.3g} · mean {before['mean']:.1f} · "
            f"{before['full_share']:.0%} full marks", count,
        ))  # fmt: skip
    return cards


def _failures(groups: list[data.FailureGroup], limit: int = 20) -> Table | None:
    if not groups:
        return None
    rows = []
    for g in groups[:limit]:
        who = ", ".join(g.students[:3]) + (" …" if len(g.students) > 3 else "")
        rows.append([str(len(g.students)), pre(g.message), lines(g.tests), who])
    return table(rows, numeric={0})  # its header in the template


def _accuracy_table(tasks: list[data.TaskAccuracy]) -> Table | None:
    if not tasks:
        return None
    rows = []
    for task in tasks:
        values = sorted(task.accuracies.values())
        reached = "tiers not stated in the results"
        if task.tiers:
            counts = {tier: sum(v >= line for v in values) for tier, line in task.tiers.items()}
            reached = ", ".join(f"{tier} {count}" for tier, count in counts.items())
        median = values[len(values) // 2] if values else float("nan")
        rows.append(
            [f"{task.assignment} / {task.task}", str(len(values)), f"{median:.3f}",
             str(task.target), reached]
        )  # fmt: skip
    header = ["task", "evaluated", "median", "target", "hand-ins at or above each tier"]
    return table(rows, header, numeric={1, 2})


def _side_by_side(match: Match) -> Table:
    """The matching lines of a match, one row per block: the first hand-in left, its partner
    right; each line labelled cell:line of the compared cells."""
    rows = [[code(a), code(b)] for a, b in match.blocks]
    return table(rows, [match.first, match.second], classes={0: "code", 1: "code"})


def _names(members: list[str], shown: int = 12) -> str:
    """Members as text: all of them up to `shown`, else the first ones and how many more."""
    more = len(members) - shown
    return ", ".join(members[:shown]) + (f" and {more} more" if more > 0 else "")


def _group_row(
    members: list[str], partner: str, pairs: list[Match]
) -> tuple[list[str], tuple[str, Table]]:
    """A table row and its details (a summary, the best pair's matching lines side by side) for
    hand-ins flagged together (a pair, a copy group, or the copies of the reference in one
    group)."""
    best, scores = pairs[0], sorted(m.score for m in pairs)
    score = f"{scores[0]:.0%}" if scores[0] == scores[-1] else f"{scores[0]:.0%}–{scores[-1]:.0%}"
    if len(members) == 1 or (len(members) == 2 and partner != REFERENCE):
        who, other = members[0], partner or members[1]
        title = f"{who} ↔ {other}"
    else:
        kind = "hand-ins in a copy group" if partner != REFERENCE else "hand-ins of one copy group"
        who, other = f"{len(members)} {kind}: {_names(members)}", partner or "each other"
        title = f"{len(members)} {kind} (e.g. {best.first} ↔ {best.second})"
    row = [who, other, best.assignment, score, str(best.shared)]
    summary = f"{title} · {best.assignment} · {score}: the matching lines"
    return row, (summary, _side_by_side(best))


def _rows(
    groups: list[Group], matches: list[Match]
) -> dict[str, list[tuple[list[str], tuple[str, Table]]]]:
    """The rows of the similarity tables: one per pair or copy group of hand-ins; with the
    reference, one per hand-in, or one per copy group whose members all match it."""
    between = [_group_row(g.members, "", g.pairs) for g in groups]
    with_reference = [m for m in matches if m.second == REFERENCE]
    rows, done = [], set()  # (hand-in, notebook): a hand-in may match in each notebook
    for match in with_reference:
        if (match.first, match.assignment) in done:
            continue
        inside = (
            g.members
            for g in groups
            if match.first in g.members and g.assignment == match.assignment
        )
        flagged = {m.first for m in with_reference if m.assignment == match.assignment}
        together = [m for m in next(inside, [match.first]) if m in flagged]
        done.update((member, match.assignment) for member in together)
        pairs = [m for m in with_reference
                 if m.first in together and m.assignment == match.assignment]  # fmt: skip
        rows.append(_group_row(together, REFERENCE, pairs))
    return {"Between hand-ins": between, "With the reference solution": rows}


@dataclass(frozen=True)
class _Similarity:
    """The report's "Similarity" section: the thresholds, what was flagged, and per title the
    table of pairs and groups with each one's matching lines (only the page's first open)."""

    compared: bool
    threshold: str
    reference_threshold: str
    common_min: int
    flagged: str
    sections: list[tuple[str, Table | None, list[tuple[bool, str, Table]]]]


def _similarity(
    matches: list[Match], threshold: float, reference_threshold: float, compared: bool
) -> _Similarity:
    sections, opened = [], False  # only the page's first matching lines are shown open
    for title, rows in _rows(match_groups(matches), matches).items() if matches else ():
        if not rows:
            sections.append((title, None, []))
            continue
        header = ["hand-in(s)", "similar to", "notebook", "score", "shared fingerprints"]
        listed = table([r for r, _ in rows], header, numeric={3, 4})
        details = [(number == 0 and not opened, summary, lines)
                   for number, (_, (summary, lines)) in enumerate(rows)]  # fmt: skip
        opened = True
        sections.append((title, listed, details))
    flagged = flagged_summary(matches) if matches else ""
    return _Similarity(compared, f"{threshold:.0%}", f"{reference_threshold:.0%}", COMMON_MIN,
                       flagged, sections)  # fmt: skip


def write_report(
    folder: Path,
    *,
    submissions: Path | None = None,
    out: Path | None = None,
    threshold: float = THRESHOLD,
    reference_threshold: float = REFERENCE_THRESHOLD,
    solutions: Path | None = None,
    skeletons: Path | None = None,
    jobs: int = 2,
) -> Written:
    """Read the grade folder, compare the hand-ins, write the page, its PNGs and the gradebook's
    ``similar_to`` column. `out` defaults to ``folder/report.html``."""
    for option, value in (("threshold", threshold), ("reference-threshold", reference_threshold)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"--{option} {value}: give a share between 0 and 1, e.g. 0.7")
    grades = with_standings(read_grades(folder, submissions))
    out = Path(out) if out is not None else grades.folder / "report.html"
    private_folder(out.parent, existing=False)
    compared = grades.submissions is not None and grades.submissions.is_dir()
    if grades.submissions is not None and not compared:
        raise FileNotFoundError(
            f"{grades.submissions}: the hand-ins folder is gone; pass --submissions DIR"
        )
    matches: list[Match] = []
    if compared:
        given = {k: v for k, v in (("solutions", solutions), ("skeletons", skeletons)) if v}
        given |= {"threshold": threshold, "reference_threshold": reference_threshold, "jobs": jobs}
        matches = class_matches(grades.submissions, [s.name for s in grades.students], **given)
    gradebook = write_similar_to(grades, similar_to(matches)) if compared else None

    final, raw = data.score_distributions(grades, "final"), data.score_distributions(grades)
    tests = data.test_table(grades)
    tasks = data.accuracies(grades)
    times = data.grading_times(grades)
    flags = data.attention_flags(grades)
    stem = out.with_suffix("")
    pictures, images = [], {}
    for key, figure, alt in (
        ("scores", figures.score_histograms(final, raw), "final and raw score histograms"),
        ("tests", figures.tests_chart(tests), "points lost per test"),
        ("accuracy", figures.accuracy_chart(tasks), "hidden-test accuracy per task"),
        ("time", figures.time_histogram(times), "grading time per hand-in"),
    ):
        images[key], path = _picture(figure, Path(f"{stem}-{key}.png"), alt)
        pictures += [path] if path else []

    test_rows = [
        [t.name, t.assignment, f"{t.max_score:g}", f"{t.pass_rate:.0%}", f"{t.points_lost:g}"]
        for t in tests
    ]
    flag_rows = [[f.student, flag(f.kind), pre(f.reason)] for f in flags]
    slowest = [[n, f"{t:.1f}"] for n, t in sorted(times.items(), key=lambda i: -i[1])]
    html = render(
        "report.html",
        title="Class report",
        students=len(grades.students),
        folder=str(grades.folder),
        cards=_cards(final, raw, grades),
        pictures=images,
        tests=table(
            test_rows, ["test", "notebook", "points", "pass rate", "points lost"], numeric={2, 3, 4}
        ),  # fmt: skip
        failures=_failures(data.failure_groups(grades)),
        accuracy=_accuracy_table(tasks),
        written=written_table(grades),
        season=season_table(grades),
        flags=table(flag_rows, ["hand-in", "why", "details"]) if flags else None,
        similar=_similarity(matches, threshold, reference_threshold, compared),
        slowest=table(slowest[:10], ["hand-in (the slowest)", "seconds"], numeric={1})
        if slowest
        else None,
        every=table(slowest, ["hand-in", "seconds"], numeric={1}) if len(slowest) > 10 else None,
    )
    write_whole(out, html)
    return Written(out, pictures, gradebook, matches)
