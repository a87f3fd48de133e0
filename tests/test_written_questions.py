"""Written questions (kws.written): the format an author writes in a solution notebook (the
kit's tags, nbgrader's and otter-grader's cells), what `kws release` gives students (the prompt
and an empty answer cell, never the rubric or the model answer), the refusals that name the
notebook, the cell and the fix, and the kit's own notebooks' questions."""

import json
import re
import subprocess
import sys

import nbformat
import pytest
from course_helpers import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from kws.notebooks import read_notebook, student_version
from kws.written.model import PLACEHOLDERS, QuestionError
from kws.written.questions import read_questions

PROMPT = "**Question.** Why does the Conformer need a normalization before its classifier?"
ANSWER = (
    "The pooled features that reach the classifier have no fixed scale, so the logits saturate "
    "and the gradients are badly scaled; a BatchNorm1d keeps them in one range."
)
RUBRIC = """**Rubric** (3 points)
- (2) scale: names the unbounded scale of the pooled features reaching the classifier
- (1) fix: says that the normalization puts every feature back in one range
- (-1) vague: says only that normalization helps, without saying what it changes"""


def _cell(kind, source, *tags, **metadata):
    make = new_markdown_cell if kind == "markdown" else new_code_cell
    return make(source, metadata={"tags": list(tags), **metadata} if tags else metadata)


def kit_notebook(*extra):
    """A solution notebook with one kit question (norm) between two ordinary cells."""
    return new_notebook(
        cells=[
            _cell("markdown", "# Task 2"),
            _cell("code", "x = 1"),
            _cell("markdown", PROMPT, "question:norm"),
            _cell("markdown", ANSWER, "answer:norm"),
            _cell("markdown", RUBRIC, "rubric:norm"),
            _cell("markdown", "## Task 3"),
            *extra,
        ]
    )


def test_a_kit_question_is_read_with_its_points_rubric_and_model_answer():
    (question,) = read_questions(kit_notebook(), name="sol.ipynb")
    assert (question.id, question.kind, question.points, question.origin) == (
        "norm", "markdown", 3.0, "kit")  # fmt: skip
    assert question.prompt == PROMPT and question.model_answer == ANSWER
    assert [(i.id, i.points) for i in question.rubric] == [("scale", 2), ("fix", 1), ("vague", -1)]
    assert question.rubric[0].text.startswith("names the unbounded scale")
    assert (question.prompt_cell, question.answer_cell, question.removed_cells) == (2, 3, (4,))


def test_release_gives_the_prompt_and_an_empty_answer_cell_and_nothing_else():
    solution = kit_notebook()
    student = student_version(solution, name="sol.ipynb")
    assert [c.source for c in student.cells] == [
        "# Task 2", "x = 1", PROMPT, PLACEHOLDERS["markdown"], "## Task 3"]  # fmt: skip
    prompt = solution.cells[2]  # byte for byte, with the question's points for kws handin
    assert student.cells[2].source == prompt.source and student.cells[2].id == prompt.id
    assert student.cells[2].metadata == {**prompt.metadata, "written_points": 3.0}
    answer = student.cells[3]
    assert answer.id == solution.cells[3].id and answer.metadata.tags == ["answer:norm"]
    text = nbformat.writes(student)
    assert "scale" not in text and "Rubric" not in text and "BatchNorm1d" not in text


def test_a_task_has_no_answer_cell_and_a_code_answer_keeps_its_skeleton():
    skeleton = (
        "def plot():\n    # BEGIN SOLUTION: draw the curve\n    return 1\n    # END SOLUTION\n"
    )
    nb = kit_notebook(
        _cell("markdown", "Plot the learning rate of your run.", "task:plot"),
        _cell(
            "markdown", "**Rubric** (2 points)\n- (2) curve: a warm-up then a decay", "rubric:plot"
        ),
        _cell("markdown", "Write the helper.", "question:helper"),
        _cell("code", skeleton, "answer:helper"),
        _cell(
            "markdown", "**Rubric** (1 point)\n- (1) works: it returns the curve", "rubric:helper"
        ),
    )
    questions = {q.id: q for q in read_questions(nb, name="sol.ipynb")}
    assert questions["plot"].kind == "task" and questions["plot"].answer_cell is None
    assert questions["helper"].kind == "code" and questions["helper"].model_answer == skeleton
    student = student_version(nb, name="sol.ipynb")
    helper = [c for c in student.cells if "answer:helper" in c.metadata.get("tags", [])]
    assert helper[0].source == (
        'def plot():\n    # TODO: draw the curve\n    raise NotImplementedError("TODO: draw the curve")\n'
    )
    tasks = [c for c in student.cells if "task:plot" in c.metadata.get("tags", [])]
    assert tasks[0].source == "Plot the learning rate of your run."


def _refusal(nb) -> str:
    with pytest.raises(QuestionError) as caught:
        student_version(nb, name="solutions/sol.ipynb")
    return str(caught.value)


def _with(index, cell):
    nb = kit_notebook()
    nb.cells[index] = cell
    return nb


@pytest.mark.parametrize(
    "nb, said",
    [
        (
            _with(4, _cell("markdown", "Graders: give points.")),  # no rubric, so no points
            r"cell 2: norm has no rubric and so no points; add a Markdown cell tagged rubric:norm",
        ),
        (
            _with(4, _cell("markdown", "**Rubric**\n- (3) all: right", "rubric:norm")),
            r"cell 4: the rubric does not say its points; write its first line '\*\*Rubric\*\* \(N",
        ),
        (
            _with(
                4, _cell("markdown", "**Rubric** (3 points)\n- (2) a: x\n- (2) b: y", "rubric:norm")
            ),
            r"cell 4: the items that give points add up to 4, the question is worth 3; make them",
        ),
        (
            _with(
                4,
                _cell("markdown", "**Rubric** (3 points)\n- (3) a: x\n- (-1) a: y", "rubric:norm"),
            ),
            r"cell 4: the item id 'a' is used twice",
        ),
        (
            _with(
                4, _cell("markdown", "**Rubric** (3 points)\n- (3) a: x\nmore prose", "rubric:norm")
            ),
            r"cell 4, line 3: 'more prose' is not a rubric item",
        ),
        (
            _with(3, _cell("markdown", "A moved answer.")),
            r"cell 2: question:norm has no answer cell; add a cell tagged answer:norm after it",
        ),
        (
            _with(3, _cell("markdown", "   ", "answer:norm")),
            r"cell 3: the answer cell of norm is empty; write the model answer there",
        ),
        (
            _with(5, _cell("markdown", "Another prompt.", "question:norm")),
            r"cell 5: question:norm is also on cell 2; a question has one cell of each role",
        ),
        (
            _with(5, _cell("markdown", "x", "question:two", "answer:two")),
            r"cell 5: one cell has several roles \(question:two, answer:two\)",
        ),
        (
            _with(5, _cell("markdown", "x", "question:no way")),
            r"cell 5: question:no way is not a question id",
        ),
        (
            _with(2, _cell("code", "print(1)", "question:norm")),
            r"cell 2: the prompt question:norm is a code cell; make it Markdown",
        ),
        (
            _with(
                5, _cell("markdown", f"Hint: {ANSWER}")
            ),  # the model answer where students see it
            r"cell 5: holds the model answer of norm \('the pooled features that reach the ",
        ),
        (
            _with(
                1, _cell("code", "x = 1", note=RUBRIC.splitlines()[1][8:])
            ),  # in a cell's metadata
            r"cell 1: holds the rubric item scale of norm",
        ),
        (
            _with(5, _cell("markdown", "x", "rubric:other")),
            r"cell 5: the rubric rubric:other belongs to no question",
        ),
    ],
)
def test_a_bad_question_is_refused_naming_the_notebook_cell_and_fix(nb, said):
    message = _refusal(nb)
    assert message.startswith("solutions/sol.ipynb, cell ") and re.search(said, message), message


def test_kws_release_refuses_a_leak_from_another_folder(tmp_path):
    """`kws release notebooks` typed in the course folder: the model answer pasted
    into the prompt stops the release naming the file as typed; nothing is written."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    nb = _with(2, _cell("markdown", f"{PROMPT}\n\n{ANSWER}", "question:norm"))
    nbformat.write(nb, str(course / "solutions" / "hw.ipynb"))
    done = subprocess.run(
        [sys.executable, "-m", "kws.cli", "release", "notebooks", "assignments",
         "--solutions", "solutions"],
        cwd=course, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "kws release: solutions/hw.ipynb, cell 2: holds the model answer of norm"
    )
    assert "keep the model answer in the cell tagged answer:norm" in done.stderr
    assert not (course / "assignments").exists()


def _nbgrader(source, kind="markdown", **meta):
    data = {"grade": False, "solution": False, "locked": False, "schema_version": 3, **meta}
    return _cell(kind, source, nbgrader=data)


def nbgrader_notebook(points=2):
    return new_notebook(
        cells=[
            _cell("markdown", "Why normalize?"),
            _nbgrader(ANSWER, grade=True, solution=True, points=points, grade_id="why-norm"),
            _cell("markdown", "Write a function that counts parameters."),
            _nbgrader(
                "def count(m):\n    return 7",
                "code",
                grade=True,
                solution=True,
                points=1,
                grade_id="count",
            ),
            _nbgrader(
                "Plot the loss of your run.",
                grade=False,
                task=True,
                points=3,
                grade_id="plot",
                locked=True,
            ),
            _nbgrader("assert 1", "code", grade=True, points=1, grade_id="tests", locked=True),
        ]
    )


def test_nbgrader_manually_graded_cells_are_questions_with_their_points():
    questions = {q.id: q for q in read_questions(nbgrader_notebook(), name="nb.ipynb")}
    assert sorted(questions) == ["count", "plot", "why-norm"]  # not the autograder's test cell
    why = questions["why-norm"]
    assert (why.kind, why.points, why.origin, why.rubric) == ("markdown", 2.0, "nbgrader", ())
    assert why.prompt == "Why normalize?" and why.model_answer == ANSWER
    assert questions["count"].kind == "code" and questions["plot"].kind == "task"
    student = student_version(nbgrader_notebook(), name="nb.ipynb")
    assert ANSWER not in nbformat.writes(student) and "return 7" not in nbformat.writes(student)
    answer = student.cells[1]
    assert answer.source == PLACEHOLDERS["markdown"]
    assert answer.metadata.nbgrader["grade_id"] == "why-norm"  # nbgrader's metadata kept
    assert student.cells[3].source == PLACEHOLDERS["code"]
    assert student.cells[0].metadata.tags == ["question:why-norm"]


def test_an_nbgrader_question_may_take_a_kit_rubric_with_the_same_points():
    nb = nbgrader_notebook()
    nb.cells.insert(2, _cell("markdown", "**Rubric** (2 points)\n- (2) all: it", "rubric:why-norm"))
    (why,) = [q for q in read_questions(nb, name="nb.ipynb") if q.id == "why-norm"]
    assert [i.id for i in why.rubric] == ["all"]
    nb.cells[2].source = "**Rubric** (3 points)\n- (3) all: it"
    with pytest.raises(QuestionError, match=r"cell 2: the rubric of why-norm gives 3 points, its "
                                            r"nbgrader metadata 2; make them the same"):  # fmt: skip
        read_questions(nb, name="nb.ipynb")


def test_an_nbgrader_question_without_points_is_refused():
    with pytest.raises(QuestionError, match=r"nb.ipynb, cell 1: nbgrader question why-norm has "
                                            r"no points \(None\); set points above 0"):  # fmt: skip
        read_questions(nbgrader_notebook(points=None), name="nb.ipynb")


def otter_notebook(config="name: q1\nmanual: true\npoints: 4", prompt_block=True):
    cells = [
        new_raw_cell("# ASSIGNMENT CONFIG\ninit_cell: false"),
        new_raw_cell(f"# BEGIN QUESTION\n{config}"),
        _cell("markdown", "**Question 1.** Why normalize before the classifier?"),
    ]
    if prompt_block:
        cells += [new_raw_cell("# BEGIN PROMPT"), _cell("markdown", "_Type your answer here._"),
                  new_raw_cell("# END PROMPT")]  # fmt: skip
    cells += [
        new_raw_cell("# BEGIN SOLUTION"),
        _cell("markdown", f"**SOLUTION:** {ANSWER}"),
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# END QUESTION"),
        _cell("markdown", "## Next part"),
    ]
    return new_notebook(cells=cells)


@pytest.mark.parametrize("prompt_block", [True, False])
def test_an_otter_manual_question_is_read_and_released_without_its_solution(prompt_block):
    nb = otter_notebook(prompt_block=prompt_block)
    (question,) = read_questions(nb, name="otter.ipynb")
    assert (question.id, question.kind, question.points, question.origin) == (
        "q1", "markdown", 4.0, "otter")  # fmt: skip
    assert question.model_answer == f"**SOLUTION:** {ANSWER}"
    student = student_version(nb, name="otter.ipynb")
    sources = [c.source for c in student.cells]
    answer = "_Type your answer here._" if prompt_block else PLACEHOLDERS["markdown"]
    assert sources == ["**Question 1.** Why normalize before the classifier?", answer,
                       "## Next part"]  # fmt: skip
    assert student.cells[0].metadata.tags == ["question:q1"]
    assert student.cells[1].metadata.tags == ["answer:q1"]
    assert all(c.cell_type != "raw" for c in student.cells)  # no boundary, no config


@pytest.mark.parametrize(
    "config, said",
    [
        ("name: q1\npoints: 4", r"cell 1: otter question q1 is autograded \(no manual: true\)"),
        ("name: q1\nmanual: true", r"cell 1: otter question q1 has no points \(None\); add "),
        ("manual: true\npoints: 2", r"cell 1: the otter question's name is None; write name: ID"),
        ("name: q1\nmanual: true\npoints:\n  - 1", r"cell 1, line 4: 'points:' is not read"),
    ],
)
def test_a_bad_otter_question_is_refused(config, said):
    with pytest.raises(QuestionError, match=r"^otter.ipynb, " + said):
        read_questions(otter_notebook(config), name="otter.ipynb")


def test_an_otter_question_never_ended_is_refused():
    nb = otter_notebook()
    del nb.cells[-2]
    with pytest.raises(QuestionError, match=r"cell 1: BEGIN QUESTION is never ended"):
        read_questions(nb, name="otter.ipynb")


# The kit's own notebooks: one question each, from the course.
COURSE = {
    "01_keyword_spotting.ipynb": "token-budget",
    "02_speaker_id.ipynb": "norm-classifier",
    "03_patch_transformer.ipynb": "patchout-test-time",
}


@pytest.mark.parametrize("notebook", sorted(COURSE))
def test_the_kits_notebooks_ask_a_question_whose_rubric_and_answer_students_never_get(notebook):
    """The released notebook in assignments/ (as committed) holds the prompt and an empty
    answer cell; grepped as a file, no rubric line and no line of the model answer is in it,
    nor in any cell's or the notebook's metadata."""
    (question,) = read_questions(read_notebook(ROOT / "solutions" / notebook), name=notebook)
    assert question.id == COURSE[notebook] and question.points == 3
    assert len(question.rubric) >= 3 and len(question.model_answer) > 400
    released = (ROOT / "assignments" / notebook).read_text(encoding="utf-8")
    secrets = [line for line in question.model_answer.splitlines() if len(line) > 20]
    secrets += [item.text for item in question.rubric] + ["Rubric", f"rubric:{question.id}"]
    for secret in secrets:
        assert json.dumps(secret)[1:-1] not in released, secret
    document = json.loads(released)
    strings = json.dumps([[c["metadata"] for c in document["cells"]], document["metadata"]])
    assert not any(secret in strings for secret in secrets)
    (prompt,) = [c for c in document["cells"] if f"question:{question.id}" in
                 c["metadata"].get("tags", [])]  # fmt: skip
    assert "".join(prompt["source"]) == question.prompt
    (answer,) = [c for c in document["cells"] if f"answer:{question.id}" in
                 c["metadata"].get("tags", [])]  # fmt: skip
    assert "".join(answer["source"]) == PLACEHOLDERS["markdown"]
