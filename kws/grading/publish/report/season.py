"""The class report's view of the season (for `kws.grading.publish.report.page`): who handed in each
notebook, who was late and what it cost, and every adjustment a person made."""

from __future__ import annotations

from kws.pages import Table, table


def handed_in(grades, assignment: str) -> tuple[int, int]:
    """(students graded or ungraded in `assignment`, students missing it)."""
    statuses = [grades.status(s.name, assignment) for s in grades.students]
    return len(statuses) - statuses.count("missing"), statuses.count("missing")


def season_table(grades) -> Table | None:
    """The report's "Late work and adjustments" table, one row per late hand-in or adjusted
    grade: student, notebook, raw, late (how late, the grace days used, the penalty, the time's
    source), adjustments, final; None when every hand-in was on time and none adjusted."""
    rows = []
    for student in grades.students:
        for name, s in grades.standings.students.get(student.name, {}).items():
            if s.late is None and not s.adjustments:
                continue
            late = ""
            if s.late is not None:
                late = (f"{s.late.hours_late:g} h late; {s.late.grace_days_used} grace day(s); "
                        f"−{s.late.penalty:g} ({s.late.source})")  # fmt: skip
            adjusted = "; ".join(f"{a.points:+g}: {a.reason} ({a.who}, {a.when})"
                                 for a in s.adjustments)  # fmt: skip
            final = f"{s.final:g} / {s.maximum:g}"
            rows.append([student.name, name, f"{s.raw:g}", late, adjusted, final])
    if not rows:
        return None
    header = ["hand-in", "notebook", "raw", "late", "adjustments", "final"]
    return table(rows, header, numeric={2, 5})
