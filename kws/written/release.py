"""The student version of a notebook's written questions: the prompt and an empty answer cell,
never the rubric or the model answer.

`kws.notebooks.student_version` calls `release_questions` on its copy of a solution notebook
(then releases the code cells' solution markers as always) and `check_no_leak` on the result:

- the prompt cell is kept as it is, tagged ``question:ID`` (``task:ID`` for a task), with the
  question's points in its metadata (`POINTS_KEY`), which ``kws handin`` counts;
- the answer cell keeps its id and metadata, tagged ``answer:ID``, and holds only the
  placeholder (`kws.written.questions.PLACEHOLDERS`), or, for a code answer with the kit's
  solution markers, its skeleton; its outputs and attachments go;
- the rubric cell, otter-grader's boundary, solution and test cells and its assignment
  configuration are left out.

The tags make the released notebook say which cell answers which question, so a hand-in is read
back by question id (`kws.written.answers`). `check_no_leak` then refuses a student version that
holds a rubric item's sentence or a paragraph of a model answer anywhere (a cell's source, its
metadata, the notebook's metadata): the model answer written in the prompt, or a rubric pasted
into another cell, stops the release naming the solution notebook's cell.
"""

from __future__ import annotations

import re

import nbformat

from kws.written.model import PLACEHOLDERS, Question, QuestionError

POINTS_KEY = "written_points"  # a prompt cell's metadata: the question's points, for kws handin
_MARKER = "# BEGIN SOLUTION"  # the kit's solution marker (kws.notebooks): a code answer's skeleton


def release_questions(cells: list, questions: list[Question]) -> tuple[list, list[int]]:
    """The cells of a student notebook made from a solution's `cells` (a copy: they are
    changed in place) and its `questions` (`kws.written.questions.read_questions`).

    Returns:
        (the cells, the index in the solution notebook of each).
    """
    removed = {index for q in questions for index in q.removed_cells}
    answers = {q.answer_cell: q for q in questions if q.answer_cell is not None}
    templates = {q.template_cell: q for q in questions if q.template_cell is not None}
    prompts = {q.prompt_cell: q for q in questions if q.prompt_cell is not None}
    out, origins = [], []
    for index, cell in enumerate(cells):
        if index in removed:
            continue
        if index in answers:
            cell = _empty_answer(cell, answers[index])
        if index in templates:
            _tag(cell, f"answer:{templates[index].id}")
        if index in prompts:
            question = prompts[index]
            _tag(cell, f"{'task' if question.kind == 'task' else 'question'}:{question.id}")
            cell["metadata"][POINTS_KEY] = question.points  # what `kws handin` counts
        out.append(cell)
        origins.append(index)
    return out, origins


def _tag(cell, tag: str) -> None:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def _empty_answer(cell, question: Question):
    """The answer cell students get: the question's kind, the placeholder (a code answer's
    skeleton where it has solution markers), its id and metadata kept, tagged."""
    keep_skeleton = question.kind == "code" and cell.cell_type == "code" and _MARKER in cell.source
    source = cell.source if keep_skeleton else PLACEHOLDERS[question.kind]
    metadata = dict(cell.get("metadata", {}))
    make = nbformat.v4.new_code_cell if question.kind == "code" else nbformat.v4.new_markdown_cell
    empty = make(source, metadata=metadata)
    if "id" in cell:
        empty["id"] = cell["id"]
    else:  # a notebook older than nbformat 4.5 has no cell ids
        empty.pop("id", None)
    _tag(empty, f"answer:{question.id}")
    return empty


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def secrets_of(question: Question) -> list[tuple[str, str]]:
    """(what, normalised text) of what students must never get of `question`: each paragraph of
    a Markdown model answer (a code one whole) and each rubric item's sentence, those long
    enough to be more than a common phrase."""
    if question.kind == "code":
        paragraphs = [question.model_answer]
    else:
        paragraphs = re.split(r"\n\s*\n", question.model_answer)
    found = [("model answer", _normal(p), 40) for p in paragraphs]
    found += [(f"rubric item {item.id}", _normal(item.text), 20) for item in question.rubric]
    return [(what, text) for what, text, shortest in found if len(text) >= shortest]


def check_no_leak(nb, questions: list[Question], origins: list[int], *, name: str) -> None:
    """QuestionError when the student notebook `nb` holds what `secrets_of` any of `questions`
    lists, in a cell's source or metadata or the notebook's metadata (`origins`: each cell's
    index in the solution notebook, which the message names)."""
    secrets = [(q.id, what, text) for q in questions for what, text in secrets_of(q)]
    if not secrets:
        return
    places = [(f"cell {origins[i]}", [c.source, *_strings(c.get("metadata", {}))])
              for i, c in enumerate(nb.cells)]  # fmt: skip
    places.append(("the notebook's metadata", _strings(nb.get("metadata", {}))))
    for where, texts in places:
        haystack = " ".join(_normal(text) for text in texts)
        for qid, what, text in secrets:
            if text in haystack:
                raise QuestionError(
                    f"{name}, {where}: holds the {what} of {qid} ({text[:50]!r}...), which "
                    f"students would get; keep the model answer in the cell tagged answer:{qid} "
                    f"and the rubric in the cell tagged rubric:{qid} only"
                )


def _strings(value) -> list[str]:
    """Every string inside a metadata value (dicts, lists), keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *_strings(item)]]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []
