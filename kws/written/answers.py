"""Each written question's answer, read back from a student's notebook by question id.

    answers = read_answers(handin, released)   # {question id: Answer}, both notebooks as JSON
    answers["norm-classifier"].text, .kind, .digest, .answered

A student's editor may move the answer cell, split it, add cells beside it, clear or keep the
outputs, or drop the cells' metadata (an export, a copy into a new notebook, a cell deleted and
written again). Each answer is found by the first of these keys that finds it:

1. **its tag**: the cells tagged ``answer:ID`` (or with nbgrader's ``grade_id``), wherever
   they are, joined in order (a split or copied answer cell keeps its tag);
2. **its cell id**: the cell whose nbformat id is the released answer cell's (Jupyter and
   JupyterLab keep it; a copied cell gets a new one);
3. **its place**: the cells after the question's prompt (found by its tag, its cell id or its
   text), up to the next cell of the released notebook or the next question: what the
   student wrote there, of the question's kind (Markdown cells for a Markdown answer, code
   cells for a code answer, both for a task).

Outputs and metadata are never part of an answer; a code answer's text output is kept beside
it for the reader (`Part.output`). The placeholder release wrote (the kit's, or nbgrader's
"YOUR ANSWER HERE" and "# YOUR CODE HERE") is no answer, and so is an answer left as the
released notebook holds it (starter text or code, unchanged: `Answer.unchanged`). The digest
(`Answer.digest`) is of the answer's text with line endings, trailing spaces and Unicode forms
made uniform, so a notebook saved again by another editor keeps it, and a changed answer does
not. The notebooks are read as JSON (``json.loads`` is enough: sources as strings or lists).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace

from kws.written.model import PLACEHOLDERS, QUESTION_ID, role_tags

# a skeleton's TODO left unwritten: the kit's, or nbgrader's bare stub
_TODO = re.compile(r'raise NotImplementedError\(("TODO: |\)\s*$)', re.M)
_FOREIGN_PLACEHOLDERS = {"YOUR ANSWER HERE", "# YOUR CODE HERE"}  # nbgrader's release writes them
_MOST_CELLS = 30  # an answer found by its place: at most this many cells
_MOST_OUTPUT = 4000  # characters of a code answer's text output kept


@dataclass(frozen=True)
class Part:
    """One cell of an answer: its type, its source, and a code cell's text output."""

    cell_type: str
    source: str
    output: str = ""

    @property
    def text(self) -> str:
        """The source, uniform (see the module) and without the release's placeholder."""
        return _uniform(self.source)


@dataclass(frozen=True)
class Asked:
    """A question as a student notebook asks it (`asked_questions`).

    Attributes:
        id: the question's id.
        kind: ``markdown``, ``code`` or ``task``.
        prompt: the prompt cell's text ("" where none was found).
        prompt_cell_id: the prompt cell's nbformat id, or None.
        answer_cell_id: the answer cell's nbformat id, or None.
    """

    id: str
    kind: str
    prompt: str = ""
    prompt_cell_id: str | None = None
    answer_cell_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """One question's answer in one notebook.

    Attributes:
        question: the question's id.
        kind: ``markdown``, ``code`` or ``task``.
        parts: the cells it was read from, in order (none: no answer).
        found_by: ``tag``, ``cell id`` or ``place`` (the key that found it), "" for none.
        cells: the index of each part's cell among the notebook's cells (`notebook_cells`):
            where the answer stands, for showing it in its context.
        unchanged: the text is what the released notebook holds in its place (the starter
            text or code the student was given, left as it was): no answer.
    """

    question: str
    kind: str
    parts: tuple[Part, ...] = ()
    found_by: str = ""
    cells: tuple[int, ...] = ()
    unchanged: bool = False

    @property
    def text(self) -> str:
        """The answer's text: its parts' sources, uniform (see the module), blank-line joined."""
        return "\n\n".join(text for text in (part.text for part in self.parts) if text)

    @property
    def digest(self) -> str:
        """16 hex digits of the SHA-256 of the kind and `text`: the same answer, the same
        digest, whatever editor saved it."""
        data = f"{self.kind}\n{self.text}".encode()
        return hashlib.sha256(data).hexdigest()[:16]

    @property
    def answered(self) -> bool:
        """Whether the student wrote something: text beyond the placeholder, not left as
        released (`unchanged`), and for code no TODO of the skeleton left (the kit's, or
        nbgrader's ``raise NotImplementedError()``)."""
        text = self.text
        return (
            bool(text.strip())
            and not self.unchanged
            and not (self.kind == "code" and _TODO.search(text))
        )


def _source(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def notebook_cells(nb) -> list[dict]:
    """The cells of the notebook `nb` (JSON) that are cells (dicts), in order."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


_cells = notebook_cells


def _roles(cell) -> list[tuple[str, str]]:
    """The cell's role tags, and nbgrader's metadata as the same roles."""
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return []
    tags = metadata.get("tags")
    found = role_tags({"metadata": {"tags": tags}}) if isinstance(tags, list) else []
    grader = metadata.get("nbgrader")
    if isinstance(grader, dict) and isinstance(grader.get("grade_id"), str):
        if grader.get("task"):
            found.append(("task", grader["grade_id"]))
        elif grader.get("grade") and grader.get("solution"):
            found.append(("answer", grader["grade_id"]))
    return [(role, qid) for role, qid in found if QUESTION_ID.match(qid)]


def _uniform(text: str) -> str:
    """`text` in NFC, with LF line ends, no trailing spaces, no placeholder line and no blank
    lines around it."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    placeholders = {*PLACEHOLDERS.values(), *_FOREIGN_PLACEHOLDERS}
    lines = [line.rstrip() for line in text.split("\n") if line.strip() not in placeholders]
    return "\n".join(lines).strip("\n")


def asked_questions(nb) -> list[Asked]:
    """The questions a student notebook asks (as `kws.written.release` tagged them, or nbgrader's
    metadata), in the order their first cell comes."""
    found: dict[str, dict] = {}
    for cell in _cells(nb):
        for role, qid in _roles(cell):
            entry = found.setdefault(qid, {})
            entry.setdefault(role, cell)
    asked = []
    for qid, entry in found.items():
        prompt = entry.get("question") or entry.get("task")
        answer = entry.get("answer")
        if "task" in entry:
            kind = "task"
        elif answer is not None and answer.get("cell_type") in ("markdown", "code"):
            kind = answer["cell_type"]
        else:
            kind = "markdown"
        asked.append(
            Asked(
                qid,
                kind,
                _source(prompt) if prompt else "",
                _cell_id(prompt),
                _cell_id(answer),
            )
        )
    return asked


def _cell_id(cell) -> str | None:
    value = cell.get("id") if isinstance(cell, dict) else None
    return value if isinstance(value, str) and value else None


def read_answers(nb, released=None) -> dict[str, Answer]:
    """Every question's answer in the student notebook `nb` (see the module for the keys).

    Args:
        nb: the hand-in notebook, as JSON (a dict; an nbformat node is one).
        released: the notebook the student was given (`kws.notebooks.student_version` of the
            solution), which says the questions and which cells are the kit's own; None: the
            questions `nb` itself asks (what a student's own check knows).

    Returns:
        {question id: `Answer`} for each question asked, in order; an `Answer` with no parts
        where nothing was found.
    """
    asked = asked_questions(released if released is not None else nb)
    kept = _kit_cells(released) if released is not None else set()
    given = read_answers(released) if released is not None else {}  # what the student was given
    cells = _cells(nb)
    answers = {}
    for question in asked:
        found, how = _tagged(cells, question), "tag"
        if not found and question.answer_cell_id is not None:
            found, how = _with_id(cells, question), "cell id"
        if not found:
            found, how = _after_prompt(cells, question, kept), "place"
        answers[question.id] = Answer(
            question.id,
            question.kind,
            tuple(part for _, part in found),
            how if found else "",
            tuple(index for index, _ in found),
        )
        start = given.get(question.id)
        if found and start is not None and start.text and answers[question.id].text == start.text:
            answers[question.id] = replace(answers[question.id], unchanged=True)
    return answers


def _kit_cells(released) -> set[str]:
    """The uniform sources of the released notebook's cells that are no answer: a cell of the
    hand-in with one of them is the kit's, not the student's."""
    return {
        _uniform(_source(cell))
        for cell in _cells(released)
        if not any(role == "answer" for role, _ in _roles(cell)) and _source(cell).strip()
    }


def cell_part(cell) -> Part:
    """`cell` (JSON) as a `Part`: its type, source and a code cell's text output."""
    return _part(cell)


def _part(cell) -> Part:
    kind = cell.get("cell_type") if cell.get("cell_type") in ("markdown", "code") else "raw"
    return Part(kind, _source(cell), _output(cell) if kind == "code" else "")


def _output(cell) -> str:
    """A code cell's printed text and plain-text results, cut at `_MOST_OUTPUT` characters."""
    texts = []
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        text = output.get("text")
        data = output.get("data")
        if text is None and isinstance(data, dict):
            text = data.get("text/plain")
        if isinstance(text, list):
            text = "".join(t for t in text if isinstance(t, str))
        if isinstance(text, str):
            texts.append(text)
    return "".join(texts)[:_MOST_OUTPUT]


def _tagged(cells, question: Asked) -> list[tuple[int, Part]]:
    if question.kind == "task":
        return []
    return [(i, _part(c)) for i, c in enumerate(cells) if ("answer", question.id) in _roles(c)]


def _with_id(cells, question: Asked) -> list[tuple[int, Part]]:
    return [(i, _part(c)) for i, c in enumerate(cells) if _cell_id(c) == question.answer_cell_id]


def _after_prompt(cells, question: Asked, kept: set[str]) -> list[tuple[int, Part]]:
    start = _prompt_index(cells, question)
    if start is None:
        return []
    wanted = {"markdown": ("markdown",), "code": ("code",)}.get(question.kind, ("markdown", "code"))
    parts = []
    for index, cell in enumerate(cells[start + 1 : start + 1 + _MOST_CELLS], start=start + 1):
        if _roles(cell) or (kept and _uniform(_source(cell)) in kept):
            break  # the next question, or the kit's own next cell
        if not kept and cell.get("cell_type") == "markdown" and _source(cell).startswith("#"):
            break  # not knowing the kit's cells: a heading starts the notebook's next part
        if cell.get("cell_type") in wanted and _uniform(_source(cell)):
            parts.append((index, _part(cell)))
    return parts


def _prompt_index(cells, question: Asked) -> int | None:
    prompt = _uniform(question.prompt)
    for index, cell in enumerate(cells):
        roles = _roles(cell)
        if ("question", question.id) in roles or ("task", question.id) in roles:
            return index
    for index, cell in enumerate(cells):
        if question.prompt_cell_id is not None and _cell_id(cell) == question.prompt_cell_id:
            return index
    for index, cell in enumerate(cells):
        if prompt and _uniform(_source(cell)) == prompt:
            return index
    return None
