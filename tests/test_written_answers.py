"""Each written answer read back from a hand-in notebook by question id (kws.written.answers):
however the student's editor moved, split, stripped or re-saved the cells, the answer is the
student's text, and its digest changes when the answer does and only then."""

import copy
import json
import unicodedata

from course_helpers import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kws.written.answers import asked_questions, read_answers
from kws.written.model import PLACEHOLDERS

RELEASED = json.loads((ROOT / "assignments" / "02_speaker_id.ipynb").read_text(encoding="utf-8"))
QID = "norm-classifier"
TEXT = "The pooled features have no fixed scale; BatchNorm1d puts them in one range (μ = 0, réglé)."


def _index(nb, tag: str) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if tag in c["metadata"].get("tags", []))


def handin(text: str = TEXT) -> dict:
    """The released notebook 02 with `text` written in the answer cell, as Jupyter saves it
    (sources as lists of lines)."""
    nb = copy.deepcopy(RELEASED)
    nb["cells"][_index(nb, f"answer:{QID}")]["source"] = text.splitlines(keepends=True)
    return nb


def test_the_released_notebook_says_its_questions():
    (asked,) = asked_questions(RELEASED)
    assert (asked.id, asked.kind, asked.answer_cell_id) == (QID, "markdown", f"{QID}-answer")
    assert asked.prompt.startswith("**Question: why a normalization right before the classifier?")


def test_an_answer_in_its_cell_is_found_by_its_tag():
    answer = read_answers(handin(), RELEASED)[QID]
    assert (answer.text, answer.kind, answer.found_by, answer.answered) == (
        TEXT, "markdown", "tag", True)  # fmt: skip
    assert read_answers(handin())[QID].digest == answer.digest  # the student's own check: same


def test_the_placeholder_or_a_deleted_cell_is_no_answer():
    empty = read_answers(copy.deepcopy(RELEASED), RELEASED)[QID]
    assert not empty.answered and empty.text == ""
    gone = copy.deepcopy(RELEASED)
    del gone["cells"][_index(gone, f"answer:{QID}")]
    answer = read_answers(gone, RELEASED)[QID]
    assert (answer.parts, answer.found_by, answer.answered) == ((), "", False)


def test_a_moved_or_split_answer_cell_keeps_its_tag():
    nb = handin("First half.")
    cell = nb["cells"].pop(_index(nb, f"answer:{QID}"))
    nb["cells"].append(cell)  # moved to the end
    second = copy.deepcopy(cell) | {"id": "copied", "source": ["Second half."]}
    nb["cells"].insert(3, second)  # split: the copy keeps the tag, sits earlier
    answer = read_answers(nb, RELEASED)[QID]
    assert answer.found_by == "tag" and answer.text == "Second half.\n\nFirst half."


def test_stripped_tags_fall_back_to_the_cell_id_then_to_the_place():
    nb = handin()
    for cell in nb["cells"]:
        cell["metadata"] = {}  # an editor that drops cell metadata
    answer = read_answers(nb, RELEASED)[QID]
    assert (answer.found_by, answer.text) == ("cell id", TEXT)
    for cell in nb["cells"]:
        cell.pop("id", None)  # and ids: an export, a copy into a new notebook
    at = next(i for i, c in enumerate(nb["cells"]) if "".join(c["source"]) == TEXT)
    nb["cells"].insert(at + 1, new_code_cell("print(2 + 2)"))  # the student's own cells
    nb["cells"].insert(at + 2, new_markdown_cell("And a second paragraph, in a cell of mine."))
    answer = read_answers(nb, RELEASED)[QID]
    assert answer.found_by == "place"
    assert answer.text == TEXT + "\n\nAnd a second paragraph, in a cell of mine."  # up to the
    # kit's next cell (the Task 3 heading), Markdown only: the code cell is not this answer


def test_the_digest_ignores_how_it_was_saved_and_follows_what_was_written():
    plain = read_answers(handin(), RELEASED)[QID]
    resaved = handin()
    cell = resaved["cells"][_index(resaved, f"answer:{QID}")]
    cell["source"] = TEXT.replace(";", ";  \r\n")  # one string, a line break added
    cell["metadata"]["collapsed"] = True
    cell["attachments"] = {}
    other = read_answers(resaved, RELEASED)[QID]
    assert other.text == TEXT.replace(";", ";\n") and other.digest != plain.digest  # a new line
    same = handin(TEXT + "\n\n  \n")
    decomposed = unicodedata.normalize("NFD", TEXT)  # é as e + a combining accent
    assert decomposed != TEXT
    same["cells"][_index(same, f"answer:{QID}")]["source"] = [decomposed + "   \r\n", "\r\n"]
    assert read_answers(same, RELEASED)[QID].digest == plain.digest
    changed = read_answers(handin(TEXT.replace("one", "a single")), RELEASED)[QID]
    assert changed.digest != plain.digest


def test_a_code_answer_keeps_its_output_and_a_todo_is_no_answer():
    released = new_notebook(
        cells=[
            new_markdown_cell("Count the parameters.", metadata={"tags": ["question:count"]}),
            new_code_cell(PLACEHOLDERS["code"], metadata={"tags": ["answer:count"]}),
        ]
    )
    written = copy.deepcopy(released)
    written.cells[1].source = "print(sum(p.numel() for p in model.parameters()))"
    written.cells[1].outputs = [{"output_type": "stream", "name": "stdout", "text": "154880\n"}]
    answer = read_answers(written, released)["count"]
    assert answer.kind == "code" and answer.answered and answer.parts[0].output == "154880\n"
    written.cells[1].source = 'raise NotImplementedError("TODO: count them")'
    assert not read_answers(written, released)["count"].answered


def test_nbgrader_answers_are_found_by_their_grade_id():
    meta = {"nbgrader": {"grade": True, "solution": True, "grade_id": "why", "points": 2}}
    nb = new_notebook(cells=[new_markdown_cell("Why?"), new_markdown_cell(TEXT, metadata=meta)])
    answer = read_answers(nb)["why"]
    assert (answer.text, answer.found_by) == (TEXT, "tag")


def test_a_damaged_notebook_gives_no_answer_and_no_error():
    for nb in ({}, {"cells": "no"}, {"cells": [1, {"metadata": []}, {"source": 3}]}):
        assert read_answers(nb, RELEASED)[QID].parts == ()


def test_a_task_is_answered_in_the_students_cells_after_its_prompt():
    released = new_notebook(
        cells=[
            new_markdown_cell(
                "Plot the learning rate of your run.", metadata={"tags": ["task:lr"]}
            ),
            new_markdown_cell("## Next part"),
        ]
    )
    written = copy.deepcopy(released)
    written.cells[1:1] = [
        new_code_cell("plt.plot(history['lr'])"),
        new_markdown_cell("It warms up for 1,000 steps, then decays."),
    ]
    answer = read_answers(written, released)["lr"]
    assert (answer.kind, answer.found_by, answer.answered) == ("task", "place", True)
    assert answer.text == "plt.plot(history['lr'])\n\nIt warms up for 1,000 steps, then decays."
    assert not read_answers(copy.deepcopy(released), released)["lr"].answered
