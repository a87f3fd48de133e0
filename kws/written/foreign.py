"""Written questions in the formats of nbgrader and otter-grader, read as the kit's questions
(`kws.written.questions.Question`), so a notebook written for either keeps its manually
graded questions.

- **nbgrader**: a cell whose metadata ``nbgrader`` has ``grade`` and ``solution`` true is a
  manually graded answer (its source the model answer, its ``points`` and ``grade_id`` the
  question's points and id; its prompt the Markdown cell before it); one with ``task`` true is a
  task (the cell is the prompt). nbgrader's release replaces such an answer with "YOUR ANSWER
  HERE"; the kit's writes its own empty answer cell and keeps the metadata.
- **otter-grader** (its notebook format v1): raw cells ``# BEGIN QUESTION`` (with the YAML
  ``name``, ``manual: true`` and ``points``) ... ``# END QUESTION`` around the prompt, an optional
  ``# BEGIN PROMPT`` block (what students get to answer in) and the ``# BEGIN SOLUTION`` block
  (the model answer). The boundary cells and the solution never reach students. A question
  without ``manual: true`` is refused: the kit grades code with an assignment's graded tests.

nbgrader's autograded parts are released as nbgrader's own release does (`clear_nbgrader`): in
each cell with nbgrader metadata, a ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region becomes
its stub (``# YOUR CODE HERE`` and ``raise NotImplementedError()``, indented as the marker; a
Markdown region ``YOUR ANSWER HERE``), a solution cell without a region becomes the stub whole,
and a ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region of a test cell goes.

Either format may add a rubric with a kit ``rubric:ID`` cell; without one a grader gives the
question's points directly. The ``<!-- BEGIN QUESTION -->`` comments otter writes into the
notebooks it generates fence its PDF export and carry no name or points: read the master
notebook, not those (docs/reference/written-questions.md).
"""

from __future__ import annotations

import re
from dataclasses import replace

from kws.written.model import QUESTION_ID, Question, QuestionError, role_tags

NBGRADER_CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
NBGRADER_TEXT_STUB = "YOUR ANSWER HERE"
_BEGIN_SOLUTION, _END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
_BEGIN_HIDDEN, _END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
_BOUNDARY = re.compile(r"^\s*#\s*(BEGIN|END)\s+(QUESTION|PROMPT|SOLUTION|TESTS)\s*$", re.I)
ASSIGNMENT_CONFIG = re.compile(r"^\s*#\s*ASSIGNMENT\s+CONFIG\s*$", re.I)


def nbgrader_questions(cells, name: str) -> list[Question]:
    """The manually graded answers and tasks of nbgrader's metadata in `cells`."""
    questions = []
    for index, cell in enumerate(cells):
        meta = _nbgrader(cell)
        is_task = bool(meta.get("task"))
        if not (is_task or (meta.get("grade") and meta.get("solution"))):
            continue
        where = f"{name}, cell {index}"
        qid = meta.get("grade_id")
        if not isinstance(qid, str) or not QUESTION_ID.match(qid):
            raise QuestionError(f"{where}: nbgrader cell with grade_id {qid!r}; give it an id "
                                "of letters, digits, '-', '_' or '.' in its nbgrader metadata "
                                "(grade_id)")  # fmt: skip
        points = meta.get("points")
        if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
            raise QuestionError(f"{where}: nbgrader question {qid} has no points ({points!r}); "
                                "set points above 0 in its nbgrader metadata")  # fmt: skip
        if is_task:
            questions.append(Question(qid, "task", float(points), cell.source, (), "",
                                      "nbgrader", index, None))  # fmt: skip
            continue
        if cell.cell_type not in ("markdown", "code"):
            raise QuestionError(f"{where}: nbgrader answer {qid} is a raw cell; make it "
                                "Markdown or code")  # fmt: skip
        prompt = _prompt_before(cells, index)
        text = cells[prompt].source if prompt is not None else ""
        questions.append(Question(qid, cell.cell_type, float(points), text, (), cell.source,
                                  "nbgrader", prompt, index))  # fmt: skip
    return questions


def clear_nbgrader(cell, where: str) -> None:
    """Release `cell` (changed in place) as nbgrader's release does (see the module), when it
    has nbgrader metadata; a cell without it is left alone.

    Raises:
        QuestionError: a region that does not close, or that opens inside another (`where`
            names the cell).
    """
    meta = _nbgrader(cell)
    if not meta:
        return
    code = cell.cell_type == "code"
    source, found = _cut(cell.source, _BEGIN_SOLUTION, _END_SOLUTION,
                         NBGRADER_CODE_STUB if code else NBGRADER_TEXT_STUB, where)  # fmt: skip
    if not found and meta.get("solution") and not meta.get("task"):
        source = NBGRADER_CODE_STUB if code else NBGRADER_TEXT_STUB
    if meta.get("grade") and not meta.get("solution"):  # a test cell
        source, _ = _cut(source, _BEGIN_HIDDEN, _END_HIDDEN, None, where)
    cell.source = source


def _cut(source: str, begin: str, end: str, stub: str | None, where: str) -> tuple[str, bool]:
    """`source` with each region from a line holding `begin` to one holding `end` replaced by
    `stub` (indented as the begin line; None: nothing), and whether there was one."""
    out, start, found = [], None, False
    for number, line in enumerate(source.split("\n"), start=1):
        if begin in line:
            if start is not None:
                raise QuestionError(f"{where}, line {number}: {begin} inside the region opened "
                                    f"at line {start}; add {end} before it")  # fmt: skip
            start, found = number, True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + stub_line for stub_line in (stub.split("\n") if stub else [])]
        elif end in line:
            if start is None:
                raise QuestionError(f"{where}, line {number}: {end} without {begin} before "
                                    "it; add the begin line or remove this one")  # fmt: skip
            start = None
        elif start is None:
            out.append(line)
    if start is not None:
        raise QuestionError(f"{where}, line {start}: {begin} is never closed; add a line "
                            f"'### {end}' after the region")  # fmt: skip
    return "\n".join(out), found


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _prompt_before(cells, index: int) -> int | None:
    """The Markdown cell before the answer at `index` that asks it: the nearest one that is no
    other question's cell, or None."""
    for before in range(index - 1, -1, -1):
        cell = cells[before]
        meta = _nbgrader(cell)
        if meta.get("solution") or meta.get("task") or role_tags(cell):
            return None
        if cell.cell_type == "markdown":
            return before
    return None


def otter_questions(cells, name: str) -> list[Question]:
    """The manual questions of otter-grader's format v1 in `cells` (raw boundary cells)."""
    questions: list[Question] = []
    config_cells = [i for i, c in enumerate(cells) if _first_line(c, ASSIGNMENT_CONFIG)]
    block: dict | None = None
    for index, cell in enumerate(cells):
        boundary = _first_line(cell, _BOUNDARY)
        if boundary is None:
            if block is not None:
                block[block["open"] or "question"].append(index)
            continue
        edge, kind = boundary[1].upper(), boundary[2].upper()
        where = f"{name}, cell {index}"
        if kind == "QUESTION" and edge == "BEGIN":
            if block is not None:
                raise QuestionError(f"{where}: BEGIN QUESTION inside the question begun at cell "
                                    f"{block['begin']}; end that one first")  # fmt: skip
            block = {"begin": index, "config": _flat_yaml(cell.source, where), "open": None,
                     "question": [], "PROMPT": [], "SOLUTION": [], "TESTS": [],
                     "boundaries": [index]}  # fmt: skip
        elif block is None:
            raise QuestionError(f"{where}: {edge} {kind} outside any question; put it between "
                                "BEGIN QUESTION and END QUESTION cells")  # fmt: skip
        elif kind == "QUESTION":
            if block["open"]:
                raise QuestionError(f"{where}: END QUESTION while BEGIN {block['open']} is "
                                    f"open; add an END {block['open']} cell first")  # fmt: skip
            block["boundaries"].append(index)
            questions.append(_otter_question(cells, block, name))
            block = None
        elif edge == "BEGIN":
            if block["open"]:
                raise QuestionError(f"{where}: BEGIN {kind} inside BEGIN {block['open']}; end "
                                    "that block first")  # fmt: skip
            block["open"] = kind
            block["boundaries"].append(index)
        else:
            if block["open"] != kind:
                raise QuestionError(f"{where}: END {kind} without BEGIN {kind}; add it before "
                                    "the block, or remove this cell")  # fmt: skip
            block["open"] = None
            block["boundaries"].append(index)
    if block is not None:
        raise QuestionError(f"{name}, cell {block['begin']}: BEGIN QUESTION is never ended; add "
                            "an END QUESTION raw cell after the question")  # fmt: skip
    if questions and config_cells:  # otter's own settings: for otter, not for students
        removed = tuple(sorted({*questions[0].removed_cells, *config_cells}))
        questions[0] = replace(questions[0], removed_cells=removed)
    return questions


def _otter_question(cells, block: dict, name: str) -> Question:
    where = f"{name}, cell {block['begin']}"
    config = block["config"]
    qid = config.get("name")
    if not isinstance(qid, str) or not QUESTION_ID.match(qid):
        raise QuestionError(f"{where}: the otter question's name is {qid!r}; write name: ID "
                            "(letters, digits, '-', '_' or '.') in its BEGIN QUESTION cell")  # fmt: skip
    if config.get("manual") is not True:
        raise QuestionError(
            f"{where}: otter question {qid} is autograded (no manual: true); the kit grades "
            "code with an assignment's graded tests, not otter's: set manual: true to have a "
            "person mark it, or write its check as a graded test"
        )
    points = config.get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        raise QuestionError(f"{where}: otter question {qid} has no points ({points!r}); add "
                            "points: N to its BEGIN QUESTION cell")  # fmt: skip
    solution = block["SOLUTION"]
    if not solution:
        raise QuestionError(f"{where}: otter question {qid} has no solution block; add the "
                            "model answer between BEGIN SOLUTION and END SOLUTION raw "
                            "cells")  # fmt: skip
    prompts = [i for i in block["question"] if cells[i].cell_type == "markdown"]
    if not prompts:
        raise QuestionError(f"{where}: otter question {qid} has no Markdown cell asking it; "
                            "add one after its BEGIN QUESTION cell")  # fmt: skip
    kind = "markdown" if any(cells[i].cell_type == "markdown" for i in solution) else "code"
    template = block["PROMPT"][0] if block["PROMPT"] else None
    answer = None if template is not None else solution[0]
    removed = {*block["boundaries"], *solution, *block["TESTS"]} - {answer}
    return Question(
        qid,
        kind,
        float(points),
        "\n\n".join(cells[i].source for i in prompts),
        (),
        "\n\n".join(cells[i].source for i in solution),
        "otter",
        prompts[0],
        answer,
        template,
        tuple(sorted(removed)),
    )


def _first_line(cell, pattern: re.Pattern) -> re.Match | None:
    """`pattern` matched on the first line of a raw cell, else None."""
    if cell.cell_type != "raw":
        return None
    lines = cell.source.strip().splitlines()
    return pattern.match(lines[0]) if lines else None


def _flat_yaml(text: str, where: str) -> dict:
    """The ``key: value`` lines after the first line of an otter boundary cell, as Python
    values (true/false, numbers, quoted or bare strings); QuestionError for anything nested."""
    config: dict = {}
    for number, line in enumerate(text.strip().splitlines()[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$", line)
        if match is None or line[:1] in " \t" or not match[2]:
            raise QuestionError(f"{where}, line {number}: {line.strip()!r} is not read (the kit "
                                "reads name, manual and points, one 'key: value' a line)")  # fmt: skip
        config[match[1]] = _scalar(match[2])
    return config


def _scalar(text: str):
    if text[:1] in "\"'" and text[-1:] == text[:1] and len(text) >= 2:
        return text[1:-1]
    text = text.split(" #")[0].strip()
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
