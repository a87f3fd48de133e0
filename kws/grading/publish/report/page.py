"""`kws report GRADES_DIR`: one self-contained HTML page about a graded class, its figures as
PNG files beside it, and a ``similar_to`` column in the gradebook.

The page needs nothing from the network: the styles are inline (the kit's pages',
`kws.pages`) and every figure is embedded as base64 PNG (the same figures are written as
``report-*.png`` for slides and e-mails).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from kws.grading.publish.report import analysis as data
from kws.grading.publish.report import figures
from kws.grading.publish.report.season import handed_in, season_section
from kws.grading.publish.report.written import written_section
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
from kws.grading.records.gradebook import write_similar_to
from kws.grading.records.grades import read_grades
from kws.grading.season.compute import with_standings
from kws.pages import escape, page, table


@dataclass
class Written:
    """What `write_report` wrote and found."""

    page: Path
    pictures: list[Path]
    gradebook: Path | None
    matches: list[Match]


def _picture(figure: Figure | None, path: Path, alt: str) -> tuple[str, Path | None]:
    """The <img> of `figure` (base64 PNG) and the PNG written to `path`; nothing for None."""
    if figure is None:
        return "", None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    path.write_bytes(buffer.getvalue())
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">', path


def _cards(final: dict, raw: dict, grades: data.Grades) -> str:
    """A card per notebook and one of the total: the final scores (after late penalties and
    adjustments) in large, the raw scores (the tests' points) below, each saying which it is."""
    cards = []
    for name, (scores, maximum) in final.items():
        after, before = data.summary(scores, maximum), data.summary(raw[name][0], maximum)
        count = ""
        if name != data.TOTAL:
            present, missing = handed_in(grades, name)
            count = f"<br>{present} handed in · {missing} missing"
        cards.append(
            f'<div class="card"><span>{escape(name)}</span><b>{after["median"]:.3g} / '
            f"{maximum:g}</b><span>final median · mean {after['mean']:.1f} · "
            f"{after['full_share']:.0%} full marks<br>raw median {before['median']:.3g} · mean "
            f"{before['mean']:.1f} · {before['full_share']:.0%} full marks{count}</span></div>"
        )
    note = (
        '<p class="note">Final: after late penalties and adjustments (what the exports send). '
        "Raw: the tests' points.</p>"
    )
    return f'<div class="cards">{"".join(cards)}</div>{note}'


def _failures(groups: list[data.FailureGroup], limit: int = 20) -> str:
    if not groups:
        return '<p class="none">No test failed.</p>'
    rows = [
        [
            str(len(g.students)),
            f"<pre>{escape(g.message)}</pre>",
            "<br>".join(escape(test) for test in g.tests),
            escape(", ".join(g.students[:3]) + (" …" if len(g.students) > 3 else "")),
        ]
        for g in groups[:limit]
    ]
    header = ["students", "message (the first student's; numbers vary)", "tests", "for example"]
    return table(rows, header, numeric={0})


def _accuracy_table(tasks: list[data.TaskAccuracy]) -> str:
    rows = []
    for task in tasks:
        values = sorted(task.accuracies.values())
        reached = (
            ", ".join(
                f"{tier} {sum(v >= line for v in values)}" for tier, line in task.tiers.items()
            )
            if task.tiers
            else "tiers not stated in the results"
        )
        median = values[len(values) // 2] if values else float("nan")
        rows.append(
            [
                escape(f"{task.assignment} / {task.task}"),
                str(len(values)),
                f"{median:.3f}",
                escape(str(task.target)),
                reached,
            ]
        )
    header = ["task", "evaluated", "median", "target", "hand-ins at or above each tier"]
    return table(rows, header, numeric={1, 2})


def _side_by_side(match: Match) -> str:
    """The matching lines of a match, one row per block: the first hand-in left, its partner
    right; each line labelled cell:line of the compared cells."""

    def code(lines: list[tuple[str, str]]) -> str:
        shown = [
            f'<span class="ln">{escape(label):>6}</span>  {escape(text)}' for label, text in lines
        ]
        return f"<pre>{chr(10).join(shown)}</pre>"

    rows = [[code(a), code(b)] for a, b in match.blocks]
    header = [escape(match.first), escape(match.second)]
    return table(rows, header, classes={0: "code", 1: "code"})


def _names(members: list[str], shown: int = 12) -> str:
    """Members as text: all of them up to `shown`, else the first ones and how many more."""
    more = len(members) - shown
    return ", ".join(members[:shown]) + (f" and {more} more" if more > 0 else "")


def _group_row(members: list[str], partner: str, pairs: list[Match]) -> tuple[list[str], str]:
    """A table row and its details for hand-ins flagged together (a pair, a copy group, or the
    copies of the reference in one group): the best pair's matching lines side by side."""
    best, scores = pairs[0], sorted(m.score for m in pairs)
    score = f"{scores[0]:.0%}" if scores[0] == scores[-1] else f"{scores[0]:.0%}–{scores[-1]:.0%}"
    if len(members) == 1 or (len(members) == 2 and partner != REFERENCE):
        who, other = members[0], partner or members[1]
        title = f"{who} ↔ {other}"
    else:
        kind = "hand-ins in a copy group" if partner != REFERENCE else "hand-ins of one copy group"
        who, other = f"{len(members)} {kind}: {_names(members)}", partner or "each other"
        title = f"{len(members)} {kind} (e.g. {best.first} ↔ {best.second})"
    row = [escape(who), escape(other), escape(best.assignment), score, str(best.shared)]
    summary = f"{escape(title)} · {escape(best.assignment)} · {score}: the matching lines"
    return row, f"<summary>{summary}</summary>{_side_by_side(best)}"


def _rows(groups: list[Group], matches: list[Match]) -> dict[str, list[tuple[list[str], str]]]:
    """The rows of the similarity tables: one per pair or copy group of hand-ins; with the
    reference, one per hand-in, or one per copy group whose members all match it."""
    between = [_group_row(g.members, "", g.pairs) for g in groups]
    with_reference = [m for m in matches if m.second == REFERENCE]
    rows, done = [], set()  # (hand-in, notebook): a hand-in may match in each notebook
    for match in with_reference:
        if (match.first, match.assignment) in done:
            continue
        group = next(
            (g for g in groups if match.first in g.members and g.assignment == match.assignment),
            None,
        )
        flagged = {m.first for m in with_reference if m.assignment == match.assignment}
        together = [match.first]
        if group is not None:
            together = [m for m in group.members if m in flagged]
        done.update((member, match.assignment) for member in together)
        pairs = [m for m in with_reference
                 if m.first in together and m.assignment == match.assignment]  # fmt: skip
        rows.append(_group_row(together, REFERENCE, pairs))
    return {"Between hand-ins": between, "With the reference solution": rows}


def _similarity(
    matches: list[Match], threshold: float, reference_threshold: float, compared: bool
) -> str:
    if not compared:
        return (
            '<p class="note">Not compared: the hand-ins folder is unknown (pass --submissions).</p>'
        )
    intro = (
        f'<p class="note">Graded code cells (tagged <code>model</code>, and the cells defining '
        f"a spec's compared names) after normalising names, comments, layout, strings and the "
        f"order of independent statements; the released skeleton, and code more than a tenth of "
        f"the class (and more than {COMMON_MIN} hand-ins) shares, left out, a copy group counted "
        f"once. Pairs scoring at least {threshold:.0%}, and hand-ins sharing at least "
        f"{reference_threshold:.0%} with the reference solution, are listed, each pair or copy "
        f"group once, with its matching lines side by side (labelled cell:line, counting the "
        f"graded cells of the notebook from 1). A flag is evidence for a person to read, never "
        f"a deduction.</p>"
    )
    if not matches:
        return (
            intro
            + '<p class="none">No pair of hand-ins and no hand-in and the reference solution share unusually much code.</p>'
        )
    intro += f"<p><b>Flagged: {escape(flagged_summary(matches))}.</b></p>"
    sections, opened = [], False  # only the page's first matching lines are shown open
    for title, rows in _rows(match_groups(matches), matches).items():
        if not rows:
            sections.append(f"<h3>{title}</h3><p class='none'>None.</p>")
            continue
        header = ["hand-in(s)", "similar to", "notebook", "score", "shared fingerprints"]
        listed = table([r for r, _ in rows], header, numeric={3, 4})
        details = "".join(
            f"<details{' open' * (number == 0 and not opened)}>{inside}</details>"
            for number, (_, inside) in enumerate(rows)
        )
        opened = True
        sections.append(f"<h3>{title}</h3>{listed}{details}")
    return intro + "".join(sections)


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
    out.parent.mkdir(parents=True, exist_ok=True)
    compared = grades.submissions is not None and grades.submissions.is_dir()
    if grades.submissions is not None and not compared:
        raise FileNotFoundError(
            f"{grades.submissions}: the hand-ins folder is gone; pass --submissions DIR"
        )
    matches: list[Match] = []
    if compared:
        kit = {k: v for k, v in (("solutions", solutions), ("skeletons", skeletons)) if v}
        names = [s.name for s in grades.students]
        matches = class_matches(
            grades.submissions,
            names,
            threshold=threshold,
            reference_threshold=reference_threshold,
            jobs=jobs,
            **kit,
        )
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
        [
            escape(t.name),
            escape(t.assignment),
            f"{t.max_score:g}",
            f"{t.pass_rate:.0%}",
            f"{t.points_lost:g}",
        ]
        for t in tests
    ]
    flag_rows = [
        [
            escape(f.student),
            f'<span class="flag">{escape(f.kind)}</span>',
            f"<pre>{escape(f.reason)}</pre>",
        ]
        for f in flags
    ]
    slowest = [[escape(n), f"{t:.1f}"] for n, t in sorted(times.items(), key=lambda i: -i[1])]
    body = f"""
<h1>Class report</h1>
<div class="meta">{len(grades.students)} hand-ins · {escape(str(grades.folder))}</div>
{_cards(final, raw, grades)}
<h2>Scores</h2>{images["scores"]}
<h2>Tests</h2>{images["tests"]}
{table(test_rows, ["test", "notebook", "points", "pass rate", "points lost"], numeric={2, 3, 4})}
<h2>Most common failures</h2>{_failures(data.failure_groups(grades))}
<h2>Hidden-test accuracy</h2>{images["accuracy"] or '<p class="note">No accuracy was stated in the results.</p>'}
{_accuracy_table(tasks) if tasks else ""}
<h2>Written answers</h2>{written_section(grades)}
<h2>Late work and adjustments</h2>{season_section(grades)}
<h2>Hand-ins to look at</h2>
{table(flag_rows, ["hand-in", "why", "details"]) if flags else '<p class="none">None: no manual-review flag, tampering, crash or time-out.</p>'}
<h2>Similarity</h2>{_similarity(matches, threshold, reference_threshold, compared)}
<h2>Grading time</h2>{images["time"]}
{table(slowest[:10], ["hand-in (the slowest)", "seconds"], numeric={1}) if slowest else ""}
{f"<details><summary>all {len(slowest)} hand-ins</summary>{table(slowest, ['hand-in', 'seconds'], numeric={1})}</details>" if len(slowest) > 10 else ""}
"""
    out.write_text(page("Class report", body), encoding="utf-8")
    return Written(out, pictures, gradebook, matches)
