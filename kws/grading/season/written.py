"""The written questions of the graded notebooks, as the grades record them from the first grade.

    asked = plan_rubrics(written, {"speaker_id"})   # [Rubric]: the plan's questions
    asked = notebook_rubrics({"speaker_id"})        # the same, for a folder that keeps no plan

Every command takes them from the plan kept in the grades folder (`kws.grading.records.plan`,
`kws.grading.season.apply.counted_questions`); only a folder graded by a kit that kept no plan
has them from the solution notebooks (how they are recorded:
docs/reference/written-questions.md). A course without its solution notebooks on this machine
(a kit installed without a checkout) records none, and `kws grade` refuses a written-only
notebook without its solution notebook (`kws.grading.classrun.plan.check_questions`).
"""

from __future__ import annotations

from collections.abc import Iterable

from kws.grading.judge.written import written_questions
from kws.grading.records.marks.rubric import Item, Rubric


def plan_rubrics(written: dict[str, list[dict]], assignments: Iterable[str]) -> list[Rubric]:
    """The written questions of `assignments` in a plan's `written`
    (`kws.grading.judge.written.written_questions`'s {assignment: [question]}), as the grades
    folder records them, by assignment name; none for an assignment the plan has none of."""
    found = []
    for name in sorted(set(assignments)):
        for q in written.get(name, []):
            items = tuple(Item(i["id"], i["points"], i["text"]) for i in q["items"])
            found.append(Rubric(name, q["question"], q["kind"], q["points"], q["prompt"],
                                q["model_answer"], items))  # fmt: skip
    return found


def notebook_rubrics(assignments: Iterable[str]) -> list[Rubric]:
    """The written questions of the solution notebooks of `assignments` (the course's,
    `kws.spec.course`), decided as a plan decides them (`written_questions`), as the grades
    folder records them; [] for a notebook that asks none or is not on this machine. For a
    grades folder that keeps no plan (graded by a kit that kept none).

    Raises:
        QuestionError: a question of a notebook cannot be read (naming the notebook and cell).
    """
    assignments = sorted(set(assignments))
    return plan_rubrics(written_questions(assignments), assignments)
