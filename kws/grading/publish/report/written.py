"""The class report's view of the written answers (for `kws.grading.publish.report.page`), from
``marks/`` (`kws.grading.records.marks.written.written_part`)."""

from __future__ import annotations

from collections import Counter
from statistics import mean

from kws.grading.records.marks.written import written_part
from kws.pages import Table, lines, table


def written_table(grades) -> Table | None:
    """The report's "Written answers" table (None where no notebook asks a question), from
    ``marks/``: one row per question, with its notebook, points, how many of the hand-ins that
    hold the notebook are marked, the mean, the distribution (how many got each score) and the
    rubric items most given (how many answers got each)."""
    written, rows = written_part(grades.folder), []
    for name, keys in sorted(written.questions.items()):
        handed = [s.name for s in grades.students if grades.status(s.name, name) == "graded"]
        for key in keys:
            rubric, marks = written.rubrics[key], written.marks.get(key, {})
            given = [marks[s] for s in handed if s in marks]
            scores = [rubric.score(mark) for mark in given]
            spread = Counter(round(score, 2) for score in scores)
            bars = " · ".join(f"{score:g}: {spread[score]}" for score in sorted(spread))
            items = Counter(item for mark in given for item in mark.items)
            texts = {item.id: item.text for item in rubric.items}
            most = [f"{texts.get(item, item)} ({count} of {len(given)})"
                    for item, count in items.most_common(3)]  # fmt: skip
            rows.append([
                name, rubric.title, f"{rubric.points:g}",
                f"{len(given)} / {len(handed)}", f"{mean(scores):.2f}" if scores else "—",
                bars or "—", lines(most) if most else "—",
            ])  # fmt: skip
    if not rows:
        return None
    header = ["notebook", "question", "points", "marked", "mean", "points: answers",
              "rubric items most given"]  # fmt: skip
    return table(rows, header, numeric={2, 3, 4})
