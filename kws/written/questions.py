"""Written questions in a solution notebook: a prompt, an answer cell, a rubric, points.

An author asks a question with three cells, each tagged with its role and the question's id
(cell tags, like the kit's ``model`` and ``parameters`` cells: Jupyter, JupyterLab, Colab and
VS Code keep them)::

    Markdown cell, tag question:norm-classifier      the prompt, as students read it
    Markdown or code cell, tag answer:norm-classifier the model answer; students get an empty cell
    Markdown cell, tag rubric:norm-classifier        graders only; release removes it

        **Rubric** (3 points)
        - (2) scale: says the features reaching the Linear have no fixed scale ...
        - (1) converge: says the larger models did not converge without it
        - (-1) wrong-layer: puts the normalization after the classifier

A prompt tagged ``task:ID`` instead is a task: no answer cell, the student answers in the
notebook's cells after it. The rubric's first line gives the question's points; each item is
``- (points) id: sentence``, its id what a mark records (so a change of the item's points later
reaches every answer that has it). Items that give points add up to the question's points, or
there are none and every item takes points off a full score. A code answer cell may keep the
kit's ``# BEGIN SOLUTION: hint`` markers: students then get the cell's skeleton.

nbgrader's manually graded answer and task cells, and otter-grader's manual questions, are read
as questions too (`kws.written.foreign`). A mistake is a `QuestionError` naming the notebook,
the cell and the fix. The reference: docs/reference/written-questions.md.
"""

from __future__ import annotations

import re
from dataclasses import replace

from kws.written.foreign import nbgrader_questions, otter_questions
from kws.written.model import (
    ITEM_ID,
    QUESTION_ID,
    ROLES,
    Question,
    QuestionError,
    RubricItem,
    role_tags,
)

_HEADER = re.compile(
    r"^[#*_\s]*rubric[*_\s:]*\((?P<points>\d+(?:\.\d+)?)\s*points?\)[*_\s.:]*$", re.IGNORECASE
)
_ITEM = re.compile(
    r"^\s*[-*]\s+\((?P<points>[+-]?\d+(?:\.\d+)?)\)\s+(?P<id>[^\s:]+)\s*:\s*(?P<text>\S.*?)\s*$"
)
_RUBRIC_FORM = (
    "write its first line '**Rubric** (N points)', then one item a line: "
    "'- (points) item-id: what earns them' (negative points take points off)"
)


def read_questions(nb, *, name: str = "notebook") -> list[Question]:
    """Every written question of the solution notebook `nb`, in notebook order: the kit's tagged
    cells, nbgrader's manually graded cells and otter-grader's manual questions.

    Args:
        nb: the notebook (`kws.notebooks.read_notebook`).
        name: the notebook as the user named it, for error messages.

    Returns:
        The questions, ordered by their first cell.

    Raises:
        QuestionError: a question without points, answer cell or rubric; a rubric whose items
            do not add up to its points; an id used twice; a tag on the wrong kind of cell.
    """
    cells = nb.cells
    roles = _role_cells(cells, name)
    questions = _kit_questions(cells, roles, name)
    questions += nbgrader_questions(cells, name) + otter_questions(cells, name)
    seen: dict[str, Question] = {}
    for question in questions:
        if question.id in seen:
            raise QuestionError(
                f"{name}, cell {_first_cell(question)}: the question id {question.id!r} is "
                f"used twice (also at cell {_first_cell(seen[question.id])}); give each "
                "question an id of its own"
            )
        seen[question.id] = question
    for (role, qid), index in roles.items():
        if role == "rubric" and qid not in seen:
            raise QuestionError(
                f"{name}, cell {index}: the rubric rubric:{qid} belongs to no question; tag "
                f"the question's prompt question:{qid}, or fix the id"
            )
    questions = [_with_rubric(q, cells, roles.get(("rubric", q.id)), name) for q in questions]
    return sorted(questions, key=_first_cell)


def _first_cell(question: Question) -> int:
    found = [question.prompt_cell, question.answer_cell, question.template_cell]
    return min(i for i in found if i is not None)


def _role_cells(cells, name: str) -> dict[tuple[str, str], int]:
    """{(role, id): cell index} of the kit's role tags, each (role, id) on one cell."""
    roles: dict[tuple[str, str], int] = {}
    for index, cell in enumerate(cells):
        tagged = role_tags(cell)
        if len(tagged) > 1:
            listed = ", ".join(f"{role}:{qid}" for role, qid in tagged)
            raise QuestionError(
                f"{name}, cell {index}: one cell has several roles ({listed}); the prompt, "
                "the answer and the rubric are three cells, each with one of these tags"
            )
        for role, qid in tagged:
            if not QUESTION_ID.match(qid):
                raise QuestionError(
                    f"{name}, cell {index}: {role}:{qid} is not a question id; use letters, "
                    "digits, '-', '_' or '.' (up to 64), e.g. question:norm-classifier"
                )
            if (role, qid) in roles:
                raise QuestionError(
                    f"{name}, cell {index}: {role}:{qid} is also on cell "
                    f"{roles[(role, qid)]}; a question has one cell of each role (a duplicated "
                    "id? give each question its own)"
                )
            roles[(role, qid)] = index
    return roles


def _kit_questions(cells, roles: dict[tuple[str, str], int], name: str) -> list[Question]:
    questions = []
    asked = {qid: (role, index) for (role, qid), index in roles.items() if role in ROLES[:2]}
    for qid, (role, index) in asked.items():
        if (ROLES[0], qid) in roles and (ROLES[1], qid) in roles:
            raise QuestionError(f"{name}, cell {index}: question:{qid} and task:{qid} are both "
                                "tagged; a prompt is a question or a task")  # fmt: skip
        if cells[index].cell_type != "markdown":
            raise QuestionError(f"{name}, cell {index}: the prompt {role}:{qid} is a "
                                f"{cells[index].cell_type} cell; make it Markdown")  # fmt: skip
        answer = roles.get(("answer", qid))
        if role == "task" and answer is not None:
            raise QuestionError(
                f"{name}, cell {answer}: task:{qid} has an answer cell (answer:{qid}); a task "
                f"is answered in the notebook's cells: tag its prompt question:{qid} if "
                "students answer in that cell, or remove the answer tag"
            )
        if role == "question":
            answer = _answer_cell(cells, qid, index, answer, name)
        kind = "task" if answer is None else cells[answer].cell_type
        source = "" if answer is None else cells[answer].source
        questions.append(
            Question(qid, kind, 0.0, cells[index].source, (), source, "kit", index, answer)
        )
    for (role, qid), index in roles.items():
        if role == "answer" and qid not in asked:
            raise QuestionError(f"{name}, cell {index}: answer:{qid} has no prompt; tag the "
                                f"Markdown cell that asks it question:{qid}")  # fmt: skip
    return questions


def _answer_cell(cells, qid: str, prompt: int, answer: int | None, name: str) -> int:
    if answer is None:
        raise QuestionError(
            f"{name}, cell {prompt}: question:{qid} has no answer cell; add a cell tagged "
            f"answer:{qid} after it holding the model answer (students get it empty), or tag "
            f"the prompt task:{qid} if they answer in the notebook's own cells"
        )
    if answer < prompt:
        raise QuestionError(f"{name}, cell {answer}: answer:{qid} comes before its prompt "
                            f"(cell {prompt}); move it after the question")  # fmt: skip
    if cells[answer].cell_type not in ("markdown", "code"):
        raise QuestionError(f"{name}, cell {answer}: answer:{qid} is a raw cell; make it a "
                            "Markdown cell (a written answer) or a code cell")  # fmt: skip
    if not cells[answer].source.strip():
        raise QuestionError(
            f"{name}, cell {answer}: the answer cell of {qid} is empty; write the model answer "
            "there (graders read it; students get an empty answer cell)"
        )
    return answer


def _with_rubric(question: Question, cells, index: int | None, name: str) -> Question:
    """`question` with the rubric of the cell `index` (its points where the kit's format
    declares them there), checked."""
    if index is None:
        if question.origin == "kit":
            raise QuestionError(
                f"{name}, cell {question.prompt_cell}: {question.id} has no rubric and so no "
                f"points; add a Markdown cell tagged rubric:{question.id}, and {_RUBRIC_FORM}"
            )
        return question
    where = f"{name}, cell {index}"
    if cells[index].cell_type != "markdown":
        raise QuestionError(f"{where}: the rubric of {question.id} is a "
                            f"{cells[index].cell_type} cell; make it Markdown")  # fmt: skip
    points, items = parse_rubric(cells[index].source, where)
    if question.origin != "kit" and points != question.points:
        raise QuestionError(
            f"{where}: the rubric of {question.id} gives {points:g} points, its "
            f"{question.origin} metadata {question.points:g}; make them the same"
        )
    check_rubric(points, items, where)
    removed = tuple(sorted({*question.removed_cells, index}))
    return replace(question, points=points, rubric=tuple(items), removed_cells=removed)


def parse_rubric(text: str, where: str) -> tuple[float, list[RubricItem]]:
    """The points and items of a rubric cell's `text` (its format: the module's docstring).

    Raises:
        QuestionError: no header with the points, or a line that is no item.
    """
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    header = _HEADER.match(lines[first]) if first is not None else None
    if header is None:
        raise QuestionError(f"{where}: the rubric does not say its points; {_RUBRIC_FORM}")
    items: list[RubricItem] = []
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        if not line.strip():
            continue
        match = _ITEM.match(line)
        if match:
            items.append(RubricItem(match["id"], float(match["points"]), match["text"]))
        elif line[:1] in " \t" and items:  # an item's sentence, continued
            last = items[-1]
            items[-1] = RubricItem(last.id, last.points, f"{last.text} {line.strip()}")
        else:
            raise QuestionError(f"{where}, line {number}: {line.strip()[:60]!r} is not a "
                                f"rubric item; {_RUBRIC_FORM}")  # fmt: skip
    return float(header["points"]), items


def check_rubric(points: float, items: list[RubricItem], where: str) -> None:
    """QuestionError unless a question of `points` may be marked with `items`: positive
    points, at least one item, item ids unique, no item worth 0, and the items that give points
    adding up to the question's points (or none giving points: every item takes some off)."""
    if points <= 0:
        raise QuestionError(f"{where}: the question is worth {points:g} points; give it more "
                            "than 0")  # fmt: skip
    if not items:
        raise QuestionError(f"{where}: the rubric has no items; {_RUBRIC_FORM}")
    seen = set()
    for item in items:
        if not ITEM_ID.match(item.id):
            raise QuestionError(f"{where}: {item.id!r} is not an item id; use letters, digits, "
                                "'-' and '_' (up to 32)")  # fmt: skip
        if item.id in seen:
            raise QuestionError(f"{where}: the item id {item.id!r} is used twice; give each "
                                "item its own (a mark records it)")  # fmt: skip
        if item.points == 0:
            raise QuestionError(f"{where}: item {item.id} is worth 0 points; give it points, "
                                "or take points off with a negative number")  # fmt: skip
        seen.add(item.id)
    given = sum(item.points for item in items if item.points > 0)
    if given and abs(given - points) > 1e-9:
        raise QuestionError(
            f"{where}: the items that give points add up to {given:g}, the question is worth "
            f"{points:g}; make them add up to {points:g} (an item that takes points off has "
            "negative points)"
        )
