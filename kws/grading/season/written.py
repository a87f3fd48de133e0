"""The written questions of the graded notebooks, as the grades record them from the first grade.

    asked = notebook_rubrics({"speaker_id"})      # [Rubric]: each question its points and rubric

Whether a notebook asks written questions, and what each is worth, is the solution notebook's
(`kws.written.questions`); `kws.grading.season.apply` records them in ``marks/rubrics.json``
whenever it applies the season, so the totals count them (and the exports refuse answers no
one marked) whether or not `kws mark` ever ran. A course without its solution notebooks on this
machine (a kit installed without a checkout) records none: the exports then count the tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from kws.grading.records.marks import Item, Rubric
from kws.notebooks import read_notebook
from kws.spec import ASSIGNMENTS, course
from kws.written.questions import read_questions


def notebook_rubrics(assignments: Iterable[str]) -> list[Rubric]:
    """The written questions of the solution notebooks of `assignments` (the course's,
    `kws.spec.course`), as the grades folder records them; [] for a notebook that asks none or
    is not on this machine.

    Raises:
        QuestionError: a question of a notebook cannot be read (naming the notebook and cell).
    """
    solutions = course().solutions
    found = []
    for name in sorted(set(assignments)):
        spec = ASSIGNMENTS.get(name)
        path = solutions / spec.notebook if spec is not None else None
        if path is None or not path.is_file():
            continue
        for q in read_questions(read_notebook(path), name=str(path)):
            if q.points <= 0:  # worth nothing: nothing to count
                continue
            items = tuple(Item(i.id, i.points, i.text) for i in q.rubric)
            found.append(Rubric(name, q.id, q.kind, q.points, q.prompt, q.model_answer, items))
    return found
