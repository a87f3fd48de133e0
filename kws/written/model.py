"""The written questions' data: a question, its rubric's items, the tags that give a cell its
role, the placeholder an empty answer cell holds, and the error every reader raises
(`kws.written.questions` reads the kit's format, `kws.written.foreign` nbgrader's and otter's).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

ROLES = ("question", "task", "answer", "rubric")
ROLE_TAG = re.compile(r"^(?P<role>question|task|answer|rubric):(?P<id>.*)$")
QUESTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
KINDS = ("markdown", "code", "task")
# What release writes in an empty answer cell; an answer that is only this is no answer.
PLACEHOLDERS = {"markdown": "*Write your answer here.*", "code": "# Write your answer here"}


class QuestionError(ValueError):
    """A written question that cannot be read or released; the message names the notebook, the
    cell (its index, counted from 0 as nbformat does) and the fix."""


@dataclass(frozen=True)
class RubricItem:
    """One line of a rubric.

    Attributes:
        id: what a mark records (letters, digits, ``-`` and ``_``).
        points: what the item gives (positive) or takes off (negative).
        text: the sentence a grader reads and the student is shown.
    """

    id: str
    points: float
    text: str


@dataclass(frozen=True)
class Question:
    """A written question of a solution notebook.

    Attributes:
        id: its id, unique in the notebook.
        kind: ``markdown`` or ``code`` (what the answer cell holds) or ``task`` (no answer cell).
        points: what it is worth.
        prompt: the question as students read it (Markdown).
        rubric: its items, in order (empty for an nbgrader or otter question without a rubric
            cell: a grader then gives points directly).
        model_answer: the graders' model answer ("" for a task without one).
        origin: ``kit``, ``nbgrader`` or ``otter``: which format asked it.
        prompt_cell: the index of the prompt's cell, None where it has none.
        answer_cell: the index of the cell release empties for the answer, None for a task.
        template_cell: a cell release keeps as the student's answer cell instead (otter's
            prompt block), None for none.
        removed_cells: the indices of the cells release leaves out (the rubric, otter's
            boundary and solution cells).
    """

    id: str
    kind: str
    points: float
    prompt: str
    rubric: tuple[RubricItem, ...] = ()
    model_answer: str = ""
    origin: str = "kit"
    prompt_cell: int | None = None
    answer_cell: int | None = None
    template_cell: int | None = None
    removed_cells: tuple[int, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """The question as JSON data (what a grades folder records of it): id, kind, points,
        prompt, model answer, origin and the rubric's items."""
        data = asdict(self)
        for key in ("prompt_cell", "answer_cell", "template_cell", "removed_cells"):
            data.pop(key)
        return data


def role_tags(cell) -> list[tuple[str, str]]:
    """(role, id) of every role tag of `cell` (``question:ID``, ``task:ID``, ``answer:ID``,
    ``rubric:ID``), in the order of its tags."""
    tags = cell.get("metadata", {}).get("tags", [])
    found = [ROLE_TAG.match(tag) for tag in tags if isinstance(tag, str)]
    return [(match["role"], match["id"].strip()) for match in found if match]
