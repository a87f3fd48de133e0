"""The written questions of a course's notebooks and their points (`written_questions`), decided
once into a run's plan (`kws.grading.judge.planned.decide_grading`), never read from the notebooks
again.
"""

from __future__ import annotations

from collections.abc import Iterable


def written_questions(assignments: Iterable[str]) -> dict[str, list[dict]]:
    """{assignment: its solution notebook's written questions worth points, in notebook
    order}, for each of `assignments` of the course (`kws.spec.course`); [] for one that asks
    none, is not on this machine or is no assignment of the course.

    Each question is a dict, as JSON holds it: ``question`` (its id), ``kind``, ``points``,
    ``prompt``, ``model_answer`` and ``items`` (each ``id``, ``points``, ``text``).

    Raises:
        QuestionError: a question of a notebook cannot be read (naming the notebook and cell).
    """
    from kws.notebooks import read_notebook
    from kws.spec import ASSIGNMENTS, course
    from kws.written.questions import read_questions

    solutions = course().solutions
    found: dict[str, list[dict]] = {}
    for name in sorted(set(assignments)):
        spec = ASSIGNMENTS.get(name)
        path = solutions / spec.notebook if spec is not None else None
        found[name] = []
        if path is None or not path.is_file():
            continue
        for q in read_questions(read_notebook(path), name=str(path)):
            if q.points <= 0:  # worth nothing: nothing to count
                continue
            items = [{"id": i.id, "points": i.points, "text": i.text} for i in q.rubric]
            found[name].append({"question": q.id, "kind": q.kind, "points": q.points,
                                "prompt": q.prompt, "model_answer": q.model_answer,
                                "items": items})  # fmt: skip
    return found
